"""peerwork.proto.mime_scan and imap_message: structure, ENVELOPE, sections; hostile messages."""

from __future__ import annotations

import email
import email.policy
import io
from email.message import EmailMessage

from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.imap_items import Section, SectionText
from peerwork.proto.imap_message import bodystructure, envelope, locate
from peerwork.proto.imap_syntax import render
from peerwork.proto.mime_scan import MAX_DEPTH, MAX_HEADER, MAX_HEADERS, MimePart, scan


def sample(attachment: bytes = b"\x00\x01" * 600) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Alice Liddell <alice@office.lan>"
    msg["To"] = 'bob@office.lan, "C D" <cd@example.com>'
    msg["Subject"] = "report"
    msg["Message-ID"] = "<1@office.lan>"
    msg.set_content("hello\nworld\n")
    msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="r.pdf")
    return msg.as_bytes()


def scan_bytes(raw: bytes) -> MimePart:
    return scan(io.BytesIO(raw))


def test_structure_and_sections() -> None:
    raw = sample()
    root = scan_bytes(raw)
    assert (root.type, root.subtype, len(root.children)) == ("multipart", "mixed", 2)
    text, pdf = root.children
    assert raw[text.body_start : text.end] == b"hello\r\nworld\r\n" and text.lines == 2
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    attached = next(iter(parsed.iter_attachments()))
    assert attached.get_content() == b"\x00\x01" * 600
    assert raw[pdf.body_start : pdf.end] == attached.get_payload().encode()
    structure = bodystructure(root)
    assert structure.startswith(b'(("TEXT" "PLAIN" ("charset" "utf-8") NIL NIL "7BIT" 14 2 ')
    assert b'"MIXED" ("boundary" ' in structure
    assert b'("ATTACHMENT" ("filename" "r.pdf"))' in structure
    alice = b'(("Alice Liddell" NIL "alice" "office.lan"))'
    assert render(envelope(root.header)) == (
        b'(NIL "report" ' + b" ".join([alice] * 3) + b" "
        b'((NIL NIL "bob" "office.lan") ("C D" NIL "cd" "example.com")) '
        b'NIL NIL NIL "<1@office.lan>")'
    )
    fields = locate(root, Section((), SectionText.HEADER_FIELDS, ("SUBJECT",)), len(raw))
    assert fields is not None and fields.data == b"Subject: report\r\n\r\n"
    mime = locate(root, Section((2,), SectionText.MIME), len(raw))
    assert mime is not None and raw[mime.start : mime.end].startswith(
        b"Content-Type: application/pdf"
    )
    assert locate(root, Section((3,)), len(raw)) is None
    assert locate(root, Section((1,), SectionText.HEADER), len(raw)) is None


def test_message_rfc822_inside() -> None:
    inner = sample(b"x" * 10)
    outer = EmailMessage(policy=email.policy.SMTP)
    outer["Subject"] = "fwd"
    outer.set_content("see attached\n")
    outer.add_attachment(email.message_from_bytes(inner, policy=email.policy.SMTP))
    raw = outer.as_bytes()
    root = scan_bytes(raw)
    forwarded = root.children[1]
    assert forwarded.is_message and forwarded.message is not None
    header = locate(root, Section((2,), SectionText.HEADER), len(raw))
    assert header is not None and b"Subject: report" in raw[header.start : header.end]
    part = locate(root, Section((2, 1)), len(raw))
    assert part is not None and raw[part.start : part.end] == b"hello\r\nworld\r\n"
    assert b'"MESSAGE" "RFC822"' in bodystructure(root)


def test_deep_nesting_is_bounded() -> None:
    depth = MAX_DEPTH * 5
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    root = scan_bytes(head + b"\r\nbody\r\n")
    level, node = 0, root
    while node.children:
        node, level = node.children[0], level + 1
    assert level <= MAX_DEPTH
    bodystructure(root)


def test_header_bytes_kept_are_bounded() -> None:
    big = b"X-Filler: " + b"y" * 60_000 + b"\r\n"
    parts = b"".join(b"--b\r\n" + big + b"\r\nbody\r\n" for _ in range(100))
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    root = scan_bytes(raw)
    assert len(root.children) == 100
    kept = sum(len(c.header) for c in root.children)
    assert kept <= MAX_HEADERS + MAX_HEADER
    assert all(raw[c.body_start : c.end] == b"body" for c in root.children)


def check_bounds(part: MimePart, size: int) -> None:
    assert 0 <= part.header_start <= part.body_start <= part.end <= size
    for child in part.children:
        check_bounds(child, size)
    if part.message is not None:
        check_bounds(part.message, size)


@given(st.binary(max_size=2000))
def test_any_bytes_scan(raw: bytes) -> None:
    root = scan_bytes(raw)
    check_bounds(root, len(raw))
    bodystructure(root)
    render(envelope(root.header))


@given(st.lists(st.tuples(st.integers(0, 1600), st.binary(min_size=1, max_size=8)), max_size=8))
def test_mutated_messages_scan(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(sample(b"z" * 300))
    for at, chunk in edits:
        data[at : at + len(chunk)] = chunk
    raw = bytes(data)
    root = scan_bytes(raw)
    check_bounds(root, len(raw))
    bodystructure(root)
    for part in ((), (1,), (2,), (2, 1)):
        for text in SectionText:
            fields = ("SUBJECT",) if "FIELDS" in text.name else ()
            if text is SectionText.MIME and not part:
                continue
            span = locate(root, Section(part, text, fields), len(raw))
            if span is not None and span.data is None:
                assert 0 <= span.start <= span.end <= len(raw)
