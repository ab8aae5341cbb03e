"""The IPP operations hook (agents/printers/operations.py) against hostile requests.

Every request ipptool sent (tests/data/ipp), mutated by hypothesis, goes to
``PrinterOperations.handle`` in-process: each one that parses gets a
well-formed answer with its request id and a known status, and nothing is
left half-written in the spool.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.agents.printers.operations import Client, Document, PrinterOperations
from peerwork.agents.printers.queue import JobBook
from peerwork.agents.printers.spool import Spool
from peerwork.config.printers import PRINTERS
from peerwork.proto.ipp import IppError, Message, attr, parse_head
from peerwork.proto.ipp_constants import GroupTag, Op, Status, Tag
from tests.helpers.ipp import TINY_PDF, operation

CAPTURES = sorted((Path(__file__).parent.parent / "data" / "ipp").glob("req*.bin"))
URI = "ipp://127.0.0.1:8631/ipp/print/office"
KNOWN = {int(s) for s in Status}


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


def answer_to(raw: bytes, folder: Path) -> tuple[Message, Message] | None:
    try:
        request, offset = parse_head(raw)
    except IppError:
        return None  # the server answers these from the header alone (server.error_reply)

    async def run() -> Message:
        section = PRINTERS.read(
            {"printer": [{"name": "office", "backend": f"file:{folder / 'out'}"}]}
        )
        book = JobBook(Spool(folder / "spool"), section)
        book.load()
        ops = PrinterOperations(book, "peer", lambda _: None)
        document = Document(raw[offset:], _nothing())
        return await ops.handle(request, document, Client("10.0.0.9", "ipp://127.0.0.1:8631"))

    return request, asyncio.run(run())


def check(request: Message, reply: Message, folder: Path) -> None:
    again = Message.parse(reply.pack())
    assert again.request_id == request.request_id and again.code in KNOWN
    op = again.groups[0]
    assert op.tag == GroupTag.OPERATION
    assert [a.name for a in op.attributes[:2]] == [
        "attributes-charset",
        "attributes-natural-language",
    ]
    assert not list((folder / "spool").glob("*.part"))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CAPTURES), st.data())
def test_mutated_requests_get_a_well_formed_answer(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(0, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as tmp:
        result = answer_to(bytes(raw), Path(tmp))
        if result is not None:
            check(*result, Path(tmp))


def test_every_capture_is_answered() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for path in CAPTURES:
            result = answer_to(path.read_bytes(), Path(tmp))
            assert result is not None
            check(*result, Path(tmp))


def test_print_job_in_process_is_spooled_before_the_answer() -> None:
    raw = operation(
        Op.PRINT_JOB, URI, attr("document-format", Tag.MIME_TYPE, "application/pdf"), data=TINY_PDF
    ).pack()
    with tempfile.TemporaryDirectory() as tmp:
        result = answer_to(raw, Path(tmp))
        assert result is not None
        _, reply = result
        assert reply.code == Status.OK
        job = reply.group(GroupTag.JOB)
        assert job is not None and job.get("job-id") is not None
        assert (Path(tmp) / "spool" / "1.json").exists()
        assert (Path(tmp) / "spool" / "1.doc").read_bytes() == TINY_PDF
