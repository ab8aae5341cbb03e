"""The receiving end of mail hand-offs over a real channel (TLS, frames) on loopback:
idempotent delivery, and hostile or broken hand-offs that store nothing.

The server is a ChannelServer serving a HandoffReceiver over real Maildirs in a
temp folder; the caller is a ChannelClient with its own peer key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from peerwork.accounts import AccountStore
from peerwork.agents.channel.client import ChannelClient, ChannelConnection
from peerwork.agents.channel.errors import ChannelError, ChannelRefused
from peerwork.agents.channel.handlers import HandlerRegistry
from peerwork.agents.channel.server import ChannelServer
from peerwork.agents.mail.handoff import HandoffReceiver, hand_off
from peerwork.agents.mail.home_book import HomeBook
from peerwork.agents.mail.homes import Claim
from peerwork.agents.mail.maildir import mailbox_of
from peerwork.identity import Identity
from peerwork.proto.channel import ErrorCode
from peerwork.proto.mail_handoff import (
    MAIL_DELIVER,
    MAIL_HOMES,
    NOT_HOME,
    DeliverRequest,
    HomesRequest,
)

HOME = Identity.generate("pc2")
SENDER = Identity.generate("pc1")
ID = "1800000000.0123456789abcdef"
MESSAGE = b"From: alice@office.lan\r\nSubject: hi\r\n\r\n" + b"x" * 300_000 + b"\r\n"


class PC2:
    def __init__(self, root: Path) -> None:
        accounts = AccountStore(root / "accounts.toml")
        for name in ("bob", "carol", "dave"):
            accounts.add(name, "pw")
        self.mail_root = root / "mail"
        book = HomeBook(
            self.mail_root / "homes.json", Claim(HOME.peer_id, "PC2", frozenset({"bob", "carol"}))
        )
        book.learn("zzz", "PC3", 1, ["dave"])  # dave's home is another PC
        self.receiver = HandoffReceiver(self.mail_root, book, accounts, max_size=10_000_000)
        self.receiver.prepare()
        handlers = HandlerRegistry()
        self.receiver.register(handlers)
        self.server = ChannelServer(
            identity=HOME, handlers=handlers, policy=lambda p: p == SENDER.peer_id,
            host="127.0.0.1", port=0,
        )  # fmt: skip

    async def connect(self) -> ChannelConnection:
        client = ChannelClient(SENDER, connect_timeout=5)
        return await client.connect(HOME.peer_id, "127.0.0.1", self.server.port)

    def mailbox(self, account: str) -> list[bytes]:
        return [m.path.read_bytes() for m in mailbox_of(self.mail_root, account).messages()]

    def leftovers(self) -> list[Path]:
        return list((self.mail_root / "handoff").glob("*.part"))


@pytest.fixture
async def pc2(tmp_path: Path) -> AsyncIterator[PC2]:
    pc = PC2(tmp_path)
    await pc.server.start()
    try:
        yield pc
    finally:
        await pc.server.stop()


def _message_file(tmp_path: Path, data: bytes = MESSAGE) -> Path:
    path = tmp_path / "queued"
    path.write_bytes(data)
    return path


async def _until(check: Callable[[], bool], seconds: float = 10) -> None:
    """Poll a file-system condition (nothing to wait on but the disk)."""
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_hand_off_is_idempotent_even_after_the_copy_was_deleted(
    pc2: PC2, tmp_path: Path
) -> None:
    data = _message_file(tmp_path)
    async with await pc2.connect() as conn:
        assert (await conn.call(MAIL_HOMES, HomesRequest())).mailboxes == ("bob", "carol")
        assert await hand_off(conn, ID, "alice@office.lan", ("bob", "carol"), data) == (
            "bob",
            "carol",
        )
    assert pc2.mailbox("bob") == [MESSAGE] and pc2.mailbox("carol") == [MESSAGE]
    # bob fetched and deleted it (POP3 DELE); a repeated hand-off adds nothing back.
    mailbox_of(pc2.mail_root, "bob").remove(mailbox_of(pc2.mail_root, "bob").messages()[0])
    async with await pc2.connect() as conn:
        assert await hand_off(conn, ID, "alice@office.lan", ("bob",), data) == ("bob",)
        # Even a mail.deliver straight away (a sender that skipped mail.has) stores nothing.
        request = DeliverRequest(ID, "alice@office.lan", ("bob", "carol"), len(MESSAGE))
        reply = await conn.call(MAIL_DELIVER, request, upload=_chunks(MESSAGE))
        assert reply.delivered == ("bob", "carol")
    assert pc2.mailbox("bob") == [] and pc2.mailbox("carol") == [MESSAGE]
    assert pc2.receiver.received == 1 and pc2.leftovers() == []


@pytest.mark.parametrize(
    ("recipients", "size", "parts", "code"),
    [
        (("bob",), len(MESSAGE), (MESSAGE, b"more"), ErrorCode.BAD_BODY),  # more than announced
        (("bob",), len(MESSAGE), (MESSAGE[:-10],), ErrorCode.BAD_BODY),  # fewer
        (("bob", "dave"), len(MESSAGE), (MESSAGE,), NOT_HOME),  # dave lives on PC3
        (("bob", "nobody"), len(MESSAGE), (MESSAGE,), NOT_HOME),  # no such account here
        (("bob",), 20_000_000, (MESSAGE,), ErrorCode.TOO_LARGE),  # over PC2's max_size
    ],
)
async def test_a_bad_hand_off_stores_nothing(
    pc2: PC2, recipients: tuple[str, ...], size: int, parts: tuple[bytes, ...], code: int
) -> None:
    async with await pc2.connect() as conn:
        with pytest.raises(ChannelRefused) as refused:
            await conn.call(
                MAIL_DELIVER, DeliverRequest(ID, "a@b", recipients, size), upload=_chunks(*parts)
            )
    assert refused.value.error == code, refused.value
    assert pc2.mailbox("bob") == [] and pc2.leftovers() == []
    assert not (pc2.mail_root / "handoff" / "done" / ID).exists()


async def test_a_hand_off_cut_mid_stream_stores_nothing(pc2: PC2) -> None:
    gate = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield MESSAGE[:100_000]
        gate.set()
        await asyncio.sleep(30)
        yield MESSAGE[100_000:]

    conn = await pc2.connect()
    request = DeliverRequest(ID, "a@b", ("bob",), len(MESSAGE))
    call = asyncio.create_task(conn.call(MAIL_DELIVER, request, upload=stalled()))
    await gate.wait()
    await _until(lambda: bool(pc2.leftovers()))
    await conn.close()  # the sender's PC dies mid-hand-off
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError, ChannelError):
        await call
    await _until(lambda: not pc2.leftovers())
    assert pc2.mailbox("bob") == []


@pytest.mark.parametrize(
    "body",
    [
        {"id": "../../etc/passwd", "sender": "", "recipients": ["bob"], "size": 1},
        {"id": ID, "sender": "", "recipients": ["../bob"], "size": 1},
        {"id": ID, "sender": "", "recipients": ["bob"], "size": -1},
    ],
)
async def test_hostile_fields_are_refused_before_the_handler(
    pc2: PC2, body: dict[str, Any]
) -> None:
    class Raw:
        def to_body(self) -> dict[str, Any]:
            return body

    async with await pc2.connect() as conn:
        with pytest.raises(ChannelRefused) as refused:
            await conn.call(MAIL_DELIVER, Raw(), upload=_chunks(b"x"))  # type: ignore[arg-type]
    assert refused.value.error == ErrorCode.BAD_BODY
    assert not list(pc2.mail_root.rglob("passwd")) and pc2.mailbox("bob") == []


async def test_a_home_pc_that_cannot_store_refuses_and_keeps_nothing(
    pc2: PC2, tmp_path: Path
) -> None:
    # bob's Maildir cannot be made (a file in its way), as with a full or broken disk.
    (pc2.mail_root / "bob").write_text("in the way")
    data = _message_file(tmp_path)
    async with await pc2.connect() as conn:
        with pytest.raises(ChannelRefused) as refused:
            await hand_off(conn, ID, "alice@office.lan", ("bob",), data)
    assert refused.value.error == ErrorCode.REFUSED and "cannot store" in refused.value.detail
    assert pc2.leftovers() == [] and not (pc2.mail_root / "handoff" / "done" / ID).exists()
