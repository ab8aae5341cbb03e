"""What IMAP says about a message: ENVELOPE, BODYSTRUCTURE, and where a ``BODY[section]`` is.

Sans-IO, from the :class:`~peerwork.proto.mime_scan.MimePart` tree: answers
are :data:`~peerwork.proto.imap_syntax.RenderValue` trees for
:func:`~peerwork.proto.imap_syntax.render`; sections are byte ranges of the
stored file (or, for HEADER.FIELDS, the filtered header bytes themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from .imap_items import Section, SectionText
from .imap_syntax import RenderValue, render
from .mime_scan import MimePart

MAX_ADDRESSES = 200


def _header_fields(header: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(header)


def _text(fields: Message, name: str) -> str | None:
    value = fields.get(name)
    return None if value is None else " ".join(str(value).split())


def _addresses(fields: Message, name: str) -> RenderValue:
    values = fields.get_all(name)
    if not values:
        return None
    try:
        pairs = getaddresses([str(v) for v in values])[:MAX_ADDRESSES]
    except (ValueError, TypeError, IndexError):
        return None
    out: list[RenderValue] = []
    for display, address in pairs:
        if not address and not display:
            continue
        mailbox, _, host = address.partition("@")
        out.append([display or None, None, mailbox or None, host or None])
    return out or None


def envelope(header: bytes) -> RenderValue:
    """ENVELOPE (RFC 3501 7.4.2): raw header values, sender/reply-to defaulting to from."""
    fields = _header_fields(header)
    sender = _addresses(fields, "from")
    return [
        _text(fields, "date"),
        _text(fields, "subject"),
        sender,
        _addresses(fields, "sender") or sender,
        _addresses(fields, "reply-to") or sender,
        _addresses(fields, "to"),
        _addresses(fields, "cc"),
        _addresses(fields, "bcc"),
        _text(fields, "in-reply-to"),
        _text(fields, "message-id"),
    ]


def _param_list(params: tuple[tuple[str, str], ...]) -> RenderValue:
    return [v for pair in params for v in pair] or None


def bodystructure(part: MimePart, extended: bool = True) -> bytes:
    """BODYSTRUCTURE (``extended``) or BODY (RFC 3501 7.4.2), rendered."""
    disposition: RenderValue = None
    if part.disposition is not None:
        disposition = [part.disposition[0].upper(), _param_list(part.disposition[1])]
    tail: list[RenderValue] = []
    if part.is_multipart:
        children = b"".join(bodystructure(c, extended) for c in part.children)
        if extended:
            tail = [_param_list(part.params), disposition, None, None]
        rest = b" ".join(render(v) for v in [part.subtype.upper(), *tail])
        return b"(" + children + b" " + rest + b")"
    fields: list[RenderValue] = [
        part.type.upper(),
        part.subtype.upper(),
        _param_list(part.params),
        part.id,
        part.description,
        part.encoding,
        part.size,
    ]
    pieces = [render(v) for v in fields]
    if part.is_message:
        assert part.message is not None
        pieces += [
            render(envelope(part.message.header)),
            bodystructure(part.message, extended),
            render(part.lines),
        ]
    elif part.type == "text":
        pieces.append(render(part.lines))
    if extended:
        pieces += [render(v) for v in (None, disposition, None, None)]
    return b"(" + b" ".join(pieces) + b")"


@dataclass(frozen=True, slots=True)
class Span:
    """``BODY[section]`` as bytes ``[start, end)`` of the file, or ``data`` when filtered."""

    start: int = 0
    end: int = 0
    data: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.end - self.start


def locate(root: MimePart, section: Section, file_size: int) -> Span | None:
    """Where ``section`` is, or None if the message has no such part."""
    node = root
    for number in section.part:
        if node is not root and node.is_message:
            assert node.message is not None
            node = node.message
        if node.is_multipart:
            if number > len(node.children):
                return None
            node = node.children[number - 1]
        elif number != 1:
            return None
    text = section.text
    if not section.part:
        if text is SectionText.ALL:
            return Span(0, file_size)
    elif text is SectionText.ALL:
        return Span(node.body_start, node.end)
    elif text is SectionText.MIME:
        return Span(node.header_start, node.body_start)
    elif node.is_message:
        assert node.message is not None
        node = node.message
    else:
        return None
    if text is SectionText.TEXT:
        return Span(node.body_start, node.end)
    if text is SectionText.HEADER:
        return Span(node.header_start, node.body_start)
    return Span(data=filter_header(node.header, section.fields, text is SectionText.HEADER_FIELDS))


def filter_header(header: bytes, names: tuple[str, ...], keep: bool) -> bytes:
    """The header fields named (``keep``) or all but those, then the blank line."""
    wanted = {n.lower().encode() for n in names}
    out = []
    take = False
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if take:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        take = (name in wanted) == keep
        if take:
            out.append(line)
    return b"".join(out) + b"\r\n"
