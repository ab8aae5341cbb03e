"""Asking the upstream resolvers: UDP first, TCP when the answer is truncated.

Each query goes out from its own socket (a fresh random source port, as
RFC 5452 asks, so an off-path attacker can't guess where to spoof replies)
with a fresh random ID; a reply counts only if its ID and question match.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
from collections.abc import Sequence

from dnslib import DNSRecord

from peerwork.proto.dns import DnsError, Question, first_question, parse_message

TIMEOUT = 2.0


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, want_id: int, question: Question) -> None:
        self.want_id = want_id
        self.question = question
        self.done: asyncio.Future[DNSRecord] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = parse_message(data)
        except DnsError:
            return  # junk or spoofing: keep waiting for the real answer
        ours = reply.header.id == self.want_id and first_question(reply) == self.question
        if ours and not self.done.done():
            self.done.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


async def _udp(request: DNSRecord, question: Question, upstream: tuple[str, int]) -> DNSRecord:
    loop = asyncio.get_running_loop()
    protocol = _OneReply(request.header.id, question)
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, remote_addr=upstream)
    try:
        transport.sendto(bytes(request.pack()))
        return await asyncio.wait_for(protocol.done, TIMEOUT)
    finally:
        transport.close()


async def _tcp(request: DNSRecord, question: Question, upstream: tuple[str, int]) -> DNSRecord:
    async def exchange() -> DNSRecord:
        reader, writer = await asyncio.open_connection(*upstream)
        try:
            data = bytes(request.pack())
            writer.write(struct.pack("!H", len(data)) + data)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = parse_message(await reader.readexactly(length))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if reply.header.id != request.header.id or first_question(reply) != question:
            raise DnsError("upstream answered another question")
        return reply

    return await asyncio.wait_for(exchange(), TIMEOUT)


async def forward(request: DNSRecord, upstreams: Sequence[tuple[str, int]]) -> DNSRecord | None:
    """The first upstream's answer to ``request`` (with the request's own ID), or None
    when none answers."""
    question = first_question(request)
    if question is None:
        return None
    outgoing = DNSRecord.parse(request.pack())
    outgoing.header.id = secrets.randbelow(0x10000)
    for upstream in upstreams:
        try:
            reply = await _udp(outgoing, question, upstream)
            if reply.header.tc:
                reply = await _tcp(outgoing, question, upstream)
        except (OSError, TimeoutError, DnsError, asyncio.IncompleteReadError, struct.error):
            continue
        reply.header.id = request.header.id
        return reply
    return None
