"""Server-sent events (the WHATWG ``text/event-stream`` format), sans-IO.

:class:`SseDecoder` turns bytes, fed in chunks of any size, into
:class:`SseMessage` values; :func:`encode_message` and :func:`encode_comment`
build the bytes a server writes. The agent's event stream and both control
clients use this one codec.

Decoding follows the standard's rules: lines end in CRLF, LF or CR (also when
a CRLF is split across two chunks), a line starting with ``:`` is a comment,
one space after the field's colon is dropped, ``data`` lines join with
``\\n``, a blank line dispatches the message if it has data, unknown fields
are ignored and bytes that are not UTF-8 become U+FFFD. Unlike a browser it
bounds memory: a line or a message longer than ``max_size`` raises
:class:`SseError` and the decoder refuses further input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peerwork.errors import InvalidInput

MAX_SIZE = 1 << 20
_EOL = re.compile(rb"\r\n|\r|\n")


class SseError(InvalidInput):
    """The stream broke the format's bounds; the connection should be dropped."""

    code = "bad-event-stream"


@dataclass(frozen=True, slots=True)
class SseMessage:
    event: str = "message"
    data: str = ""
    id: str | None = None


class SseDecoder:
    def __init__(self, max_size: int = MAX_SIZE) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to it
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._id: str | None = None
        self._failed = False

    def feed(self, chunk: bytes) -> list[SseMessage]:
        """The messages completed by ``chunk`` (possibly none), in order."""
        if self._failed:
            raise SseError("the event stream already broke its bounds")
        if not chunk:
            return []
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        self._buf += chunk
        out: list[SseMessage] = []
        start = 0
        buf = self._buf
        while (eol := _EOL.search(buf, start)) is not None:
            line = bytes(buf[start : eol.start()])
            start = eol.end()
            # A CR that ends the chunk may be the first half of a CRLF.
            self._skip_lf = eol.group() == b"\r" and start == len(buf)
            message = self._line(line)
            if message is not None:
                out.append(message)
        del buf[:start]
        if len(buf) > self.max_size:
            self._fail(f"an event-stream line is longer than {self.max_size} bytes")
        return out

    def _fail(self, why: str) -> None:
        self._failed = True
        self._buf.clear()
        raise SseError(why)

    def _line(self, raw: bytes) -> SseMessage | None:
        if len(raw) > self.max_size:
            self._fail(f"an event-stream line is longer than {self.max_size} bytes")
        if not raw:
            return self._dispatch()
        if raw.startswith(b":"):
            return None
        text = raw.decode("utf-8", "replace")
        name, _, value = text.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._size += len(value) + 1
            if self._size > self.max_size:
                self._fail(f"an event is larger than {self.max_size} bytes")
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> SseMessage | None:
        # The last id persists across messages (the standard's "last event ID").
        data, event = self._data, self._event
        self._data, self._event, self._size = [], "", 0
        if not data:
            return None
        return SseMessage(event or "message", "\n".join(data), self._id)


def _single_line(what: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an event-stream {what} may not contain a line break")
    return value


def encode_message(message: SseMessage) -> bytes:
    """The bytes of one message; its data may span lines, event and id may not."""
    lines = []
    if message.id is not None:
        lines.append(f"id: {_single_line('id', message.id)}")
    if message.event != "message":
        lines.append(f"event: {_single_line('event name', message.event)}")
    # str.splitlines would also split on U+2028 and friends, which SSE keeps in the data.
    data = message.data.replace("\r\n", "\n").replace("\r", "\n")
    lines += [f"data: {part}" for part in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def encode_comment(text: str) -> bytes:
    """A comment line (keeps idle connections alive; readers ignore it)."""
    return f": {_single_line('comment', text)}\n\n".encode()
