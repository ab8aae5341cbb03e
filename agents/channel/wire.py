"""Frames over an asyncio stream: one reader/writer pair, bounded in size and time.

Shared by both ends, so a request stream and a reply stream are read and
written by the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterable, AsyncIterator, Callable

from peerwork.proto.channel import (
    CHUNK_SIZE,
    Chunk,
    End,
    ErrorCode,
    ErrorReply,
    Frame,
    FrameDecoder,
)
from peerwork.proto.channel_state import Conversation, Phase, Side

from .errors import ChannelError, ChannelRefused

READ_SIZE = 256 * 1024


class FrameStream:
    """Reads whole frames (through :class:`FrameDecoder`) and writes them, each
    checked against the :class:`Conversation` (whose turn, which frame)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        side: Side,
        idle: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.idle = idle  # seconds a frame may take to arrive before we give up
        self.decoder = FrameDecoder()
        self.conversation = Conversation(side)

    @property
    def phase(self) -> Phase:
        return self.conversation.phase

    async def read(self, idle: float | None = None) -> Frame | None:
        """The next frame; None when the other side closed cleanly between frames.

        ``idle``: seconds to wait (default: the stream's), ``math.inf`` for no limit.

        Raises ChannelError on a timeout or a connection cut mid-frame, and
        ChannelProtocolError on malformed bytes or a frame out of turn.
        """
        limit = self.idle if idle is None else idle
        try:
            async with asyncio.timeout(None if limit == math.inf else limit):
                while (frame := self.decoder.next_frame()) is None:
                    data = await self.reader.read(READ_SIZE)
                    if not data:
                        if self.decoder.buffered:
                            raise ChannelError("the connection closed in the middle of a frame")
                        return None
                    self.decoder.receive_data(data)
        except TimeoutError:
            raise ChannelError("the other side sent nothing in time") from None
        except (ConnectionError, OSError) as exc:
            raise ChannelError(f"the connection failed: {exc}") from None
        self.conversation.receive(frame)
        return frame

    async def write(self, frame: Frame) -> None:
        data = frame.pack()
        self.conversation.send(frame)
        try:
            async with asyncio.timeout(self.idle):
                self.writer.write(data)
                await self.writer.drain()
        except TimeoutError:
            raise ChannelError("the other side stopped reading") from None
        except (ConnectionError, OSError) as exc:
            raise ChannelError(f"the connection failed: {exc}") from None

    async def send_stream(
        self, chunks: AsyncIterable[bytes], stop: Callable[[], bool] = lambda: False
    ) -> bool:
        """CHUNK frames of at most CHUNK_SIZE, then END; the source sets the pace.

        Stops early, without END, once ``stop()`` is true (the other side
        answered already); returns whether the stream was sent whole.
        """
        async for data in chunks:
            if stop():
                return False
            if 0 < len(data) <= CHUNK_SIZE:
                await self.write(Chunk(bytes(data)))  # no copy when already bytes
                continue
            for start in range(0, len(data), CHUNK_SIZE):
                if stop():
                    return False
                await self.write(Chunk(bytes(data[start : start + CHUNK_SIZE])))
        if stop():
            return False
        await self.write(End())
        return True

    async def discard(self, seconds: float) -> None:
        """Read and drop frames until END, EOF or ``seconds``: after refusing a body
        stream, so the refusal reaches the sender before our close resets it."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(seconds):
                while not isinstance(await self.read(), End | None):
                    pass

    async def close(self) -> None:
        self.writer.close()
        # A TLS close_notify the other side never answers must not hold us up.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()


class BodyStream:
    """The chunks of one body stream, as an async iterator, up to ``limit`` bytes.

    Ends at END; an ERROR from the other side raises ChannelRefused; more than
    ``limit`` bytes raises ChannelRefused(TOO_LARGE). ``finished`` tells the
    connection whether the stream was read to its end (if not, the connection
    cannot be reused).
    """

    def __init__(self, frames: FrameStream, limit: int) -> None:
        self._frames = frames
        self.limit = limit
        self.received = 0
        self.finished = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while not self.finished:
            frame = await self._frames.read()
            if isinstance(frame, Chunk):
                self.received += len(frame.data)
                if self.received > self.limit:
                    raise ChannelRefused(
                        ErrorCode.TOO_LARGE, f"body stream larger than {self.limit} bytes"
                    )
                yield frame.data
            elif isinstance(frame, End):
                self.finished = True
            elif isinstance(frame, ErrorReply):
                raise ChannelRefused.of(frame)
            elif frame is None:
                raise ChannelError("the connection closed in the middle of a body stream")
            else:
                raise ChannelRefused(ErrorCode.BAD_FRAME, "expected a chunk or the end of a body")

    async def read_all(self) -> bytes:
        """The whole body in memory: only for streams known to be small."""
        return b"".join([chunk async for chunk in self])
