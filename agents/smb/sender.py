"""The reply path of one SMB connection: chain, grant credits, sign, frame, write.

Replies leave in the order they are handed in, one frame at a time. Credits are
granted as a reply leaves, not when it was built, so a client that does not
read its replies gets no new credits to send more requests with. Nothing is
joined on the way: the header is packed into 64 bytes of its own, the body
pieces (a READ's data) are written as they are, large ones in slices written
once the socket took the previous slice, so the transport never copies more
than a slice. While a frame is on its way its bytes count in the server's
ByteBudget; a client that takes nothing for ``stall_timeout`` seconds is dropped.
A frame for an encrypted session leaves sealed: the AEAD reads the pieces and
writes the ciphertext into one buffer, the only copy made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from peerwork.proto.smb2_header import HEADER_SIZE, netbios_frame, set_credits_and_next
from peerwork.proto.smb2_signing import Signer
from peerwork.proto.smb2_transform import Sealer

from .budget import Account, ByteBudget
from .credits import CreditWindow

# Pieces at least this large are written in slices of WRITE_SLICE.
LARGE_PIECE = 64 * 1024
WRITE_SLICE = 256 * 1024

Buffer = bytes | bytearray | memoryview
OnSent = Callable[[list[Buffer]], None]


@dataclass(slots=True)
class Reply:
    """A response waiting for its turn on the wire: its packed header (Smb2Header.pack)
    and body. Credits, NextCommand and the signature are filled in as it leaves."""

    header: bytes
    body: list[Buffer]
    signer: Signer | None
    # CreditRequest of the request answered; None grants nothing (the final answer
    # of an async command: its interim response carried the grant).
    credit_request: int | None
    # Given the response's pieces as they leave (header final, unsigned here).
    on_sent: OnSent | None = None


class ReplySender:
    def __init__(
        self,
        writer: asyncio.StreamWriter,
        credits: CreditWindow,
        budget: ByteBudget,
        account: Account,
        stall_timeout: float,
        on_stall: Callable[[], None],
    ) -> None:
        self.writer = writer
        self.credits = credits
        self.budget = budget
        self.account = account
        self.stall_timeout = stall_timeout
        self.on_stall = on_stall  # called before ConnectionResetError is raised
        self.closed = False  # set by the connection: later replies are dropped
        self._lock = asyncio.Lock()
        # Writing pauses (drain waits) past one slice queued in the transport.
        writer.transport.set_write_buffer_limits(high=WRITE_SLICE)

    async def send(self, responses: list[Reply | bytes], sealer: Sealer | None = None) -> None:
        """Chain ``responses`` into one frame (padded to 8 and linked by NextCommand
        when several), grant credits, sign each (or seal the whole frame with
        ``sealer``), and write it. ``bytes`` items are sent as they are (already
        complete responses)."""
        async with self._lock:
            if self.closed:
                return
            pieces = self._chain(responses)
            if sealer is not None:
                header, cipher_text = sealer.seal(pieces)
                pieces = [header, cipher_text]
            size = sum(len(p) for p in pieces)
            # The reply exists already: count it (it cannot wait for room) until it left.
            self.budget.hold(self.account, size)
            try:
                await self._write([netbios_frame(size), *pieces])
            finally:
                self.budget.release(self.account, size)

    def _chain(self, responses: list[Reply | bytes]) -> list[Buffer]:
        pieces: list[Buffer] = []
        last = len(responses) - 1
        for i, item in enumerate(responses):
            if isinstance(item, bytes):
                pieces.append(item)
                continue
            length = HEADER_SIZE + sum(len(p) for p in item.body)
            # Every response of a compound, the last one too, is padded to 8 bytes
            # (Windows does; smbtorture's compound-padding checks the last READ's size).
            pad = b"\x00" * ((-length) % 8 if last else 0)
            body = [*item.body, pad] if pad else item.body
            head = bytearray(item.header)
            credits = int.from_bytes(head[14:16], "little")
            if item.credit_request is not None:
                credits = self.credits.grant(item.credit_request)
            set_credits_and_next(head, credits, length + len(pad) if i < last else 0)
            if item.on_sent is not None:
                item.on_sent([head, *item.body])
            if item.signer is not None:
                pieces.append(item.signer.sign_header(head, body))
            else:
                pieces.append(head)
            pieces += body
        return pieces

    async def _write(self, pieces: list[Buffer]) -> None:
        small: list[Buffer] = []
        for piece in pieces:
            if len(piece) < LARGE_PIECE:
                small.append(piece)
                continue
            if small:
                self.writer.write(b"".join(small))
                small = []
            view = memoryview(piece)
            for start in range(0, len(view), WRITE_SLICE):
                self.writer.write(view[start : start + WRITE_SLICE])
                await self._drain()
        if small:
            self.writer.write(b"".join(small))
        await self._drain()

    async def _drain(self) -> None:
        transport = self.writer.transport
        if transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[0]:
            # At or below the low-water mark writing is never paused and drain() does
            # not wait: spare the task wait_for would make.
            await self.writer.drain()
            return
        try:
            await asyncio.wait_for(self.writer.drain(), self.stall_timeout)
        except TimeoutError:
            self.on_stall()
            raise ConnectionResetError("client stopped reading replies") from None
