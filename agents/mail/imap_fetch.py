"""FETCH answers for stored messages: small items rendered, message bytes streamed from disk.

:func:`fetch_pieces` (blocking, run in a thread) turns one message and the
items asked into :data:`Piece`\\ s: rendered bytes and :class:`FileSlice`\\ s
that the connection copies from the file chunk by chunk, so ``BODY[]`` of a
200 MB message costs a 64 KB buffer. The MIME structure is scanned only when
an item needs it (BODYSTRUCTURE, a part number) and kept in a small cache.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from peerwork.proto.imap import format_datetime
from peerwork.proto.imap_items import FetchItem, FetchKind, Section, SectionText
from peerwork.proto.imap_message import Span, bodystructure, envelope, filter_header, locate
from peerwork.proto.imap_syntax import render
from peerwork.proto.mime_scan import MAX_HEADER, MimePart, scan

from .imap_store import Entry

CHUNK = 1 << 16
LINE_PIECE = 1 << 16  # an overlong line reaches the scanner in pieces of this size
CACHE = 8  # MIME trees kept per session (each holds at most 1 MB of headers)


@dataclass(frozen=True, slots=True)
class FileSlice:
    path: Path
    start: int
    length: int


Piece = bytes | FileSlice


def pieces_of(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.readline(LINE_PIECE):
        yield chunk


@dataclass(frozen=True, slots=True)
class Head:
    """A message's header (at most :data:`MAX_HEADER` bytes kept) and where its body starts."""

    header: bytes
    body_start: int


def read_head(path: Path) -> Head:
    kept = bytearray()
    offset = 0
    with path.open("rb") as handle:
        for piece in pieces_of(handle):
            offset += len(piece)
            if piece in (b"\r\n", b"\n"):
                return Head(bytes(kept), offset)
            if len(kept) < MAX_HEADER:
                kept += piece
    return Head(bytes(kept), offset)


class Structures:
    """The MIME trees of the last few messages fetched (by file and size)."""

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, int], MimePart] = OrderedDict()

    def get(self, entry: Entry) -> MimePart:
        key = (entry.key, entry.size)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        with entry.path.open("rb") as handle:
            tree = scan(pieces_of(handle))
        self._cache[key] = tree
        if len(self._cache) > CACHE:
            self._cache.popitem(last=False)
        return tree


def flag_list(flags: frozenset[str], recent: bool) -> bytes:
    names = sorted(flags) + (["\\Recent"] if recent else [])
    return b"(" + " ".join(names).encode() + b")"


def internal_date(entry: Entry) -> bytes:
    when = dt.datetime.fromtimestamp(entry.mtime, dt.UTC)
    return b'"' + format_datetime(when).encode() + b'"'


def _head_only(section: Section) -> bool:
    return not section.part and section.text is not SectionText.MIME


def _section_span(
    item: FetchItem, entry: Entry, structures: Structures, head: Head | None
) -> Span | None:
    section = item.section
    if item.kind is FetchKind.RFC822:
        section = Section()
    elif item.kind is FetchKind.RFC822_HEADER:
        section = Section(text=SectionText.HEADER)
    elif item.kind is FetchKind.RFC822_TEXT:
        section = Section(text=SectionText.TEXT)
    assert section is not None
    if _head_only(section):
        head = head or read_head(entry.path)
        match section.text:
            case SectionText.ALL:
                return Span(0, entry.size)
            case SectionText.HEADER:
                return Span(0, head.body_start)
            case SectionText.TEXT:
                return Span(head.body_start, entry.size)
            case _:
                keep = section.text is SectionText.HEADER_FIELDS
                return Span(data=filter_header(head.header, section.fields, keep))
    return locate(structures.get(entry), section, entry.size)


def fetch_pieces(
    entry: Entry,
    number: int,
    items: tuple[FetchItem, ...],
    *,
    recent: bool,
    structures: Structures,
) -> list[Piece]:
    """``* number FETCH (...)`` for ``entry`` as it is now (flags included). Blocking."""
    out: list[Piece] = [b"* %d FETCH (" % number]
    head: Head | None = None
    for i, item in enumerate(items):
        if i:
            out.append(b" ")
        name = item.response_name().encode()
        kind = item.kind
        if kind is FetchKind.FLAGS:
            out.append(b"FLAGS " + flag_list(entry.flags, recent))
        elif kind is FetchKind.UID:
            out.append(b"UID %d" % entry.uid)
        elif kind is FetchKind.RFC822_SIZE:
            out.append(b"RFC822.SIZE %d" % entry.size)
        elif kind is FetchKind.INTERNALDATE:
            out.append(b"INTERNALDATE " + internal_date(entry))
        elif kind is FetchKind.ENVELOPE:
            head = head or read_head(entry.path)
            out.append(b"ENVELOPE " + render(envelope(head.header)))
        elif kind in (FetchKind.BODYSTRUCTURE, FetchKind.BODY):
            tree = structures.get(entry)
            out.append(name + b" " + bodystructure(tree, kind is FetchKind.BODYSTRUCTURE))
        else:
            if item.section is not None and _head_only(item.section):
                head = head or read_head(entry.path)
            span = _section_span(item, entry, structures, head)
            out.extend(_literal(name, span, item.partial, entry.path))
    out.append(b")\r\n")
    return out


def _literal(
    name: bytes, span: Span | None, partial: tuple[int, int] | None, path: Path
) -> list[Piece]:
    if span is None:
        # RFC 3501 6.4.5: a section that does not exist is answered as empty.
        return [name + b" NIL" if partial is None else name + b' ""']
    start, length = 0, span.size
    if partial is not None:
        start = min(partial[0], span.size)
        length = min(partial[1], span.size - start)
    head = name + b" {%d}\r\n" % length
    if span.data is not None:
        return [head + span.data[start : start + length]]
    return [head, FileSlice(path, span.start + start, length)]


async def write_pieces(writer: asyncio.StreamWriter, pieces: list[Piece]) -> None:
    """Send rendered pieces, copying file slices chunk by chunk (bounded memory)."""
    for piece in pieces:
        if isinstance(piece, bytes):
            writer.write(piece)
            continue
        await _copy_slice(writer, piece)
    await writer.drain()


async def _copy_slice(writer: asyncio.StreamWriter, piece: FileSlice) -> None:
    try:
        handle = await asyncio.to_thread(piece.path.open, "rb")
    except FileNotFoundError:
        # Expunged by another session meanwhile: the announced length must still be met.
        writer.write(b" " * piece.length)
        return
    with handle:
        handle.seek(piece.start)
        left = piece.length
        while left > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK, left))
            if not chunk:
                chunk = b" " * min(CHUNK, left)  # truncated under us: pad to the length said
            writer.write(chunk)
            left -= len(chunk)
            await writer.drain()
