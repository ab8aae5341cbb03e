"""The channel's calling end: reach a peer by peer id + address + port.

::

    client = ChannelClient(identity)
    async with await client.connect(peer_id, "10.0.0.2", 7445) as conn:
        reply = await conn.call(HELLO, HelloRequest("PC2"))

The connection is refused unless the server proves the key its peer id names
(:class:`PeerMismatch`); an ERROR from the server raises
:class:`ChannelRefused` with its code. One request at a time per connection.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import AsyncIterable, Awaitable
from types import TracebackType

from peerwork.channel_cert import ChannelCertError, peer_id_of_certificate
from peerwork.identity import Identity
from peerwork.proto.channel import (
    ChannelProtocolError,
    ErrorCode,
    ErrorReply,
    Frame,
    Reply,
    Request,
)
from peerwork.proto.channel_body import BodyError, Rep, Req, RequestKind
from peerwork.proto.channel_state import Phase, Side

from .errors import ChannelError, ChannelRefused, PeerMismatch
from .tls import channel_context
from .wire import BodyStream, FrameStream

# What a reply stream may bring unless the caller says otherwise.
DEFAULT_REPLY_STREAM = 128 * 1024 * 1024


class ChannelClient:
    def __init__(
        self, identity: Identity, *, connect_timeout: float = 10.0, idle: float = 60.0
    ) -> None:
        self.identity = identity
        self.connect_timeout = connect_timeout
        self.idle = idle
        self._context: ssl.SSLContext | None = None

    def _ssl(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = channel_context(self.identity, server=False)
        return self._context

    async def connect(self, peer_id: str, host: str, port: int) -> ChannelConnection:
        where = f"{host} port {port}"
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=self._ssl(),
                    server_hostname=peer_id,
                    ssl_handshake_timeout=self.connect_timeout,
                )
        except TimeoutError:
            raise ChannelError(f"no channel to {where}: timed out") from None
        except ssl.SSLError as exc:
            raise ChannelError(f"no channel to {where}: TLS failed ({exc.reason})") from None
        except OSError as exc:
            raise ChannelError(f"no channel to {where}: {exc.strerror or exc}") from None
        frames = FrameStream(reader, writer, side=Side.CLIENT, idle=self.idle)
        try:
            actual = peer_id_of_certificate(
                writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            )
        except ChannelCertError as exc:
            await frames.close()
            raise PeerMismatch(f"{where}: {exc.message}") from None
        if actual != peer_id:
            await frames.close()
            raise PeerMismatch(f"{where} is peer {actual}, not {peer_id}: refusing to talk to it")
        return ChannelConnection(peer_id, frames)


class ChannelConnection:
    def __init__(self, peer_id: str, frames: FrameStream) -> None:
        self.peer_id = peer_id
        self._frames = frames
        self._lock = asyncio.Lock()

    async def call(
        self,
        kind: RequestKind[Req, Rep],
        request: Req,
        *,
        upload: AsyncIterable[bytes] | None = None,
    ) -> Rep:
        """Send one request (with an optional body stream); its typed reply."""
        async with self._lock:
            reply, stream = await self._exchange(kind, request, upload)
            if stream is not None:
                self._frames.conversation.close()
                raise ChannelError(f"{kind.name} answered with a stream; use call_streamed")
            return reply

    async def call_streamed(
        self,
        kind: RequestKind[Req, Rep],
        request: Req,
        *,
        upload: AsyncIterable[bytes] | None = None,
        limit: int = DEFAULT_REPLY_STREAM,
    ) -> tuple[Rep, BodyStream]:
        """As :meth:`call` for a reply with a body stream; read the stream before the next call."""
        async with self._lock:
            reply, stream = await self._exchange(kind, request, upload, limit)
            if stream is None:
                raise ChannelError(f"{kind.name} answered without a stream")
            return reply, stream

    async def _exchange(
        self,
        kind: RequestKind[Req, Rep],
        request: Req,
        upload: AsyncIterable[bytes] | None,
        limit: int = DEFAULT_REPLY_STREAM,
    ) -> tuple[Rep, BodyStream | None]:
        frames = self._frames
        if frames.phase is Phase.REPLY_BODY:
            raise ChannelError("read the previous reply's stream to its end first")
        if frames.phase is not Phase.IDLE:
            raise ChannelError("this channel connection is no longer usable; open a new one")
        await frames.write(
            Request(kind.name, kind.version, request.to_body(), stream=upload is not None)
        )
        if upload is None:
            frame = await self._read(frames.read())
        else:
            frame = await self._upload(upload)
        if isinstance(frame, ErrorReply):
            if frame.code in (ErrorCode.FORBIDDEN, ErrorCode.BAD_FRAME):
                frames.conversation.close()  # the server hangs up after these
            raise ChannelRefused.of(frame)
        if frame is None:
            raise ChannelError(f"peer {self.peer_id} closed the channel")
        if not isinstance(frame, Reply):  # the conversation admits nothing else here
            raise ChannelError(f"peer {self.peer_id} answered with a {type(frame).__name__}")
        try:
            reply = kind.parse_reply(frame.body)
        except BodyError as exc:
            frames.conversation.close()
            raise ChannelError(f"peer {self.peer_id}'s {kind.name} reply: {exc.message}") from None
        return reply, BodyStream(frames, limit) if frame.stream else None

    async def _upload(self, upload: AsyncIterable[bytes]) -> Frame | None:
        """Send the body stream while listening: a server that refuses mid-stream
        (too large, mailbox full) is heard at once, and we stop sending."""
        frames = self._frames
        answer = asyncio.ensure_future(frames.read(idle=math.inf))
        try:
            try:
                await frames.send_stream(upload, stop=answer.done)
            except ChannelError:
                # Cut while sending: the reason may be on its way; wait a moment for it.
                await asyncio.wait({answer}, timeout=1.0)
                if not answer.done() or answer.exception() is not None:
                    raise
                if not isinstance(answer.result(), ErrorReply):
                    raise
            async with asyncio.timeout(frames.idle):
                return await self._read(answer)
        except TimeoutError:
            raise ChannelError(f"peer {self.peer_id} sent no answer in time") from None
        finally:
            answer.cancel()

    async def _read(self, pending: Awaitable[Frame | None]) -> Frame | None:
        try:
            return await pending
        except ChannelProtocolError as exc:
            raise ChannelError(f"peer {self.peer_id} sent a bad frame: {exc.message}") from None

    async def close(self) -> None:
        await self._frames.close()

    async def __aenter__(self) -> ChannelConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
