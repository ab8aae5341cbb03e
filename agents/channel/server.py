"""The channel's listening end: TLS 1.3 with the peer keys, then typed requests.

Per connection: count it against the per-address and total limits (before any
TLS work, so a flood of stalled handshakes costs a bounded number of sockets),
run the handshake under a deadline, map the client's certificate key to a
peer id and ask the policy. A refused client gets one ERROR frame and the
connection is closed; no request of it is ever read — unless open request
kinds are registered (the join PAKE): then it is served those and nothing
else, and any other request gets the ERROR frame and the close. An accepted client sends
requests one at a time, each bounded in size (frames) and time (idle and
request deadlines).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from peerwork.channel_cert import ChannelCertError, peer_id_of_certificate
from peerwork.identity import Identity
from peerwork.proto.channel import (
    ChannelProtocolError,
    ErrorCode,
    ErrorReply,
    Reply,
    Request,
    UnsupportedChannel,
)
from peerwork.proto.channel_body import BodyError
from peerwork.proto.channel_state import Phase, Side

from ..log_throttle import Throttle
from ..service import EventSink, no_events
from .errors import ChannelError, ChannelRefused
from .handlers import Caller, HandlerRegistry
from .tls import channel_context
from .wire import BodyStream, FrameStream

log = logging.getLogger("peerwork.channel")

# Is this verified peer id allowed to call us? (the trust issue tightens it to members)
PeerPolicy = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    handshake: float = 10.0  # seconds for TCP accept to a verified peer id
    idle: float = 60.0  # seconds a frame may take; also between requests
    request: float = 60.0  # seconds a handler without a stream may run
    per_address: int = 8  # open connections from one address
    total: int = 128  # open connections in all


DEFAULT_LIMITS = ChannelLimits()
# Seconds we keep reading (and dropping) a body stream we refused before closing.
STREAM_REFUSAL_GRACE = 2.0


@dataclass
class ChannelCounters:
    accepted: int = 0
    refused_limit: int = 0
    failed_handshake: int = 0
    refused_peer: int = 0
    requests: int = 0
    errors: int = 0


class ChannelServer:
    def __init__(
        self,
        *,
        identity: Identity,
        handlers: HandlerRegistry,
        policy: PeerPolicy,
        host: str,
        port: int,
        limits: ChannelLimits = DEFAULT_LIMITS,
        emit: EventSink = no_events,
    ) -> None:
        """``emit`` gets a ``channel-refused`` event for each caller refused by key."""
        self.identity = identity
        self.emit = emit
        self.handlers = handlers
        self.policy = policy
        self.host = host
        self.requested_port = port
        self.limits = limits
        self.counters = ChannelCounters()
        # A flood of refused connections is one log line a minute, not one per attempt.
        self._refusals = Throttle(log)
        self._context = channel_context(identity, server=True)
        self._server: asyncio.Server | None = None
        self._by_address: Counter[str] = Counter()
        self._open: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.requested_port, reuse_address=True
        )

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the channel server is not running")
        return int(self._server.sockets[0].getsockname()[1])

    def connection_count(self) -> int:
        return sum(self._by_address.values())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._open):
                task.cancel()
            await asyncio.gather(*self._open, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if (
            self.connection_count() >= self.limits.total
            or self._by_address[address] >= self.limits.per_address
        ):
            self.counters.refused_limit += 1
            self._refusals.log(
                "limit", logging.WARNING, "channel: too many connections from %s; refused", address
            )
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        self._by_address[address] += 1
        frames = FrameStream(reader, writer, side=Side.SERVER, idle=self.limits.idle)
        try:
            caller = await self._handshake(frames, address)
            if caller is not None:
                await self._serve(frames, caller)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("channel: connection from %s failed", address)
        finally:
            self._by_address[address] -= 1
            if not self._by_address[address]:
                del self._by_address[address]
            self._open.discard(task)
            # Also when cancelled (agent stopping): the socket is closed either way, and
            # Python 3.11's stream server logs a cancelled handler as an error.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await frames.close()

    async def _handshake(self, frames: FrameStream, address: str) -> Caller | None:
        """The client, by its verified peer id, or None after refusing it."""
        writer = frames.writer
        # StreamWriter.start_tls marks the protocol as TLS only once the handshake is
        # done; a client hanging up during it would make asyncio log a bogus warning.
        protocol = getattr(writer, "_protocol", None)
        if protocol is not None and hasattr(protocol, "_over_ssl"):
            protocol._over_ssl = True
        try:
            async with asyncio.timeout(self.limits.handshake):
                await writer.start_tls(self._context, ssl_handshake_timeout=self.limits.handshake)
        except (TimeoutError, ssl.SSLError, ConnectionError, OSError) as exc:
            self.counters.failed_handshake += 1
            log.info("channel: TLS handshake with %s failed: %s", address, exc or "timed out")
            writer.transport.abort()
            return None
        ssl_object = writer.get_extra_info("ssl_object")
        try:
            peer_id = peer_id_of_certificate(ssl_object.getpeercert(binary_form=True))
        except ChannelCertError as exc:
            self._refused(address, None, exc.message)
            return None
        admitted = self.policy(peer_id)
        if not admitted and self.handlers.has_open():
            log.debug("channel: %s is peer %s, served open requests only", address, peer_id)
            self.counters.accepted += 1
            return Caller(peer_id, address, admitted=False)
        if not admitted:
            self._refused(address, peer_id, "not a peer this PC accepts")
            # One frame saying why, so the caller's user sees a reason, not a reset.
            await self._send_error(
                frames, ErrorCode.FORBIDDEN, f"peer {peer_id} is not accepted here"
            )
            return None
        self.counters.accepted += 1
        log.debug("channel: %s is peer %s", address, peer_id)
        return Caller(peer_id, address)

    def _refused(self, address: str, peer_id: str | None, reason: str) -> None:
        self.counters.refused_peer += 1
        log.warning("channel: %s (peer %s) refused: %s", address, peer_id or "?", reason)
        self.emit("channel-refused", {"address": address, "peer_id": peer_id, "reason": reason})

    async def _serve(self, frames: FrameStream, caller: Caller) -> None:
        while True:
            try:
                frame = await frames.read()
            except ChannelError:
                return  # idle too long or cut: nothing to answer
            except UnsupportedChannel as exc:
                await self._send_error(frames, ErrorCode.UNSUPPORTED_CHANNEL, exc.message)
                return
            except ChannelProtocolError as exc:
                await self._send_error(frames, ErrorCode.BAD_FRAME, exc.message)
                return
            if frame is None:
                return
            if not isinstance(frame, Request):
                await self._send_error(frames, ErrorCode.BAD_FRAME, "expected a request")
                return
            if not await self._answer(frames, caller, frame):
                return

    async def _answer(self, frames: FrameStream, caller: Caller, request: Request) -> bool:
        """Run one request; False when the connection must close after it."""
        stream: BodyStream | None = None
        if not caller.admitted and not self.handlers.is_open(request.name, request.version):
            self._refused(caller.address, caller.peer_id, "not a peer this PC accepts")
            message = f"peer {caller.peer_id} is not accepted here"
            await self._send_error(frames, ErrorCode.FORBIDDEN, message)
            return False
        self.counters.requests += 1
        try:
            entry = self.handlers.lookup(request.name, request.version)
            if request.stream:
                if not entry.max_stream:
                    raise ChannelRefused(
                        ErrorCode.BAD_FRAME, f"{request.name} takes no body stream"
                    )
                stream = BodyStream(frames, entry.max_stream)
                answer = await entry.call(caller, request.body, stream)
                # What the handler left unread (within its limit): the reply may only
                # follow the stream's END, so the connection stays in step.
                async for _ in stream:
                    pass
            else:
                async with asyncio.timeout(self.limits.request):
                    answer = await entry.call(caller, request.body, None)
        except ChannelRefused as exc:
            return await self._refuse(frames, exc.error, exc.detail)
        except BodyError as exc:
            return await self._refuse(frames, ErrorCode.BAD_BODY, exc.message)
        except TimeoutError:
            message = f"{request.name} took too long"
            return await self._refuse(frames, ErrorCode.TIMEOUT, message)
        except ChannelProtocolError as exc:
            await self._send_error(frames, ErrorCode.BAD_FRAME, exc.message)
            return False
        except ChannelError:
            return False
        except Exception:
            log.exception("channel: %s from %s failed", request.name, caller.peer_id)
            message = f"{request.name} failed here"
            return await self._refuse(frames, ErrorCode.INTERNAL, message)
        try:
            await frames.write(Reply(answer.reply.to_body(), stream=answer.stream is not None))
            if answer.stream is not None:
                await frames.send_stream(answer.stream)
        except ChannelError:
            return False
        return frames.phase is Phase.IDLE

    async def _refuse(self, frames: FrameStream, code: int, message: str) -> bool:
        """Answer ERROR; False (close) when that cut a request stream, after a short
        grace that lets the refusal reach the sender before our close resets it."""
        await self._send_error(frames, code, message)
        if frames.phase is Phase.IDLE:
            return True
        await frames.discard(STREAM_REFUSAL_GRACE)
        return False

    async def _send_error(self, frames: FrameStream, code: int, message: str) -> None:
        self.counters.errors += 1
        if frames.phase is Phase.CLOSING:
            return  # the other side cut the conversation; nothing more may be sent
        with contextlib.suppress(ChannelError):
            await frames.write(ErrorReply(code, message[:500]))
