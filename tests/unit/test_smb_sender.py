"""ReplySender (agents/smb/sender.py) over a socketpair: framing, compound chaining,
credits granted as replies leave, signing over unjoined pieces, a stalled reader."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from peerwork.agents.smb.budget import Account, ByteBudget
from peerwork.agents.smb.credits import CreditWindow
from peerwork.agents.smb.sender import Reply, ReplySender
from peerwork.proto.smb2_header import Smb2Header, split_compound
from peerwork.proto.smb2_signing import Signer

KEY = Signer(bytes(range(16)))


async def _pair() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, socket.socket]:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    return reader, writer, theirs


def _frame(sock: socket.socket) -> bytes:
    head = b""
    while len(head) < 4:
        head += sock.recv(4 - len(head))
    length = struct.unpack(">I", head)[0]
    data = b""
    while len(data) < length:
        data += sock.recv(length - len(data))
    return data


def test_compound_replies_are_chained_signed_and_granted_as_they_leave() -> None:
    async def run() -> None:
        _reader, writer, peer = await _pair()
        credits = CreditWindow()
        budget, account = ByteBudget(1 << 20, 1 << 20), Account()
        sender = ReplySender(writer, credits, budget, account, 5, on_stall=lambda: None)
        big = memoryview(b"\x5a" * 300_000)
        replies: list[Reply | bytes] = [
            Reply(Smb2Header(command=5, message_id=1, flags=1).pack(), [b"abc"], KEY, 10),
            Reply(Smb2Header(command=8, message_id=2, flags=1).pack(), [b"head", big], None, 3),
        ]
        await sender.send(replies)
        data = await asyncio.to_thread(_frame, peer)
        parts = split_compound(data)
        assert [h.message_id for h, _ in parts] == [1, 2]
        first, second = parts[0][1], parts[1][1]
        assert len(first) == 72 and bytes(first[64:67]) == b"abc"  # padded to 8
        assert KEY.verify(first)
        assert bytes(second[64:68]) == b"head" and bytes(second[68:]) == bytes(big) + b"\0" * 4
        # Granted at send time, in order; nothing left counted once sent.
        assert [h.credits for h, _ in parts] == [10, 3] and credits.available == 14
        assert budget.used == account.used == 0
        writer.close()
        peer.close()

    asyncio.run(run())


def test_a_reader_that_takes_nothing_is_given_up_on() -> None:
    async def run() -> None:
        _reader, writer, peer = await _pair()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled: list[bool] = []
        budget, account = ByteBudget(1 << 20, 1 << 20), Account()
        sender = ReplySender(
            writer, CreditWindow(), budget, account, 0.3, on_stall=lambda: stalled.append(True)
        )
        head = Smb2Header(command=8, message_id=0, flags=1).pack()
        reply = Reply(head, [b"\0" * (8 << 20)], None, 1)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(sender.send([reply]), 10)
        assert stalled == [True] and budget.used == 0
        writer.transport.abort()
        peer.close()

    asyncio.run(run())
