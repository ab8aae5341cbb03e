"""Dot transparency (RFC 5321 4.5.2, RFC 1939 3): SMTP DATA in, POP3 RETR out.

Sans-IO and incremental, so a 200 MB message passes through in chunks and is
never held whole. Both sides work on CRLF lines; a line that starts with "."
travels with one more "." in front, and a line holding only "." ends the data.
"""

from __future__ import annotations

TERMINATOR = b"\r\n.\r\n"
# The longest tails that could begin the terminator (or a stuffed dot) in the next chunk.
_PREFIXES = (TERMINATOR[:4], TERMINATOR[:3], TERMINATOR[:2], TERMINATOR[:1])


class DataDecoder:
    """Undo dot-stuffing of an SMTP DATA stream until the lone-dot line.

    ``feed`` returns the message bytes ready so far; after the terminator
    ``done`` is set and ``rest`` holds what the client sent after it (pipelined
    commands). Feeding after ``done`` is a caller bug.
    """

    def __init__(self) -> None:
        # A virtual CRLF before the first line: a first line of "." ends at once
        # and a first line "..x" is unstuffed, with no special case.
        self._pending = b"\r\n"
        self._lead = 2  # bytes of that virtual CRLF not yet stripped from the output
        self.done = False
        self.rest = b""

    def feed(self, data: bytes) -> bytes:
        if self.done:
            raise RuntimeError("DataDecoder fed after the end of the data")
        buf = self._pending + data
        end = buf.find(TERMINATOR)
        if end >= 0:
            body = buf[: end + 2]  # the last line keeps its CRLF
            self.rest = buf[end + len(TERMINATOR) :]
            self._pending = b""
            self.done = True
        else:
            keep = next((len(p) for p in _PREFIXES if buf.endswith(p)), 0)
            body = buf[: len(buf) - keep]
            self._pending = buf[len(buf) - keep :]
        out = body.replace(b"\r\n.", b"\r\n")
        if self._lead and out:
            out = out[self._lead :]
            self._lead = 0
        return out


class DotStuffer:
    """Dot-stuff a message for a POP3 multi-line answer, chunk by chunk.

    ``end()`` gives the bytes that close the answer: a CRLF if the message did
    not end with one, then the lone-dot line.
    """

    def __init__(self) -> None:
        self._tail = b"\r\n"  # the last two bytes sent: the start is a line start

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        joined = self._tail + data
        out = joined.replace(b"\r\n.", b"\r\n..")[len(self._tail) :]
        self._tail = joined[-2:]
        return out

    def end(self) -> bytes:
        return b".\r\n" if self._tail == b"\r\n" else b"\r\n.\r\n"


def stuff(message: bytes) -> bytes:
    """The whole of ``message`` as it travels: stuffed and terminated (tests, small replies)."""
    stuffer = DotStuffer()
    return stuffer.feed(message) + stuffer.end()
