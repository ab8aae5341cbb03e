"""The little of NDR 2.0 (C706 ch. 14, little-endian) that srvsvc and wkssvc need.

Everything in these interfaces is a 32-bit integer, a unique pointer or a
NUL-terminated UTF-16 string (``[string] wchar_t*``: conformant varying), so
the writer offers those and leaves deferral order (pointees after the
structure or array that points at them) to :func:`write_structs`.

:class:`NdrReader` raises :class:`NdrError` (and nothing else) on hostile input.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from peerwork.errors import InvalidInput

# A NetBIOS/DNS name or share comment is far below this; it bounds what a client can make us decode.
MAX_STRING_CHARS = 4096
_FIRST_REFERENT = 0x00020000

# One field of a flat structure: an int is a DWORD, a str or None is a unique pointer to a string.
Field = int | str | None


class NdrError(InvalidInput):
    """Stub data that does not unmarshal."""

    code = "bad-stub-data"


class NdrWriter:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._next_referent = _FIRST_REFERENT

    def getvalue(self) -> bytes:
        return bytes(self._buf)

    def align(self, n: int) -> None:
        self._buf += b"\x00" * (-len(self._buf) % n)

    def u32(self, value: int) -> None:
        self.align(4)
        self._buf += struct.pack("<I", value)

    def pointer(self, present: bool) -> None:
        """A unique or full pointer's referent id (0 for NULL)."""
        if present:
            self.u32(self._next_referent)
            self._next_referent += 4
        else:
            self.u32(0)

    def string(self, text: str) -> None:
        """A conformant varying UTF-16 string, NUL-terminated as wchar_t* strings are."""
        data = text.encode("utf-16-le") + b"\x00\x00"
        count = len(data) // 2
        self.u32(count)
        self.u32(0)
        self.u32(count)
        self._buf += data


def write_structs(w: NdrWriter, rows: Sequence[Sequence[Field]]) -> None:
    """Flat structures in a row (an array's elements, or one structure), then their strings.

    NDR puts every embedded pointer's pointee after the whole array, element by
    element and field by field; this is that order.
    """
    for row in rows:
        for f in row:
            if isinstance(f, int):
                w.u32(f)
            else:
                w.pointer(f is not None)
    for row in rows:
        for f in row:
            if isinstance(f, str):
                w.string(f)


class NdrReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._off = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._off

    def align(self, n: int) -> None:
        self._off += -self._off % n

    def u32(self) -> int:
        self.align(4)
        if self.remaining < 4:
            raise NdrError("RPC stub data ends inside a 32-bit value")
        (value,) = struct.unpack_from("<I", self._data, self._off)
        self._off += 4
        return int(value)

    def pointer(self) -> bool:
        """A unique pointer: True when a referent follows."""
        return self.u32() != 0

    def string(self) -> str:
        max_count = self.u32()
        offset = self.u32()
        actual = self.u32()
        if offset != 0 or actual > max_count:
            raise NdrError("RPC string has an inconsistent offset or length")
        if actual > MAX_STRING_CHARS:
            raise NdrError(f"RPC string of {actual} characters is longer than any name")
        if self.remaining < 2 * actual:
            raise NdrError("RPC string runs past the stub data")
        raw = bytes(self._data[self._off : self._off + 2 * actual])
        self._off += 2 * actual
        try:
            text = raw.decode("utf-16-le")
        except UnicodeDecodeError:
            raise NdrError("RPC string is not valid UTF-16") from None
        # Clients count the terminating NUL; a few send none.
        return text[:-1] if text.endswith("\x00") else text

    def unique_string(self) -> str | None:
        return self.string() if self.pointer() else None
