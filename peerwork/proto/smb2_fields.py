"""Bounds-checked field access shared by the SMB2 file-command codecs.

Every variable-length SMB2 field is an (offset, length) pair pointing into the
message; offsets count from the start of the 64-byte header while the codecs
get only the body. These helpers turn any bad pair into :class:`MalformedPacket`.
"""

from __future__ import annotations

import struct

from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket

Buffer = bytes | memoryview


def unpack(fmt: struct.Struct, data: Buffer, what: str, offset: int = 0) -> tuple[int, ...]:
    if len(data) < offset + fmt.size:
        raise MalformedPacket(f"{what} needs {fmt.size} bytes at {offset}, got {len(data)}")
    return fmt.unpack_from(data, offset)


def field(body: Buffer, offset: int, length: int, what: str) -> memoryview:
    """The ``length`` bytes at header-relative ``offset`` inside ``body``."""
    if length == 0:
        return memoryview(b"")
    start = offset - HEADER_SIZE
    if start < 0 or start + length > len(body):
        raise MalformedPacket(f"{what} (offset {offset}, {length} bytes) lies outside the message")
    return memoryview(body)[start : start + length]


def utf16(raw: Buffer, what: str) -> str:
    if len(raw) % 2:
        raise MalformedPacket(f"{what} has an odd byte count")
    try:
        return bytes(raw).decode("utf-16-le")
    except UnicodeDecodeError:
        raise MalformedPacket(f"{what} is not valid UTF-16") from None


def pad8(n: int) -> int:
    return (n + 7) & ~7
