"""peerwork.client.mail_compose and mail_message: messages written as streams, read from files."""

from __future__ import annotations

import base64
import email
import email.policy
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.client.mail_compose import Composition, Draft, base64_size, base64_stream
from peerwork.client.mail_message import read_message, safe_name, save_attachment


@given(st.binary(max_size=5000))
def test_base64_stream_and_size(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "data"
        path.write_bytes(data)
        encoded = b"".join(base64_stream(path))
    assert len(encoded) == base64_size(len(data))
    assert base64.b64decode(encoded.replace(b"\r\n", b"")) == data
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))


def test_composition_round_trip(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(bytes(range(256)) * 1000)
    notes = tmp_path / "ünïcode notes.txt"
    notes.write_text("a\nb\n")
    draft = Draft(
        "alice@office.lan",
        ("bob@office.lan",),
        "Grüße",
        ".dot line\nend",
        cc=("carol@office.lan",),
        attachments=(pdf, notes),
    )
    composed = Composition(draft, "office.lan")
    raw = b"".join(composed)
    assert len(raw) == composed.size
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF lines only, as SMTP wants
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Grüße" and msg["Cc"] == "carol@office.lan"
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == ["report.pdf", "ünïcode notes.txt"]
    assert parts[0].get_content() == pdf.read_bytes()
    body = msg.get_body()
    assert body is not None and ".dot line" in body.get_content()
    # What the CLI reads back from such a file.
    path = tmp_path / "m.eml"
    path.write_bytes(raw)
    reading = read_message(path)
    assert reading.text == ".dot line\nend\n"
    assert [a.filename for a in reading.attachments] == ["report.pdf", "ünïcode notes.txt"]
    saved = save_attachment(path, reading.attachments[0], tmp_path / "out")
    assert saved.read_bytes() == pdf.read_bytes()


@given(st.text(max_size=60))
def test_safe_names_are_plain(name: str) -> None:
    safe = safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert safe.isprintable() and len(safe) <= 200


SAMPLE = (
    b"From: a@x\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b'--b\r\nContent-Type: application/pdf; name="../x.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
    b"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=q.txt\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc\r\n--b--\r\n"
)


def test_sample_parts(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(SAMPLE)
    reading = read_message(path)
    assert reading.text == "hello"
    names = [save_attachment(path, a, tmp_path / "out").name for a in reading.attachments]
    assert names == ["x.pdf", "q.txt"]
    assert (tmp_path / "out" / "x.pdf").read_bytes() == b"%PDF-"
    assert (tmp_path / "out" / "q.txt").read_bytes() == b"a=bc"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(SAMPLE)), st.binary(min_size=1, max_size=6)), max_size=6)
)
def test_mutated_messages_read_and_save_inside_the_folder(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(SAMPLE)
    for at, chunk in edits:
        data[at : at + len(chunk)] = chunk
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = folder / "m.eml"
        path.write_bytes(bytes(data))
        reading = read_message(path)
        out = folder / "out"
        for attachment in reading.attachments:
            saved = save_attachment(path, attachment, out)
            assert saved.parent == out
