"""SmbServer: the asyncio SMB2 listener the file service runs.

Owns the listening socket, the live connections, one ShareFS per share, and
the share/account sources (both live: looked up on every tree connect and
re-checked on every request, so shares added, removed or re-permissioned
while running take effect without a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.range_locks import DEFAULT_LOCKS_PER_OPEN
from peerwork.sharefs import ShareFS
from peerwork.sharefs.match import DEFAULT_LISTING_WORK
from peerwork.shares import Access, Share, folder_problem, root_problem

from ..log_throttle import Throttle
from ..process_limits import trim_heap

# Imported for their side effect: registering the IOCTL and file-command handlers.
from . import cmd_ioctl, commands  # noqa: F401
from .api import SessionView, TreeView
from .budget import ByteBudget
from .connection import IDLE_TIMEOUT, PREAUTH_TIMEOUT, Connection
from .limits import FEW_OPENS, ServerLimits
from .logon_guard import LogonGuard
from .session import Session, close_opens

log = logging.getLogger(__name__)

# Trim the heap when a connection closes if the server held this much since the last trim.
TRIM_AFTER = 64 * 1024 * 1024

# (pipe name as srvsvc.pipe_name normalises it, the session opening it) -> a pipe or None.
PipeFactory = Callable[[str, SessionView | None], Any]


def _same_folder(fs: ShareFS, path: Path) -> bool:
    """Whether ``path`` still names the folder ``fs`` holds (not a link to it)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == fs.root_identity


class ShareSource(Protocol):
    def get(self, name: str) -> Share | None: ...
    def all(self) -> list[Share]: ...


class AccountLookup(Protocol):
    def nt_hash_of(self, name: str) -> bytes | None: ...


class SmbServer:
    def __init__(
        self,
        *,
        shares: ShareSource,
        accounts: AccountLookup,
        server_name: str,
        workgroup: str,
        host: str = "0.0.0.0",
        port: int = 4445,
        require_signing: bool = False,
        require_encryption: bool = False,
        pipe_factory: PipeFactory | None = None,
        preauth_timeout: float = PREAUTH_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        logon_guard: LogonGuard | None = None,
        home: Path | None = None,
        max_locks_per_open: int = DEFAULT_LOCKS_PER_OPEN,
        max_listing_work: int = DEFAULT_LISTING_WORK,
        limits: ServerLimits | None = None,
    ) -> None:
        """``preauth_timeout``: seconds a connection may go without a logged-on session,
        counted from accept (or the last logoff) whatever the client sends meanwhile;
        ``idle_timeout``: seconds a logged-on connection with no open files and no
        request in progress may stay silent (Windows' autodisconnect is 15 minutes);
        ``home``: the peerwork home, never served, whatever a share folder turns into;
        ``require_encryption``: every session must encrypt (SMB 3 only; others are
        refused at logon, as smbd's ``server smb encrypt = required`` does);
        ``max_locks_per_open``, ``max_listing_work``: the ``[files]`` limits;
        ``limits``: caps on connections, open files and queued bytes."""
        self.shares = shares
        self.accounts = accounts
        self.server_name = server_name
        self.workgroup = workgroup
        self.host = host
        self.require_signing = require_signing
        self.require_encryption = require_encryption
        self.pipe_factory = pipe_factory or self._default_pipe
        self.preauth_timeout = preauth_timeout
        self.idle_timeout = idle_timeout
        self.logons = logon_guard or LogonGuard()
        self.home = home
        self.max_locks_per_open = max_locks_per_open
        self.max_listing_work = max_listing_work
        self.limits = limits or ServerLimits()
        self.budget = ByteBudget(self.limits.queue_bytes, self.limits.queue_total_bytes)
        # Logs what a flood repeats (refusals, drops) once a minute with a count.
        self.throttle = Throttle(log)
        self._per_address: dict[str, int] = {}
        # Stable across restarts: clients key cached state on the server GUID.
        self.guid = uuid.uuid5(uuid.NAMESPACE_DNS, f"{server_name.lower()}.peerwork").bytes_le
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session_ids = itertools.count(0x0000_1000_0000_0001)
        self._fs: dict[str, tuple[Path, ShareFS]] = {}

    @property
    def port(self) -> int:
        return self._port

    def connection_count(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_client, self.host, self._port, reuse_address=True, limit=1 << 20
        )
        sock = self._server.sockets[0]
        self._port = sock.getsockname()[1]
        log.info("SMB server listening on %s:%d", self.host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            await conn.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        for key in list(self._fs):
            self._drop_fs(key)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        refusal = self._refusal(address)
        if refusal is not None:
            # Refuse the newest, never an established one; abort() frees the
            # descriptor now instead of after a FIN handshake the client may stall.
            self.throttle.log(
                refusal, logging.WARNING, "SMB connection from %s refused: %s", address, refusal
            )
            writer.transport.abort()
            return
        _keepalive(writer)
        conn = Connection(self, reader, writer)
        self._connections.add(conn)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.run()
        finally:
            self._connections.discard(conn)
            left = self._per_address.pop(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            if task is not None:
                self._tasks.discard(task)

    def _refusal(self, address: str) -> str | None:
        if len(self._connections) >= self.limits.max_connections:
            return f"{self.limits.max_connections} connections already (max_connections)"
        if self._per_address.get(address, 0) >= self.limits.max_connections_per_client:
            return (
                f"{self.limits.max_connections_per_client} connections from that address "
                "already (max_connections_per_client)"
            )
        return None

    def may_open(self, conn: Connection, session: Session) -> bool:
        """Whether ``session`` may open one more file (the caps are logged once a minute)."""
        held = conn.open_count(session)
        who = session.account or "anonymous"
        if held >= self.limits.max_open_files:
            self.throttle.log(
                "open-cap",
                logging.WARNING,
                "SMB session of %s from %s reached %d open files (max_open_files)",
                who,
                conn.peer,
                self.limits.max_open_files,
            )
            return False
        if held < FEW_OPENS:
            return True
        total = sum(c.open_count_all() for c in self._connections)
        if total >= self.limits.max_open_files_total:
            self.throttle.log(
                "open-total",
                logging.WARNING,
                "SMB session of %s from %s refused a file: %d files open in all, "
                "as many as the open-file limit allows",
                who,
                conn.peer,
                total,
            )
            return False
        return True

    def forget(self, conn: Connection) -> None:
        self._connections.discard(conn)
        if self.budget.take_high_water() >= TRIM_AFTER:
            # glibc keeps freed heap memory for reuse; after a burst (large READs,
            # WRITEs) give it back, or the agent stays at its peak for good.
            trim_heap()

    def new_session_id(self) -> int:
        return next(self._session_ids)

    # --- shares ------------------------------------------------------------------------

    def fs_for(self, share: Share) -> ShareFS:
        """The one ShareFS of a share, checked at every tree connect.

        The folder is opened once without following a final symlink and held; the
        held descriptor is reused only while the configured path still names that
        very folder. Raises ``NtStatusError(BAD_NETWORK_NAME)`` with the reason when
        the folder cannot be served: gone, swapped for a symbolic link, or now
        overlapping the peerwork home (what Samba answers for a share whose path
        is gone: the share is not there)."""
        problem = folder_problem(share, self.home)
        cached = self._fs.get(share.key)
        if cached is not None and (problem or not _same_folder(cached[1], share.path)):
            self._drop_fs(share.key)
            cached = None
        if problem:
            raise NtStatusError(NtStatus.BAD_NETWORK_NAME, problem)
        if cached is not None:
            return cached[1]
        try:
            fs = ShareFS(share.path)
        except NtStatusError as exc:
            raise NtStatusError(NtStatus.BAD_NETWORK_NAME, f"{share.path}: {exc}") from None
        # Judged on what the descriptor really is, so a swap between the check above
        # and the open cannot slip through.
        problem = root_problem(share.path, Path(fs.real_root), self.home)
        if problem:
            fs.close()
            raise NtStatusError(NtStatus.BAD_NETWORK_NAME, problem)
        self._fs[share.key] = (share.path, fs)
        return fs

    def _drop_fs(self, key: str) -> None:
        # The share is gone (or moved): its folder descriptor and any handle still
        # open through another tree go with it; those trees get NETWORK_NAME_DELETED.
        cached = self._fs.pop(key, None)
        if cached is not None:
            cached[1].close()

    def refresh_tree(self, session: Session, tree: TreeView) -> int | None:
        """Re-check a tree's share before a request; return an NTSTATUS to refuse it."""
        if tree.is_ipc or tree.share is None:
            return None
        current = self.shares.get(tree.share.name)
        # A closed store: a tree connect found the folder swapped or gone and dropped it.
        dropped = tree.fs is not None and tree.fs.closed
        if current is None or current.path != tree.share.path or dropped:
            close_opens(tree)
            self._drop_fs(tree.share.key)
            return NtStatus.NETWORK_NAME_DELETED
        if current != tree.share:
            tree.share = current
        # Derived on every request, not only when the share changed: a session that
        # re-authenticated as someone else must not keep the first account's grant.
        tree.access = current.access_for(session.account)
        if tree.access == Access.NONE:
            return NtStatus.ACCESS_DENIED
        return None

    def _default_pipe(self, name: str, session: SessionView | None = None) -> Any:
        from peerwork.proto.srvsvc import ShareEntry, ShareKind, pipe_for

        # Anonymous sessions (account None) see what `anonymous` may use.
        account = session.account if session is not None else None

        def entries() -> list[ShareEntry]:
            # Evaluated per call: a grant changed while the pipe is open applies at once.
            listed = [
                ShareEntry(s.name, s.comment, ShareKind.DISK)
                for s in self.shares.all()
                if s.access_for(account) != Access.NONE
            ]
            return [*listed, ShareEntry("IPC$", "IPC Service", ShareKind.IPC)]

        return pipe_for(
            name, server_name=self.server_name, workgroup=self.workgroup, shares=entries
        )


def _keepalive(writer: asyncio.StreamWriter) -> None:
    """TCP keepalive so a client that vanished (half-open) is noticed within minutes."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 6)
