"""Reading IMAP commands off a connection: lines, and literals judged before they are read.

A command is lines and literals (RFC 3501 4.3). :class:`CommandInput` reads a
line, and if it announces a literal, decides on the announced size alone:
64 KB for names, passwords and search strings, ``max_size`` for an APPENDed
message (only after logon), and a whole command of at most 256 KB besides
messages. A message literal goes straight into a file (fsynced) in the
account's ``tmp/``; the caller drops such files after the command.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import BinaryIO

from peerwork.proto.imap import Append, continuation, parse_command
from peerwork.proto.imap_syntax import (
    MAX_LITERAL,
    MAX_SEGMENTS,
    ImapSyntaxError,
    Literal,
    Spooled,
    literal_at_end,
)

from .spool import new_id

CHUNK = 1 << 16
MAX_COMMAND_BYTES = 256 * 1024  # all lines and small literals of one command
_APPEND_HEAD = re.compile(rb"\A\S+ APPEND ", re.IGNORECASE)


class Closing(Exception):
    """End the connection after what was written (BYE sent)."""


def tag_of(segments: list[bytes | Literal]) -> str:
    """The tag of a command that could not be parsed, for its BAD/NO answer (else ``*``)."""
    first = segments[0] if segments else b""
    raw = first.split(b" ", 1)[0] if isinstance(first, bytes) else b""
    tag = raw.decode("ascii", "replace")
    return tag if tag and tag.isprintable() and len(tag) < 64 and "+" not in tag else "*"


class CommandInput:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        idle_timeout: float,
        max_size: int,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_timeout = idle_timeout
        self.max_size = max_size
        self.spool_dir: Path | None = None  # set at logon: no APPEND before
        self._spooled: list[Path] = []

    async def line(self) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.readuntil(b"\n"), self.idle_timeout)
        except asyncio.LimitOverrunError:
            self.writer.write(b"* BYE command line too long\r\n")
            raise Closing from None
        except TimeoutError:
            self.writer.write(b"* BYE idle for too long\r\n")
            raise Closing from None

    async def command(self) -> list[bytes | Literal] | None:
        """One command's segments. None: refused (answered already), read the next one."""
        segments: list[bytes | Literal] = []
        total = 0
        while True:
            text, spec = literal_at_end(await self.line())
            segments.append(text)
            total += len(text)
            if spec is None:
                return segments
            message = self._is_append_message(segments)
            limit = self.max_size if message else MAX_LITERAL
            small = 0 if message else spec.size
            too_many = len(segments) > MAX_SEGMENTS or total + small > MAX_COMMAND_BYTES
            if spec.size > limit or too_many:
                reason = "[TOOBIG] literal too big" if spec.size > limit else "command too big"
                if spec.nonsync:
                    # LITERAL+: the bytes are already on their way; no way to skip them safely.
                    self.writer.write(f"* BYE {reason}\r\n".encode())
                    raise Closing
                self.writer.write(f"{tag_of(segments)} NO {reason}\r\n".encode())
                return None
            if not spec.nonsync:
                self.writer.write(continuation("go ahead"))
                await self.writer.drain()
            if message:
                segments.append(Literal(await self._spool(spec.size)))
            else:
                total += spec.size
                data = await asyncio.wait_for(self.reader.readexactly(spec.size), self.idle_timeout)
                segments.append(Literal(data))

    def _is_append_message(self, segments: list[bytes | Literal]) -> bool:
        """Whether the literal announced now is an APPEND's message (a test parse with it)."""
        first = segments[0]
        if self.spool_dir is None or not isinstance(first, bytes):
            return False
        if not _APPEND_HEAD.match(first):
            return False
        try:
            command = parse_command([*segments, Literal(b"")])
        except ImapSyntaxError:
            return False
        return isinstance(command.args, Append)

    async def _spool(self, size: int) -> Spooled:
        assert self.spool_dir is not None
        path = self.spool_dir / f"append-{new_id(time.time())}"
        handle = await asyncio.to_thread(path.open, "xb")
        self._spooled.append(path)
        with handle:
            left = size
            while left:
                chunk = await asyncio.wait_for(
                    self.reader.read(min(CHUNK, left)), self.idle_timeout
                )
                if not chunk:
                    raise asyncio.IncompleteReadError(b"", left)
                await asyncio.to_thread(handle.write, chunk)
                left -= len(chunk)
            # APPEND answers OK only for a message on disk: the folder links this file.
            await asyncio.to_thread(_flush, handle)
        return Spooled(str(path), size)

    def drop_spooled(self) -> None:
        for path in self._spooled:
            path.unlink(missing_ok=True)
        self._spooled.clear()


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
