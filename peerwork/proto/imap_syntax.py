"""IMAP4rev1 lexical syntax (RFC 3501 section 9): the pieces every command and answer is made of.

Sans-IO. A command arrives as *segments*: text lines (CRLF and the trailing
``{n}``/``{n+}`` announcement removed) alternating with literal payloads, as
:func:`literal_at_end` lets the connection loop split them. :class:`Reader`
walks those segments (atoms, quoted strings, literals, parenthesised lists)
with a bounded nesting depth; :func:`render` builds answer values. Anything
malformed raises :class:`ImapSyntaxError` with the text of a ``BAD`` answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

MAX_LINE = 8192  # one text line of a command (RFC 7162 3.2.1's advice for clients)
MAX_LITERAL = 64 * 1024  # a literal that is not an APPENDed message (names, passwords)
MAX_DEPTH = 32  # parenthesised lists inside one another
MAX_SEGMENTS = 64  # literals in one command


class ImapSyntaxError(ValueError):
    """The client sent something that is not a command we serve; the text goes in ``BAD``."""


@dataclass(frozen=True, slots=True)
class Spooled:
    """A literal the connection wrote to a file instead of memory (an APPENDed message):
    ``ref`` is the server's handle for it (a path), ``size`` its length."""

    ref: str
    size: int


LiteralValue = bytes | Spooled


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal payload among a command's segments (text segments are plain ``bytes``)."""

    value: LiteralValue


@dataclass(frozen=True, slots=True)
class LiteralSpec:
    """``{size}`` (the client waits for ``+``) or ``{size+}`` (LITERAL+, it does not)."""

    size: int
    nonsync: bool


_LITERAL_END = re.compile(rb"\{([0-9]{1,20})(\+?)\}\r?\n?\Z")


def literal_at_end(line: bytes) -> tuple[bytes, LiteralSpec | None]:
    """Split a received line into its text (CRLF removed) and the literal it announces.

    The size is returned as announced; deciding whether it is acceptable (before
    reading a byte of it) is the caller's job."""
    match = _LITERAL_END.search(line)
    if match is None:
        return line.removesuffix(b"\n").removesuffix(b"\r"), None
    return line[: match.start()], LiteralSpec(int(match.group(1)), match.group(2) == b"+")


_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(0x20)) | {0x7F}
_QUOTED_SAFE = re.compile(rb"[\x20-\x7e]*\Z")


@dataclass(frozen=True, slots=True)
class Atom:
    """An answer value written as is (``NIL``, ``\\Seen``, ``INBOX``), never quoted."""

    text: str


RenderValue = None | int | str | bytes | Atom | Sequence["RenderValue"]


def quoted(data: bytes) -> bytes:
    """A quoted string if ``data`` can be one, else a literal."""
    if len(data) < 1024 and _QUOTED_SAFE.match(data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def render(value: RenderValue) -> bytes:
    """None is NIL, int a number, str/bytes a string, :class:`Atom` as is, a sequence a list."""
    if value is None:
        return b"NIL"
    if isinstance(value, bool):
        raise TypeError("no booleans in IMAP")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, Atom):
        return value.text.encode("ascii")
    if isinstance(value, str):
        return quoted(value.encode("utf-8", "surrogateescape"))
    if isinstance(value, bytes):
        return quoted(value)
    return b"(" + b" ".join(render(v) for v in value) + b")"


def is_atom(text: str) -> bool:
    return bool(text) and text.isascii() and not any(ord(c) in _ATOM_SPECIALS for c in text)


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """``1:4,7,9:*``: ranges of message numbers or UIDs, ``None`` standing for ``*``."""

    ranges: tuple[tuple[int | None, int | None], ...]

    def contains(self, number: int, largest: int) -> bool:
        for low, high in self.ranges:
            a = largest if low is None else low
            b = largest if high is None else high
            if min(a, b) <= number <= max(a, b):
                return True
        return False

    def select(self, numbers: Sequence[int]) -> list[int]:
        """The members of sorted ``numbers`` in the set (``*`` is the largest of them)."""
        largest = numbers[-1] if numbers else 0
        return [n for n in numbers if self.contains(n, largest)]

    def pack(self) -> str:
        def one(n: int | None) -> str:
            return "*" if n is None else str(n)

        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.ranges)

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        if not text or len(text) > MAX_LINE:
            raise ImapSyntaxError("empty sequence set")
        ranges = []
        for piece in text.split(","):
            low, sep, high = piece.partition(":")
            a = _seq_number(low)
            b = _seq_number(high) if sep else a
            ranges.append((a, b))
        return cls(tuple(ranges))


def _seq_number(text: str) -> int | None:
    if text == "*":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise ImapSyntaxError(f"bad sequence number {text!r}")
    number = int(text)
    if not 0 < number < 2**32:
        raise ImapSyntaxError("sequence numbers are 1 to 4294967295")
    return number


class Reader:
    """A cursor over a command's segments; every read either succeeds or raises."""

    def __init__(self, segments: Sequence[bytes | Literal]) -> None:
        if len(segments) > 2 * MAX_SEGMENTS + 1:
            raise ImapSyntaxError("too many literals in one command")
        # Normalised to text, literal, text, ..., text: text segments at even indexes.
        self._segments: list[bytes | Literal] = []
        for seg in segments:
            expect_text = len(self._segments) % 2 == 0
            if isinstance(seg, Literal) and expect_text:
                self._segments.append(b"")
            elif not isinstance(seg, Literal) and not expect_text:
                prev = self._segments.pop()
                assert isinstance(prev, bytes)
                seg = prev + seg
            self._segments.append(seg)
        if len(self._segments) % 2 == 0:
            self._segments.append(b"")
        self._index = 0
        self._pos = 0
        self.depth = 0

    def _text(self) -> bytes:
        seg = self._segments[self._index]
        assert isinstance(seg, bytes)
        return seg

    def peek(self) -> int | None:
        """The next byte, or None at a literal or at the end."""
        text = self._text()
        return text[self._pos] if self._pos < len(text) else None

    def at_literal(self) -> bool:
        return self._pos >= len(self._text()) and self._index + 1 < len(self._segments)

    def at_end(self) -> bool:
        return self._pos >= len(self._text()) and self._index + 1 >= len(self._segments)

    def lookahead(self, count: int) -> bytes:
        """The next ``count`` bytes of this text segment, not consumed."""
        return self._text()[self._pos : self._pos + count]

    def expect(self, byte: bytes) -> None:
        if self.peek() != byte[0]:
            got = self.peek()
            shown = "end of line" if got is None else repr(chr(got))
            raise ImapSyntaxError(f"expected {byte.decode()!r}, got {shown}")
        self._pos += 1

    def sp(self) -> None:
        self.expect(b" ")

    def maybe(self, byte: bytes) -> bool:
        if self.peek() == byte[0]:
            self._pos += 1
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise ImapSyntaxError("unexpected text at the end of the command")

    # -- tokens ------------------------------------------------------------------
    def _take_while(self, ok: frozenset[int] | None, stop: frozenset[int]) -> bytes:
        text = self._text()
        start = self._pos
        while self._pos < len(text) and text[self._pos] not in stop:
            if ok is not None and text[self._pos] not in ok:
                break
            self._pos += 1
        return text[start : self._pos]

    def atom(self, *, extra_stop: bytes = b"", allow_bracket: bool = False) -> str:
        stop = _ATOM_SPECIALS | frozenset(extra_stop) | frozenset(range(0x80, 0x100))
        if allow_bracket:
            stop = stop - {ord("]")}
        raw = self._take_while(None, frozenset(stop))
        if not raw:
            raise ImapSyntaxError("expected an atom")
        return raw.decode("ascii")

    def literal(self) -> LiteralValue:
        if not self.at_literal():
            raise ImapSyntaxError("expected a literal")
        seg = self._segments[self._index + 1]
        assert isinstance(seg, Literal)
        self._index += 2
        self._pos = 0
        return seg.value

    def quoted(self) -> bytes:
        self.expect(b'"')
        text = self._text()
        out = bytearray()
        while self._pos < len(text):
            c = text[self._pos]
            self._pos += 1
            if c == ord('"'):
                return bytes(out)
            if c == ord("\\"):
                if self._pos >= len(text) or text[self._pos] not in b'"\\':
                    raise ImapSyntaxError("bad escape in a quoted string")
                c = text[self._pos]
                self._pos += 1
            elif c in (0, 0x0A, 0x0D):
                break
            out.append(c)
        raise ImapSyntaxError("unterminated quoted string")

    def string(self) -> bytes:
        if self.at_literal():
            value = self.literal()
            if isinstance(value, Spooled):
                raise ImapSyntaxError("a message literal where a string belongs")
            return value
        return self.quoted()

    def astring(self) -> bytes:
        if self.at_literal() or self.peek() == ord('"'):
            return self.string()
        return self.atom(allow_bracket=True).encode("ascii")

    def nstring_text(self) -> str:
        return decode_text(self.astring())

    def sequence_set(self) -> SequenceSet:
        raw = self._take_while(frozenset(b"0123456789:,*"), frozenset())
        return SequenceSet.parse(raw.decode("ascii"))

    def number(self) -> int:
        raw = self._take_while(frozenset(b"0123456789"), frozenset())
        if not raw or len(raw) > 10:
            raise ImapSyntaxError("expected a number")
        return int(raw)

    def open_list(self) -> None:
        self.expect(b"(")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ImapSyntaxError("lists nested too deep")

    def close_list(self) -> bool:
        if self.maybe(b")"):
            self.depth -= 1
            return True
        return False

    def list_items(self) -> Iterator[None]:
        """Drive a ``(a b c)`` list: yields once per item, the caller reads it."""
        self.open_list()
        if self.close_list():
            return
        while True:
            yield None
            if self.close_list():
                return
            self.sp()


def decode_text(raw: bytes) -> str:
    """Text from a string (search values, passwords): UTF-8, else Latin-1 as a last resort."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
