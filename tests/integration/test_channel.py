"""The channel server and client over loopback: real TLS 1.3 sockets, hostile clients.

Clients are our ChannelClient, Python's ``ssl`` with a self-made certificate,
and plain sockets sending garbage or stalling the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import logging
import random
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from peerwork.agents.channel.client import ChannelClient, ChannelConnection
from peerwork.agents.channel.errors import ChannelError, ChannelRefused, PeerMismatch
from peerwork.agents.channel.handlers import Answer, Caller, HandlerRegistry
from peerwork.agents.channel.server import ChannelLimits, ChannelServer
from peerwork.agents.channel.wire import BodyStream
from peerwork.channel_cert import CA_SEED, channel_ca_pem
from peerwork.identity import Identity
from peerwork.proto.channel import (
    CHUNK_SIZE,
    Chunk,
    End,
    ErrorCode,
    ErrorReply,
    Reply,
    Request,
)
from peerwork.proto.channel_body import BodyError, RequestKind, integer, text
from peerwork.proto.channel_hello import HELLO, HelloReply, HelloRequest
from tests.helpers.channel_probe import self_signed_context

SERVER = Identity.generate("server")
FRIEND = Identity.generate("friend")
STRANGER = Identity.generate("stranger")
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Blob:
    """Test body: a name and a size (also the reply of the upload test)."""

    name: str
    size: int = 0
    sha256: str = ""

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Blob:
        return cls(
            text(body, "name"),
            integer(body, "size", low=0, high=1 << 40),
            text(body, "sha256", max_len=64),
        )


UPLOAD: RequestKind[Blob, Blob] = RequestKind("test.upload", 1, Blob.parse, Blob.parse)
DOWNLOAD: RequestKind[Blob, Blob] = RequestKind("test.download", 1, Blob.parse, Blob.parse)
SMALL_UPLOAD: RequestKind[Blob, Blob] = RequestKind("test.small", 1, Blob.parse, Blob.parse)
GATE: RequestKind[Blob, Blob] = RequestKind("test.gate", 1, Blob.parse, Blob.parse)
BOOM: RequestKind[Blob, Blob] = RequestKind("test.boom", 1, Blob.parse, Blob.parse)


class Lab:
    def __init__(self, limits: ChannelLimits) -> None:
        self.calls: list[tuple[str, str]] = []
        self.largest_chunk = 0
        handlers = HandlerRegistry()
        handlers.add(HELLO, self.hello)
        handlers.add(UPLOAD, self.upload, max_stream=64 * MB)
        handlers.add(SMALL_UPLOAD, self.upload, max_stream=2 * MB)
        handlers.add(GATE, self.gate, max_stream=1 << 30)
        handlers.add(DOWNLOAD, self.download)
        handlers.add(BOOM, self.boom)
        self.server = ChannelServer(
            identity=SERVER,
            handlers=handlers,
            policy=lambda peer_id: peer_id == FRIEND.peer_id,
            host="127.0.0.1",
            port=0,
            limits=limits,
        )

    async def hello(self, caller: Caller, req: HelloRequest, _: BodyStream | None) -> HelloReply:
        self.calls.append(("hello", caller.peer_id))
        return HelloReply("SERVER", SERVER.peer_id, "OFFICE", "test", 1)

    async def upload(self, caller: Caller, req: Blob, stream: BodyStream | None) -> Blob:
        self.calls.append(("upload", caller.peer_id))
        assert stream is not None
        digest = hashlib.sha256()
        async for chunk in stream:
            self.largest_chunk = max(self.largest_chunk, len(chunk))
            digest.update(chunk)
        return Blob(req.name, stream.received, digest.hexdigest())

    async def download(self, caller: Caller, req: Blob, _: BodyStream | None) -> Answer[Blob]:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(req.size // MB):
                yield b"d" * MB

        return Answer(Blob(req.name, req.size), chunks())

    async def gate(self, caller: Caller, req: Blob, stream: BodyStream | None) -> Blob:
        raise ChannelRefused(150, "mailbox full")  # before reading a byte of the stream

    async def boom(self, caller: Caller, req: Blob, _: BodyStream | None) -> Blob:
        if req.name == "refuse":
            raise ChannelRefused(150, "mailbox full")
        if req.name == "body":
            raise BodyError("field 'name' is wrong")
        raise RuntimeError("handler bug")

    @property
    def port(self) -> int:
        return self.server.port

    async def connect(self, who: Identity = FRIEND, expect: Identity = SERVER) -> ChannelConnection:
        return await ChannelClient(who, connect_timeout=5).connect(
            expect.peer_id, "127.0.0.1", self.port
        )

    async def hello_round_trip(self) -> float:
        started = time.monotonic()
        async with await self.connect() as conn:
            reply = await conn.call(HELLO, HelloRequest("FRIEND"))
        assert reply.peer_id == SERVER.peer_id
        return time.monotonic() - started


@pytest.fixture
async def lab(request: pytest.FixtureRequest) -> AsyncIterator[Lab]:
    """A server on loopback; ``indirect`` parametrisation passes ChannelLimits fields."""
    lab = Lab(ChannelLimits(**getattr(request, "param", {})))
    await lab.server.start()
    try:
        yield lab
    finally:
        await lab.server.stop()


async def test_hello_between_verified_peers(lab: Lab) -> None:
    async with await lab.connect() as conn:
        reply = await conn.call(HELLO, HelloRequest("FRIEND"))
        again = await conn.call(HELLO, HelloRequest("FRIEND"))
    assert reply == again == HelloReply("SERVER", SERVER.peer_id, "OFFICE", "test", 1)
    assert lab.calls == [("hello", FRIEND.peer_id)] * 2
    assert lab.server.counters.accepted == 1


async def test_a_valid_peer_the_policy_does_not_accept_is_refused_before_any_request(
    lab: Lab,
) -> None:
    with pytest.raises(ChannelRefused) as info:
        async with await lab.connect(who=STRANGER) as conn:
            await conn.call(HELLO, HelloRequest("STRANGER"))
    assert info.value.error == ErrorCode.FORBIDDEN
    assert STRANGER.peer_id in info.value.detail
    assert lab.calls == []
    assert lab.server.counters.requests == 0
    assert lab.server.counters.refused_peer == 1


async def test_a_self_made_certificate_claiming_a_friend_fails_the_handshake(lab: Lab) -> None:
    def attempt() -> bytes:
        ctx = self_signed_context(FRIEND.peer_id)
        with (
            socket.create_connection(("127.0.0.1", lab.port), timeout=5) as raw,
            ctx.wrap_socket(raw) as tls,
        ):
            tls.sendall(Request("hello", 1, {"name": "EVIL"}).pack())
            return tls.recv(100)

    # TLS 1.3 lets the client finish first; the server then fails the handshake and
    # hangs up, so the request gets no answer at all (or an alert).
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        assert await asyncio.to_thread(attempt) == b""
    assert lab.calls == []
    assert lab.server.counters.failed_handshake == 1


async def test_the_client_refuses_a_server_with_another_key(lab: Lab) -> None:
    with pytest.raises(PeerMismatch, match="refusing"):
        await lab.connect(expect=STRANGER)
    assert lab.calls == []


@pytest.mark.parametrize("lab", [{"handshake": 1.0}], indirect=True)
async def test_garbage_and_stalled_handshakes_cost_bounded_time(lab: Lab) -> None:
    def garbage() -> float:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", lab.port), timeout=10) as sock:
            try:
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n" * 100)
                while sock.recv(4096):
                    pass
            except OSError:
                pass
        return time.monotonic() - started

    assert await asyncio.to_thread(garbage) < 3
    stalled = [socket.create_connection(("127.0.0.1", lab.port)) for _ in range(3)]
    try:
        for sock in stalled:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01")  # half a ClientHello, then silence
        # Others are served while the stalled handshakes wait for their deadline.
        assert await lab.hello_round_trip() < 2
        started = time.monotonic()
        for sock in stalled:
            sock.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.to_thread(sock.recv, 100) == b""
        assert time.monotonic() - started < 3
    finally:
        for sock in stalled:
            sock.close()
    assert lab.server.counters.failed_handshake == 4
    assert lab.server.connection_count() == 0
    assert lab.calls == [("hello", FRIEND.peer_id)]


@pytest.mark.parametrize("lab", [{"handshake": 5.0, "per_address": 2}], indirect=True)
async def test_connections_per_address_are_bounded(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    stalled = [socket.create_connection(("127.0.0.1", lab.port)) for _ in range(2)]
    try:
        await asyncio.sleep(0.2)
        with pytest.raises(ChannelError):
            await lab.connect()
        assert lab.server.counters.refused_limit == 1
        # A flood of refused connections is one log line, not one per attempt.
        for _ in range(200):
            _, writer = await asyncio.open_connection("127.0.0.1", lab.port)
            writer.close()
        for _ in range(50):
            if lab.server.counters.refused_limit == 201:
                break
            await asyncio.sleep(0.05)
        assert lab.server.counters.refused_limit == 201
        assert caplog.text.count("too many connections") == 1
    finally:
        for sock in stalled:
            sock.close()
    for _ in range(50):
        if lab.server.connection_count() == 0:
            break
        await asyncio.sleep(0.1)
    assert await lab.hello_round_trip() < 2


async def test_unknown_types_versions_and_handler_failures_keep_the_connection(lab: Lab) -> None:
    async with await lab.connect() as conn:
        newer: RequestKind[HelloRequest, HelloReply] = RequestKind(
            "hello", 9, HelloRequest.parse, HelloReply.parse
        )
        with pytest.raises(ChannelRefused) as info:
            await conn.call(newer, HelloRequest("FRIEND"))
        assert info.value.error == ErrorCode.UNSUPPORTED_VERSION
        assert "versions here: 1" in info.value.detail
        missing: RequestKind[Blob, Blob] = RequestKind("mail.deliver", 1, Blob.parse, Blob.parse)
        with pytest.raises(ChannelRefused) as info:
            await conn.call(missing, Blob("x"))
        assert info.value.error == ErrorCode.UNKNOWN_REQUEST
        for name, code in (
            ("refuse", 150),
            ("body", ErrorCode.BAD_BODY),
            ("bug", ErrorCode.INTERNAL),
        ):
            with pytest.raises(ChannelRefused) as info:
                await conn.call(BOOM, Blob(name))
            assert info.value.error == code
        assert (await conn.call(HELLO, HelloRequest("FRIEND"))).name == "SERVER"


async def test_a_malformed_body_is_refused_with_its_field(lab: Lab) -> None:
    async with await lab.connect() as conn:
        frames = conn._frames
        await frames.write(Request("hello", 1, {"name": 7}))
        error = await frames.read()
    assert error is not None
    assert error.pack()[5:7] == ErrorCode.BAD_BODY.to_bytes(2, "big")
    assert lab.calls == []


async def test_garbage_frames_after_the_handshake_close_the_connection(lab: Lab) -> None:
    async with await lab.connect() as conn:
        frames = conn._frames
        frames.writer.write(b"\xff\xff\xff\xff" + b"x" * 100)  # a 4 GB frame claim
        error = await frames.read()
        assert error is not None and "outside" in error.message  # type: ignore[union-attr]
        assert await frames.read() is None  # then the server hangs up
    assert lab.calls == []
    assert await lab.hello_round_trip() < 2


async def test_frames_out_of_turn_close_the_connection(lab: Lab) -> None:
    async with await lab.connect() as conn:
        frames = conn._frames
        frames.writer.write(End().pack())  # an END with no stream open
        error = await frames.read()
        assert isinstance(error, ErrorReply) and error.code == ErrorCode.BAD_FRAME
        assert "out of turn" in error.message
        assert await frames.read() is None
    assert lab.calls == []


@pytest.mark.parametrize("lab", [{"idle": 0.5}], indirect=True)
async def test_an_idle_verified_client_is_dropped(lab: Lab) -> None:
    async with await lab.connect() as conn:
        await asyncio.sleep(1.5)
        with pytest.raises(ChannelError):
            await conn.call(HELLO, HelloRequest("FRIEND"))


async def test_streams_move_large_bodies_in_bounded_chunks(lab: Lab) -> None:
    size = 24 * MB
    block = bytes(range(256)) * 4096  # 1 MiB

    async def source() -> AsyncIterator[bytes]:
        for _ in range(size // MB):
            yield block

    async with await lab.connect() as conn:
        reply = await conn.call(UPLOAD, Blob("big"), upload=source())
        assert reply.size == size
        assert reply.sha256 == hashlib.sha256(block * (size // MB)).hexdigest()
        assert lab.largest_chunk <= CHUNK_SIZE
        head, stream = await conn.call_streamed(DOWNLOAD, Blob("back", 8 * MB))
        received = 0
        async for chunk in stream:
            assert len(chunk) <= CHUNK_SIZE
            received += len(chunk)
        assert (head.name, received) == ("back", 8 * MB)
        # The connection is reusable once the reply stream is read.
        assert (await conn.call(HELLO, HelloRequest("FRIEND"))).name == "SERVER"


async def test_a_stream_over_the_handlers_limit_is_cut(lab: Lab) -> None:
    async def source() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"z" * MB

    async with await lab.connect() as conn:
        with pytest.raises(ChannelRefused) as info:
            await conn.call(SMALL_UPLOAD, Blob("huge"), upload=source())
    assert info.value.error == ErrorCode.TOO_LARGE
    assert await lab.hello_round_trip() < 2


async def test_a_refusal_mid_upload_stops_the_sender_at_once(lab: Lab) -> None:
    sent = 0

    async def source() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(500):  # 500 MB if nobody stopped us
            sent += 1
            yield b"m" * MB

    started = time.monotonic()
    async with await lab.connect() as conn:
        with pytest.raises(ChannelRefused) as info:
            await conn.call(GATE, Blob("bob"), upload=source())
        assert info.value.error == 150 and info.value.detail == "mailbox full"
        with pytest.raises(ChannelError, match="no longer usable"):
            await conn.call(HELLO, HelloRequest("FRIEND"))
    assert sent < 100, f"{sent} MB sent after the refusal"
    assert time.monotonic() - started < 10
    assert await lab.hello_round_trip() < 2


async def test_random_frame_sequences_from_a_verified_peer_never_disturb_the_server(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """100 seeded random sequences of well-formed and mutated frames, each on its own
    connection: every one is answered or closed in bounded time, nothing is logged
    as a failure, and the server keeps serving."""
    rng = random.Random(13)

    def random_frame() -> bytes:
        choice = rng.randrange(7)
        if choice == 0:
            name = rng.choice(["hello", "test.upload", "test.small", "test.boom", "nope"])
            body = rng.choice([{}, {"name": "x"}, {"name": 5}, {"name": "x", "size": -1}])
            wire = Request(name, rng.choice([1, 2]), body, stream=rng.random() < 0.3).pack()
        elif choice == 1:
            wire = Chunk(rng.randbytes(rng.randrange(1, 300))).pack()
        elif choice == 2:
            wire = End().pack()
        elif choice == 3:
            wire = ErrorReply(rng.randrange(0, 200), "x").pack()
        elif choice == 4:
            wire = Reply({"a": 1}).pack()
        elif choice == 5:
            wire = rng.randbytes(rng.randrange(1, 40))
        else:
            wire = bytearray(Request("hello", 1, {"name": "FRIEND"}).pack())
            wire[rng.randrange(len(wire))] = rng.randrange(256)
            wire = bytes(wire)
        return wire

    caplog.set_level(logging.WARNING, logger="peerwork.channel")
    for _ in range(100):
        async with await lab.connect() as conn:
            writer = conn._frames.writer
            for _ in range(rng.randrange(1, 6)):
                writer.write(random_frame())
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            # Whatever comes back, the server answers or hangs up within its deadlines.
            reader = conn._frames.reader
            async with asyncio.timeout(10):
                while True:
                    try:
                        data = await asyncio.wait_for(reader.read(65536), 0.1)
                    except TimeoutError:
                        break  # waiting for more from us: fine, we close
                    except (ConnectionError, ssl.SSLError):
                        break
                    if not data:
                        break
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert lab.server.connection_count() <= 1
    assert await lab.hello_round_trip() < 2


async def test_a_public_ca_certificate_for_a_foreign_key_type_is_refused(lab: Lab) -> None:
    """The channel CA's key is public: an attacker can issue any certificate with it.
    One for an EC key, naming a friend's peer id, passes the chain check and is
    still refused, because only an Ed25519 key maps to a peer id."""
    ca = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(CA_SEED).digest())
    ca_name = x509.load_pem_x509_certificate(channel_ca_pem().encode()).subject
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FRIEND.peer_id)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC))
        .sign(ca, None)
    )

    def attempt(folder: str) -> bytes:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        cert_path, key_path = f"{folder}/c.pem", f"{folder}/k.pem"
        with open(cert_path, "wb") as out:
            out.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as out:
            out.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        ctx.load_cert_chain(cert_path, key_path)
        with (
            socket.create_connection(("127.0.0.1", lab.port), timeout=5) as raw,
            ctx.wrap_socket(raw) as tls,
        ):
            tls.sendall(Request("hello", 1, {"name": "EVIL"}).pack())
            return tls.recv(100)

    with tempfile.TemporaryDirectory() as folder, contextlib.suppress(ssl.SSLError, OSError):
        assert await asyncio.to_thread(attempt, folder) == b""
    assert lab.calls == []
    assert lab.server.counters.refused_peer == 1
    assert lab.server.counters.requests == 0
