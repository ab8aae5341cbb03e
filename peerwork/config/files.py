"""``[files]``: the SMB file service and its limits (README, "Limits of the file service").

Every key is read by its field's reader (:func:`~peerwork.config.read.read_section`):
ints are counts of at least one, floats positive seconds, unless the field
names another reader with :func:`~peerwork.config.read.setting`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from peerwork.errors import ConfigError
from peerwork.range_locks import DEFAULT_LOCKS_PER_OPEN
from peerwork.sharefs.match import DEFAULT_LISTING_WORK

from .read import as_count, as_port, as_seconds, setting, setting_factory
from .section import ConfigSection


def privileged() -> bool:
    return os.geteuid() == 0


def default_smb_port() -> int:
    return 445 if privileged() else 4445


@dataclass(frozen=True, slots=True)
class FilesSection:
    enabled: bool = True
    bind: str = "0.0.0.0"
    port: int = setting_factory(default_smb_port, as_port)
    # Windows 11 24H2 requires signing as a client; requiring it here also refuses
    # clients that would not sign.
    require_signing: bool = False
    # Every session must use SMB 3 encryption; SMB 2 clients are refused at logon
    # (ACCESS_DENIED, as smbd's "server smb encrypt = required"). Per share: encrypt.
    require_encryption: bool = False
    # Logons (README "Limits"): unfinished logons and sessions per connection, and the
    # failed-logon throttle (per account and per client address).
    max_pending_logons: int = 8
    max_sessions_per_connection: int = 64
    pending_logon_timeout: float = 30.0
    logon_free_failures: int = setting(5, as_count(least=0))
    logon_first_delay: float = setting(0.5, as_seconds)
    logon_max_delay: float = setting(30.0, as_seconds)
    logon_forget_after: float = 900.0
    logon_burst_failures: int = 20
    logon_burst_window: float = 60.0
    logon_throttle_entries: int = 4096
    # Byte-range locks one open may hold; past it LOCK answers INSUFFICIENT_RESOURCES.
    max_locks_per_open: int = DEFAULT_LOCKS_PER_OPEN
    # Name characters the wildcard matcher may examine in one folder listing.
    max_listing_work: int = DEFAULT_LISTING_WORK

    # What one client, and all together, may hold of the file service (README,
    # "Limits of the file service"). Connection and open-file caps are lowered at
    # start if RLIMIT_NOFILE is too small for them.
    max_connections: int = 256
    max_connections_per_client: int = 16
    max_open_files: int = 1024  # per session
    logon_timeout: float = 30.0  # seconds from connect to a completed logon
    idle_timeout: float = 900.0  # seconds; only without open files (as Windows, Samba)
    queue_mib: int = 24  # requests and unsent replies held per connection
    queue_total_mib: int = 192  # the same, all connections together
    stall_timeout: float = 60.0  # seconds a client may leave a reply unread


def _checked(files: FilesSection) -> FilesSection:
    if files.logon_first_delay > files.logon_max_delay:
        raise ConfigError("files.logon_first_delay must not exceed files.logon_max_delay")
    return files


FILES = ConfigSection(
    "files",
    FilesSection,
    """\
[files]
enabled = true
bind = "0.0.0.0"
# port = 445              # default: 445 as root, 4445 otherwise
require_signing = false   # true: every client must sign (SMB signing)
require_encryption = false  # true: every client must encrypt (SMB 3; SMB 2 clients refused)
# Limits (defaults shown in README): max_connections, max_connections_per_client,
# max_open_files, logon_timeout, idle_timeout, queue_mib, queue_total_mib, stall_timeout
""",
    _checked,
)
