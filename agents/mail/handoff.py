"""Hand-off of queued mail between PCs over the peer channel, both ends.

Sending (:func:`hand_off`): ask the home PC which recipients still lack the
message (``mail.has``), upload it once for those (``mail.deliver``, the bytes
as a body stream read from the queue file a MiB at a time), and report who has
it now. The queue marks them delivered only after that reply.

Receiving (:class:`HandoffReceiver`): the stream goes straight into a file
under ``mail/handoff/`` (bounded memory whatever the size), is fsynced, and
is linked into each recipient's Maildir under the message's queue id; a
marker under ``mail/handoff/done/`` remembers the id, so a hand-off repeated
after a lost reply (or a kill -9 of the sender) delivers nothing twice, even
when the recipient already fetched and deleted the first copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

from peerwork.accounts import AccountStore
from peerwork.atomic import atomic_write_text
from peerwork.proto.channel import ErrorCode
from peerwork.proto.mail_handoff import (
    MAIL_DELIVER,
    MAIL_HAS,
    MAIL_HOMES,
    NOT_HOME,
    DeliverReply,
    DeliverRequest,
    HasReply,
    HasRequest,
    HomesReply,
    HomesRequest,
)

from ..channel.client import ChannelConnection
from ..channel.errors import ChannelRefused
from ..channel.handlers import Caller, HandlerRegistry
from ..channel.wire import BodyStream
from .home_book import HomeBook
from .homes import HomeKind
from .maildir import mailbox_of

log = logging.getLogger("peerwork.mail.handoff")
READ_SIZE = 1 << 20
# A delivered id is remembered this long (s): far beyond any retry of its hand-off.
DONE_MEMORY = 30 * 24 * 3600.0


class HandoffReceiver:
    """Serves ``mail.homes``, ``mail.has`` and ``mail.deliver`` for this PC's mailboxes."""

    def __init__(
        self,
        mail_root: Path,
        book: HomeBook,
        accounts: AccountStore,
        max_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mail_root = mail_root
        self.folder = mail_root / "handoff"
        self.done = self.folder / "done"
        self.book = book
        self.accounts = accounts
        self.max_size = max_size
        self.clock = clock
        self.received = 0  # messages handed to us since start

    def register(self, handlers: HandlerRegistry) -> None:
        self.unregister(handlers)  # a restarted service registers afresh
        handlers.add(MAIL_HOMES, self._homes)
        handlers.add(MAIL_HAS, self._has)
        handlers.add(MAIL_DELIVER, self._deliver, max_stream=self.max_size)

    def unregister(self, handlers: HandlerRegistry) -> None:
        for kind in (MAIL_HOMES, MAIL_HAS, MAIL_DELIVER):
            handlers.remove(kind)

    def prepare(self) -> None:
        """Make the folders; sweep half-received files and long-forgotten markers.
        Blocking: run in a thread."""
        self.done.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in self.folder.glob("*.part"):
            leftover.unlink(missing_ok=True)
        oldest = self.clock() - DONE_MEMORY
        for marker in self.done.iterdir():
            with contextlib.suppress(OSError):
                if marker.stat().st_mtime < oldest:
                    marker.unlink()

    async def _homes(
        self, caller: Caller, request: HomesRequest, stream: BodyStream | None
    ) -> HomesReply:
        return HomesReply(tuple(sorted(self.book.own.mailboxes)))

    async def _has(
        self, caller: Caller, request: HasRequest, stream: BodyStream | None
    ) -> HasReply:
        self._check_home(request.recipients)
        return HasReply(await asyncio.to_thread(self._missing, request.id, request.recipients))

    async def _deliver(
        self, caller: Caller, request: DeliverRequest, stream: BodyStream | None
    ) -> DeliverReply:
        self._check_home(request.recipients)
        if request.size > self.max_size:
            raise ChannelRefused(ErrorCode.TOO_LARGE, f"messages here are at most {self.max_size}")
        missing = await asyncio.to_thread(self._missing, request.id, request.recipients)
        if not missing:
            return DeliverReply(request.recipients)  # a repeat: the server drops the stream
        if stream is None:
            raise ChannelRefused(ErrorCode.BAD_BODY, "mail.deliver brings the message as a stream")
        part = self.folder / f"{request.id}.{secrets.token_hex(4)}.part"
        try:
            await self._receive(stream, part, request.size)
            await asyncio.to_thread(self._store, part, request.id, missing, request.recipients)
        except OSError as exc:
            # A full disk (or worse) here: the sender keeps the message and tries later.
            log.error("mail %s: cannot store a hand-off: %s", request.id, exc)
            raise ChannelRefused(
                ErrorCode.REFUSED, f"cannot store the message here now: {exc.strerror or exc}"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                part.unlink()
        self.received += 1
        log.info(
            "mail %s from %s handed over for %s", request.id, caller.peer_id, ", ".join(missing)
        )
        return DeliverReply(request.recipients)

    def _check_home(self, recipients: tuple[str, ...]) -> None:
        strangers = [
            r
            for r in recipients
            if self.accounts.get(r) is None or self.book.locate(r).kind is not HomeKind.LOCAL
        ]
        if strangers:
            raise ChannelRefused(NOT_HOME, f"not home here for {', '.join(strangers)}")

    async def _receive(self, stream: BodyStream, part: Path, size: int) -> None:
        received = 0
        handle = await asyncio.to_thread(part.open, "xb")
        try:
            async for chunk in stream:
                received += len(chunk)
                if received > size:
                    raise ChannelRefused(
                        ErrorCode.BAD_BODY, f"more than the {size} bytes announced"
                    )
                await asyncio.to_thread(handle.write, chunk)
            if received != size:
                raise ChannelRefused(ErrorCode.BAD_BODY, f"{received} bytes, not {size}")
            await asyncio.to_thread(_flush_and_sync, handle)
        finally:
            handle.close()

    def _missing(self, msg_id: str, recipients: tuple[str, ...]) -> tuple[str, ...]:
        done = self._done_for(msg_id)
        return tuple(
            r for r in recipients if r not in done and not mailbox_of(self.mail_root, r).has(msg_id)
        )

    def _done_for(self, msg_id: str) -> set[str]:
        try:
            return set(json.loads((self.done / msg_id).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def _store(
        self, part: Path, msg_id: str, missing: tuple[str, ...], recipients: tuple[str, ...]
    ) -> None:
        for account in missing:
            mailbox_of(self.mail_root, account).deliver(part, msg_id)
        done = sorted(self._done_for(msg_id) | set(recipients))
        atomic_write_text(self.done / msg_id, json.dumps(done), mode=0o600)


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


async def hand_off(
    conn: ChannelConnection,
    msg_id: str,
    sender: str,
    recipients: tuple[str, ...],
    data: Path,
) -> tuple[str, ...]:
    """Hand one queued message to the home PC at the other end of ``conn``; the
    recipients who have it there now (fsynced). Raises ChannelError when it could not."""
    has = await conn.call(MAIL_HAS, HasRequest(msg_id, recipients))
    missing = tuple(r for r in has.missing if r in recipients)
    if not missing:
        return recipients
    size = await asyncio.to_thread(lambda: data.stat().st_size)
    request = DeliverRequest(msg_id, sender[:512], missing, size)
    reply = await conn.call(MAIL_DELIVER, request, upload=_chunks(data))
    return tuple(r for r in recipients if r in reply.delivered or r not in missing)


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_SIZE):
            yield chunk
    finally:
        handle.close()
