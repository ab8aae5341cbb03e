"""Benchmark: the agent-to-agent channel vs a bare asyncio TLS 1.3 stream.

The reference is the ceiling of this design: the same TLS 1.3 contexts and
keys, the same asyncio streams, but no framing, no typed bodies, no handlers.
Both servers run in one child process on 127.0.0.1; the client runs here.

    .venv/bin/python bench/channel.py [--size-mb 200] [--calls 2000] [--connects 200] [--reps 3]

Workloads: stream ``--size-mb`` to the server (the channel: a streamed request
whose handler hashes the chunks; raw: bytes the server hashes until EOF, then
one reply), ``--calls`` small request/reply round trips on one connection, and
``--connects`` fresh connections each with a handshake and one round trip.
The median repetition is printed with the ratio channel/raw.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import statistics
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any

from peerwork.agents.channel.client import ChannelClient
from peerwork.agents.channel.handlers import Caller, HandlerRegistry
from peerwork.agents.channel.server import ChannelLimits, ChannelServer
from peerwork.agents.channel.tls import channel_context
from peerwork.agents.channel.wire import BodyStream
from peerwork.identity import Identity
from peerwork.proto.channel_hello import HELLO, HelloReply, HelloRequest

MB = 1024 * 1024
BLOCK = bytes(range(256)) * 1024  # 256 KiB


async def _serve(server_id: Identity, client_id: Identity, pipe: Connection) -> None:
    handlers = HandlerRegistry()

    async def hello(caller: Caller, req: HelloRequest, stream: BodyStream | None) -> HelloReply:
        if stream is not None:
            digest = hashlib.sha256()
            async for chunk in stream:
                digest.update(chunk)
            return HelloReply(req.name, digest.hexdigest(), "", "", stream.received % 65536)
        return HelloReply(req.name, server_id.peer_id, "OFFICE", "bench", 1)

    handlers.add(HELLO, hello, max_stream=1 << 40)
    channel = ChannelServer(
        identity=server_id,
        handlers=handlers,
        policy=lambda peer_id: peer_id == client_id.peer_id,
        host="127.0.0.1",
        port=0,
        limits=ChannelLimits(per_address=1000, total=1000),
    )
    await channel.start()

    async def raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # One byte says the mode: "s" stream until EOF of a length-prefixed upload, "p" ping-pong.
        mode = await reader.readexactly(1)
        if mode == b"s":
            size = int.from_bytes(await reader.readexactly(8), "big")
            digest = hashlib.sha256()
            while size:
                data = await reader.read(min(size, 256 * 1024))
                if not data:
                    break
                size -= len(data)
                digest.update(data)
            writer.write(digest.digest())
        else:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        await writer.drain()
        writer.close()

    raw_server = await asyncio.start_server(
        raw, "127.0.0.1", 0, ssl=channel_context(server_id, server=True)
    )
    pipe.send((channel.port, raw_server.sockets[0].getsockname()[1]))
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told to stop
    raw_server.close()
    await channel.stop()


def _server_process(server_id: bytes, client_id: bytes, pipe: Connection) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    def load(pem: bytes) -> Identity:
        key = load_pem_private_key(pem, None)
        return Identity(key, b"")  # type: ignore[arg-type]

    asyncio.run(_serve(load(server_id), load(client_id), pipe))


def _pem(identity: Identity) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return identity.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


async def _blocks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // len(BLOCK)):
        yield BLOCK


class Bench:
    def __init__(self, server_id: Identity, client_id: Identity, ports: tuple[int, int]) -> None:
        self.server_id = server_id
        self.client = ChannelClient(client_id)
        self.ctx = channel_context(client_id, server=False)
        self.channel_port, self.raw_port = ports

    async def channel_stream(self, size: int) -> None:
        async with await self.client.connect(
            self.server_id.peer_id, "127.0.0.1", self.channel_port
        ) as conn:
            await conn.call(HELLO, HelloRequest("BENCH"), upload=_blocks(size))

    async def raw_stream(self, size: int) -> None:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.raw_port, ssl=self.ctx, server_hostname="x"
        )
        writer.write(b"s" + size.to_bytes(8, "big"))
        async for block in _blocks(size):
            writer.write(block)
            await writer.drain()
        await reader.readexactly(32)
        writer.close()

    async def channel_calls(self, calls: int) -> None:
        async with await self.client.connect(
            self.server_id.peer_id, "127.0.0.1", self.channel_port
        ) as conn:
            for _ in range(calls):
                await conn.call(HELLO, HelloRequest("BENCH"))

    async def raw_calls(self, calls: int) -> None:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.raw_port, ssl=self.ctx, server_hostname="x"
        )
        writer.write(b"p")
        for _ in range(calls):
            writer.write(b'{"name":"BENCH"}\n')
            await writer.drain()
            await reader.readline()
        writer.close()

    async def channel_connects(self, count: int) -> None:
        for _ in range(count):
            await self.channel_calls(1)

    async def raw_connects(self, count: int) -> None:
        for _ in range(count):
            await self.raw_calls(1)


async def _time(make: Callable[[], Coroutine[Any, Any, None]], reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        await make()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def run(args: argparse.Namespace, bench: Bench) -> None:
    size = args.size_mb * MB
    rows = [
        (
            f"stream {args.size_mb} MB",
            "MB/s",
            args.size_mb,
            lambda: bench.channel_stream(size),
            lambda: bench.raw_stream(size),
        ),
        (
            f"{args.calls} round trips",
            "calls/s",
            args.calls,
            lambda: bench.channel_calls(args.calls),
            lambda: bench.raw_calls(args.calls),
        ),
        (
            f"{args.connects} connects",
            "conn/s",
            args.connects,
            lambda: bench.channel_connects(args.connects),
            lambda: bench.raw_connects(args.connects),
        ),
    ]
    print("| workload | raw TLS 1.3 | channel | channel/raw |\n|---|---|---|---|")
    for name, unit, amount, channel, raw in rows:
        t_raw = await _time(raw, args.reps)
        t_channel = await _time(channel, args.reps)
        r, c = amount / t_raw, amount / t_channel
        print(f"| {name} | {r:,.0f} {unit} | {c:,.0f} {unit} | {c / r:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--connects", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    server_id, client_id = Identity.generate("server"), Identity.generate("client")
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(
        target=_server_process, args=(_pem(server_id), _pem(client_id), theirs), daemon=True
    )
    child.start()
    try:
        if not ours.poll(30):
            raise SystemExit("the benchmark server did not start")
        ports = ours.recv()
        asyncio.run(run(args, Bench(server_id, client_id, ports)))
    finally:
        ours.send("stop")
        child.join(10)
        if child.is_alive():
            child.terminate()


if __name__ == "__main__":
    main()
