"""The MIME structure of a stored message, found in one pass over its lines.

Sans-IO: :func:`scan` takes the message as an iterable of byte pieces (lines,
or parts of an overlong line) and returns a tree of :class:`MimePart` with the
byte offsets of every part's header and body, so an IMAP server can answer
BODYSTRUCTURE and ``BODY[1.2]`` by seeking in the file instead of loading it
(a 200 MB attachment is never held in memory). Hostile structure is bounded:
nesting depth, number of parts and the header bytes kept per part; beyond
those limits the rest is treated as opaque body.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

MAX_DEPTH = 20
MAX_PARTS = 1000
MAX_HEADER = 64 * 1024  # header bytes kept per part (what ENVELOPE and parameters see)
MAX_HEADERS = 1024 * 1024  # header bytes kept for all the parts of one message


@dataclass(frozen=True, slots=True)
class MimePart:
    """One body part; ``children`` for multipart, ``message`` for message/rfc822.

    Offsets are into the whole message: the part's header is
    ``[header_start, body_start)``, its body ``[body_start, end)`` (the CRLF
    before a boundary belongs to the boundary, RFC 2046 5.1.1)."""

    type: str
    subtype: str
    params: tuple[tuple[str, str], ...]
    id: str | None
    description: str | None
    encoding: str
    disposition: tuple[str, tuple[tuple[str, str], ...]] | None
    header_start: int
    body_start: int
    end: int
    lines: int
    header: bytes
    children: tuple[MimePart, ...] = ()
    message: MimePart | None = None

    @property
    def size(self) -> int:
        return self.end - self.body_start

    @property
    def is_multipart(self) -> bool:
        return self.type == "multipart" and bool(self.children)

    @property
    def is_message(self) -> bool:
        return self.type == "message" and self.subtype == "rfc822" and self.message is not None


@dataclass(frozen=True, slots=True)
class _Term:
    """A boundary line that ended a body: of which enclosing multipart, closing or not."""

    level: int
    closing: bool
    offset: int
    eol_before: int  # the line end before the boundary line (part of the boundary)
    newlines_before: int
    blank_before: bool  # the line before was empty: the body ends with a line end


class _Source:
    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._it: Iterator[bytes] = iter(pieces)
        self.offset = 0
        self.line_start = True
        self.eol = 0  # length of the line end of the last piece (0: none)
        self.blank = False  # the last piece was a line end alone
        self.newlines = 0
        self.parts = 0
        self.header_budget = MAX_HEADERS
        self.before = (0, False, 0)  # eol, blank, newlines before the last piece

    def read(self) -> tuple[int, bytes, bool] | None:
        piece = next(self._it, b"")
        if not piece:
            return None
        self.before = (self.eol, self.blank, self.newlines)
        self.blank = piece in (b"\r\n", b"\n")
        start, starts = self.offset, self.line_start
        self.offset += len(piece)
        self.line_start = piece.endswith(b"\n")
        if self.line_start:
            self.newlines += 1
            self.eol = 2 if piece.endswith(b"\r\n") else 1
        else:
            self.eol = 0
        return start, piece, starts

    def boundary(self, piece: bytes, boundaries: list[bytes], offset: int) -> _Term | None:
        if not piece.startswith(b"--") or not boundaries:
            return None
        line = piece.rstrip()
        eol, blank, newlines = self.before
        for level in range(len(boundaries) - 1, -1, -1):
            mark = boundaries[level]
            if line in (mark, mark + b"--"):
                return _Term(level, line != mark, offset, eol, newlines, blank)
        return None

    def skip(self, boundaries: list[bytes]) -> _Term | None:
        """Read on to the next line that is one of ``boundaries``.

        The hot loop of a large attachment (millions of lines): the state is kept
        in locals and only a line starting with ``--`` is looked at closely."""
        offset, line_start, newlines = self.offset, self.line_start, self.newlines
        eol, blank = self.eol, self.blank
        term = None
        for piece in self._it:
            if not piece:
                break
            before = (eol, blank, newlines)
            start, starts = offset, line_start
            offset += len(piece)
            line_start = piece[-1:] == b"\n"
            blank = piece == b"\r\n" or piece == b"\n"
            if line_start:
                newlines += 1
                eol = 2 if piece[-2:] == b"\r\n" else 1
            else:
                eol = 0
            if starts and piece[:2] == b"--" and boundaries:
                self.before = before
                term = self.boundary(piece, boundaries, start)
                if term is not None:
                    break
        self.offset, self.line_start, self.newlines = offset, line_start, newlines
        self.eol, self.blank = eol, blank
        return term


def scan(pieces: Iterable[bytes]) -> MimePart:
    """The structure of a whole message (``pieces`` concatenated are the message)."""
    source = _Source(pieces)
    part, _ = _part(source, [], 0, ("text", "plain"))
    return part


def _part(
    source: _Source, boundaries: list[bytes], depth: int, default: tuple[str, str]
) -> tuple[MimePart, _Term | None]:
    source.parts += 1
    header_start = source.offset
    header = bytearray()
    term = None
    while True:
        got = source.read()
        if got is None:
            break
        offset, piece, starts = got
        if starts and (term := source.boundary(piece, boundaries, offset)):
            break
        if starts and piece in (b"\r\n", b"\n"):
            break
        if len(header) < MAX_HEADER and source.header_budget > 0:
            header += piece
            source.header_budget -= len(piece)
    body_start = term.offset if term else source.offset
    fields = _fields(bytes(header))
    ctype, subtype, params = _content_type(fields, default)
    body_newlines = source.newlines
    children: list[MimePart] = []
    message = None
    deeper = depth < MAX_DEPTH and source.parts < MAX_PARTS
    if term is not None:
        pass  # a boundary inside the header: an empty part
    elif ctype == "multipart" and deeper and (mark := dict(params).get("boundary")):
        inner = [*boundaries, b"--" + mark.encode("latin-1", "replace")]
        level = len(boundaries)
        child_default = ("message", "rfc822") if subtype == "digest" else ("text", "plain")
        term = source.skip(inner)  # the preamble
        while term is not None and term.level == level and not term.closing:
            if source.parts >= MAX_PARTS:
                term = source.skip(boundaries)
                break
            child, term = _part(source, inner, depth + 1, child_default)
            children.append(child)
        if term is not None and term.level == level:
            term = source.skip(boundaries)  # the epilogue
    elif (ctype, subtype) == ("message", "rfc822") and deeper:
        message, term = _part(source, boundaries, depth + 1, ("text", "plain"))
    else:
        term = source.skip(boundaries)
    if term is None:
        end = source.offset
        lines = source.newlines - body_newlines + (0 if source.line_start else 1)
    else:
        end = max(body_start, term.offset - term.eol_before)
        # Line ends inside the body, plus a last line without one.
        lines = term.newlines_before - body_newlines - (1 if term.eol_before else 0)
        if end > body_start and not term.blank_before:
            lines += 1
    part = MimePart(
        type=ctype,
        subtype=subtype,
        params=params,
        id=_one(fields, "content-id"),
        description=_one(fields, "content-description"),
        encoding=(_one(fields, "content-transfer-encoding") or "7BIT").upper(),
        disposition=_disposition(fields),
        header_start=header_start,
        body_start=body_start,
        end=end,
        lines=max(lines, 0),
        header=bytes(header),
        children=tuple(children),
        message=message,
    )
    return part, term


def _fields(header: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(header)


def _one(fields: Message, name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    return " ".join(str(value).split())


def _params(fields: Message, name: str) -> list[tuple[str, str]]:
    try:
        found = fields.get_params(header=name) or []
    except (ValueError, TypeError, LookupError):
        return []
    out = []
    for key, value in found[1:]:
        text = value if isinstance(value, str) else _rfc2231(value)
        out.append((str(key).lower(), " ".join(text.split())))
    return out[:32]


def _rfc2231(value: tuple[str | None, str | None, str]) -> str:
    charset, _, text = value
    try:
        return text.encode("latin-1", "replace").decode(charset or "us-ascii", "replace")
    except LookupError:
        return text


def _content_type(
    fields: Message, default: tuple[str, str]
) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    raw = _one(fields, "content-type")
    if raw is None:
        if default == ("text", "plain"):
            return "text", "plain", (("charset", "us-ascii"),)
        return default[0], default[1], ()
    main, _, sub = raw.split(";", 1)[0].strip().lower().partition("/")
    if not main or not sub or not main.isascii() or " " in main + sub:
        return "text", "plain", (("charset", "us-ascii"),)
    return main, sub, tuple(_params(fields, "content-type"))


def _disposition(fields: Message) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    raw = _one(fields, "content-disposition")
    if raw is None:
        return None
    kind = raw.split(";", 1)[0].strip().lower() or "attachment"
    return kind, tuple(_params(fields, "content-disposition"))
