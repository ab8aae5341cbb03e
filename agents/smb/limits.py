"""How much one client, and all clients together, may hold of the SMB server.

The numbers come from ``[files]`` in peerwork.toml (see README, "Limits of the
file service"); :meth:`ServerLimits.fit_to_fds` lowers the connection and
open-file caps when the process may open too few descriptors for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Descriptors the rest of the agent needs whatever the clients do: the control
# socket and its clients, discovery, logs, the share roots, a thread pool's files.
FD_RESERVE = 64
# A session holding fewer open files than this may open more even past the total:
# one client hoarding handles must not stop the others' listings and copies.
FEW_OPENS = 16


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """``max_connections``: connections served at once; more are closed at accept.
    ``max_connections_per_client``: the same, per client IP address.
    ``max_open_files``: handles (files, folders, pipes) one session may hold open;
    the next CREATE gets STATUS_INSUFFICIENT_RESOURCES, as Samba answers.
    ``queue_bytes``: bytes of requests being served plus replies not yet taken by
    the client, per connection; past it the connection's next request waits.
    ``queue_total_bytes``: the same over all connections.
    ``stall_timeout``: seconds a client may leave a reply unread before it is dropped.
    ``max_open_files_total``: handles all sessions together may hold, so that the
    process never runs out of descriptors (derived by :meth:`fit_to_fds`); a
    session holding fewer than :data:`FEW_OPENS` may still open past it.
    """

    max_connections: int = 256
    max_connections_per_client: int = 16
    max_open_files: int = 1024
    queue_bytes: int = 24 * MIB
    queue_total_bytes: int = 192 * MIB
    stall_timeout: float = 60.0
    max_open_files_total: int = 1 << 20

    def fit_to_fds(self, fd_limit: int) -> ServerLimits:
        """These limits, lowered so that connections and one session's open files
        each fit in a quarter of the descriptors left after :data:`FD_RESERVE`."""
        share = max(16, (fd_limit - FD_RESERVE) // 4)
        fitted = replace(
            self,
            max_connections=min(self.max_connections, share),
            max_connections_per_client=min(self.max_connections_per_client, share),
            max_open_files=min(self.max_open_files, share),
        )
        total = max(16, fd_limit - FD_RESERVE - fitted.max_connections)
        if replace(fitted, max_open_files_total=self.max_open_files_total) != self:
            log.warning(
                "only %d open files allowed (RLIMIT_NOFILE): serving at most %d connections "
                "and %d open files per session; raise LimitNOFILE to lift this",
                fd_limit,
                fitted.max_connections,
                fitted.max_open_files,
            )
        return replace(fitted, max_open_files_total=min(self.max_open_files_total, total))
