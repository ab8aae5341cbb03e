"""Sans-IO IPP message codec (RFC 8010): bytes in, :class:`Message` out, and back.

``Message.parse(data)`` and ``Message.pack()`` are exact inverses: every
value keeps its tag, collections keep their member order, and the document
data after the attributes is kept as it came. Anything that would not pack
back to the same bytes (a boolean of 2, a collection that is not closed, a
non-UTF-8 text) is refused with :class:`IppError` rather than guessed at.

Hostile input is bounded: at most ``MAX_ATTRIBUTES`` attributes and values
in all, collections nested at most ``MAX_DEPTH`` deep; lengths are checked
against the bytes actually present. :func:`parse_head` parses a message whose
document data has not all arrived, for servers that stream it to disk.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from peerwork.errors import PeerworkError

from .ipp_constants import GroupTag, Tag

MAX_ATTRIBUTES = 4096  # attributes plus values, across the whole message
MAX_DEPTH = 8  # collections inside collections
MAX_GROUPS = 64


class IppError(PeerworkError):
    """A malformed IPP message; ``status`` is what a server should answer."""

    code = "bad-ipp"

    def __init__(self, message: str, status: int = 0x0400) -> None:
        super().__init__(message)
        self.status = status


class Truncated(IppError):
    """The bytes end before the attributes do: read more, or answer bad-request."""

    code = "ipp-truncated"


@dataclass(frozen=True, slots=True)
class Resolution:
    x: int
    y: int
    units: int  # 3 = dots per inch, 4 = dots per cm


@dataclass(frozen=True, slots=True)
class Range:
    lower: int
    upper: int


@dataclass(frozen=True, slots=True)
class LangString:
    """textWithLanguage / nameWithLanguage."""

    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Collection:
    members: tuple[Attribute, ...] = ()

    def get(self, name: str) -> Attribute | None:
        return next((a for a in self.members if a.name == name), None)


Payload: TypeAlias = int | bool | str | bytes | Resolution | Range | LangString | Collection | None


@dataclass(frozen=True, slots=True)
class Value:
    """One value with its tag; ``value`` is None for out-of-band tags (0x10-0x1F)
    and bytes for octetString, dateTime and tags this codec does not know."""

    tag: int
    value: Payload = None


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    values: tuple[Value, ...]

    @property
    def value(self) -> Payload:
        return self.values[0].value if self.values else None

    @property
    def tag(self) -> int:
        return self.values[0].tag if self.values else 0


@dataclass(frozen=True, slots=True)
class Group:
    tag: int
    attributes: tuple[Attribute, ...] = ()

    def get(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@dataclass(frozen=True, slots=True)
class Message:
    """A request (``code`` = operation id) or response (``code`` = status code)."""

    version: tuple[int, int]
    code: int
    request_id: int
    groups: tuple[Group, ...] = ()
    data: bytes = field(default=b"", repr=False)

    @classmethod
    def parse(cls, data: bytes) -> Message:
        message, end = parse_head(data)
        return Message(
            message.version, message.code, message.request_id, message.groups, data[end:]
        )

    def pack(self) -> bytes:
        out = bytearray(struct.pack(">BBHI", *self.version, self.code, self.request_id))
        for group in self.groups:
            out.append(group.tag)
            for attribute in group.attributes:
                _pack_attribute(out, attribute.name, attribute.values)
        out.append(GroupTag.END)
        out += self.data
        return bytes(out)

    def group(self, tag: int) -> Group | None:
        return next((g for g in self.groups if g.tag == tag), None)

    def groups_of(self, tag: int) -> Iterator[Group]:
        return (g for g in self.groups if g.tag == tag)


def parse_head(data: bytes) -> tuple[Message, int]:
    """The message up to its end-of-attributes tag (``data`` left empty) and the
    offset where document data starts. Raises Truncated if ``data`` ends before."""
    return _Reader(data).message()


_STRING_TAGS = frozenset(
    {Tag.TEXT, Tag.NAME, Tag.KEYWORD, Tag.URI, Tag.URI_SCHEME, Tag.CHARSET, Tag.LANGUAGE}
    | {Tag.MIME_TYPE, Tag.MEMBER_NAME}
)
_INT_TAGS = frozenset({Tag.INTEGER, Tag.ENUM})


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.count = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Truncated("IPP message ends inside its attributes")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def message(self) -> tuple[Message, int]:
        major, minor, code, request_id = struct.unpack(">BBHI", self.take(8))
        groups: list[Group] = []
        tag = self.u8()
        while tag != GroupTag.END:
            if tag > 0x0F:
                raise IppError(f"expected an attribute group tag, found 0x{tag:02x}")
            if len(groups) >= MAX_GROUPS:
                raise IppError(f"more than {MAX_GROUPS} attribute groups")
            attributes, next_tag = self.attributes()
            groups.append(Group(tag, attributes))
            tag = next_tag
        return Message((major, minor), code, request_id, tuple(groups)), self.pos

    def attributes(self) -> tuple[tuple[Attribute, ...], int]:
        """A group's attributes, and the delimiter tag that ended them."""
        attributes: list[Attribute] = []
        while True:
            tag = self.u8()
            if tag <= 0x0F:
                return tuple(attributes), tag
            name = self.string(self.u16(), "attribute name")
            if not name:
                if not attributes:
                    raise IppError("an additional value with no attribute before it")
                last = attributes[-1]
                value = self.value(tag, 0)
                attributes[-1] = Attribute(last.name, (*last.values, value))
            else:
                attributes.append(Attribute(name, (self.value(tag, 0),)))

    def value(self, tag: int, depth: int) -> Value:
        self.count += 1
        if self.count > MAX_ATTRIBUTES:
            raise IppError(f"more than {MAX_ATTRIBUTES} attribute values", 0x0408)
        raw = self.take(self.u16())
        if tag == Tag.EXTENSION:
            raise IppError("extended (0x7f) value tags are not supported")
        if tag in (Tag.END_COLLECTION, Tag.MEMBER_NAME) and depth == 0:
            raise IppError(f"value tag 0x{tag:02x} outside a collection")
        if 0x10 <= tag <= 0x1F:
            if raw:
                raise IppError(f"out-of-band value 0x{tag:02x} with data")
            return Value(tag)
        if tag == Tag.BEGIN_COLLECTION:
            if raw:
                raise IppError("begCollection with a value")
            return Value(tag, self.collection(depth + 1))
        return Value(tag, _decode(tag, raw))

    def collection(self, depth: int) -> Collection:
        if depth > MAX_DEPTH:
            raise IppError(f"collections nested deeper than {MAX_DEPTH}")
        members: list[Attribute] = []
        while True:
            tag = self.u8()
            if self.u16():
                raise IppError("a collection member with an attribute name")
            if tag == Tag.END_COLLECTION:
                if self.u16():
                    raise IppError("endCollection with a value")
                return Collection(tuple(members))
            if tag == Tag.MEMBER_NAME:
                self.count += 1
                name = self.string(self.u16(), "member name")
                if not name:
                    raise IppError("an empty collection member name")
                members.append(Attribute(name, ()))
                continue
            if tag <= 0x0F:
                raise IppError("attribute group ends inside a collection")
            if not members:
                raise IppError("a collection value before any member name")
            last = members[-1]
            value = self.value(tag, depth)
            members[-1] = Attribute(last.name, (*last.values, value))

    def string(self, n: int, what: str) -> str:
        raw = self.take(n)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise IppError(f"{what} is not UTF-8") from None


def _decode(tag: int, raw: bytes) -> Payload:
    if tag in _INT_TAGS:
        _need(raw, 4, tag)
        return int.from_bytes(raw, "big", signed=True)
    if tag == Tag.BOOLEAN:
        _need(raw, 1, tag)
        if raw[0] > 1:
            raise IppError(f"boolean value {raw[0]}")
        return raw[0] == 1
    if tag == Tag.RESOLUTION:
        _need(raw, 9, tag)
        x, y, units = struct.unpack(">iib", raw)
        return Resolution(x, y, units)
    if tag == Tag.RANGE:
        _need(raw, 8, tag)
        return Range(*struct.unpack(">ii", raw))
    if tag == Tag.DATE_TIME:
        _need(raw, 11, tag)
        return raw
    if tag in (Tag.TEXT_LANG, Tag.NAME_LANG):
        return _decode_lang(raw)
    if tag in _STRING_TAGS:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise IppError(f"value of tag 0x{tag:02x} is not UTF-8") from None
    return raw  # octetString and tags unknown to us: opaque


def _need(raw: bytes, n: int, tag: int) -> None:
    if len(raw) != n:
        raise IppError(f"value of tag 0x{tag:02x} has {len(raw)} bytes, not {n}")


def _decode_lang(raw: bytes) -> LangString:
    if len(raw) < 4:
        raise IppError("a with-language value shorter than its lengths")
    n = int.from_bytes(raw[:2], "big")
    m_at = 2 + n
    if m_at + 2 > len(raw) or m_at + 2 + int.from_bytes(raw[m_at : m_at + 2], "big") != len(raw):
        raise IppError("a with-language value whose lengths do not add up")
    try:
        return LangString(raw[2:m_at].decode(), raw[m_at + 2 :].decode())
    except UnicodeDecodeError:
        raise IppError("a with-language value is not UTF-8") from None


def _encode(tag: int, value: Payload) -> bytes:
    if 0x10 <= tag <= 0x1F:
        return b""
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return value.to_bytes(4, "big", signed=True)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, Resolution):
        return struct.pack(">iib", value.x, value.y, value.units)
    if isinstance(value, Range):
        return struct.pack(">ii", value.lower, value.upper)
    if isinstance(value, LangString):
        lang, text = value.language.encode(), value.text.encode()
        return struct.pack(">H", len(lang)) + lang + struct.pack(">H", len(text)) + text
    raise IppError(f"cannot encode {value!r} as tag 0x{tag:02x}")


def _pack_value(out: bytearray, name: str, value: Value) -> None:
    encoded_name = name.encode()
    out.append(value.tag)
    out += struct.pack(">H", len(encoded_name)) + encoded_name
    if isinstance(value.value, Collection):
        out += b"\x00\x00"
        for member in value.value.members:
            member_name = member.name.encode()
            out += bytes([Tag.MEMBER_NAME]) + b"\x00\x00"
            out += struct.pack(">H", len(member_name)) + member_name
            for member_value in member.values:
                _pack_value(out, "", member_value)
        out += bytes([Tag.END_COLLECTION]) + b"\x00\x00\x00\x00"
        return
    raw = _encode(value.tag, value.value)
    if len(raw) > 0xFFFF:
        raise IppError(f"a value of {len(raw)} bytes does not fit IPP's 16-bit length")
    out += struct.pack(">H", len(raw)) + raw


def _pack_attribute(out: bytearray, name: str, values: tuple[Value, ...]) -> None:
    for i, value in enumerate(values):
        _pack_value(out, name if i == 0 else "", value)


# -- building answers -----------------------------------------------------------------------
def attr(name: str, tag: int, *values: Payload) -> Attribute:
    """An attribute of one tag and one or more values (1setOf when more than one)."""
    return Attribute(name, tuple(Value(tag, v) for v in values))


def collection(**members: Attribute) -> Collection:
    return Collection(
        tuple(Attribute(name.replace("_", "-"), a.values) for name, a in members.items())
    )
