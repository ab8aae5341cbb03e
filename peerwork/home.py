"""Where a peer keeps its state (``PEERWORK_HOME``) and the lock that makes it one agent's.

Resolution order: explicit ``--home``, then ``$PEERWORK_HOME``, then
``/var/lib/peerwork`` for root, else the platformdirs user data folder.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from peerwork.errors import ConfigError, HomeLocked

CONFIG_NAME = "peerwork.toml"
ACCOUNTS_NAME = "accounts.toml"
SOCKET_NAME = "agent.sock"
LOCK_NAME = "agent.lock"
IDENTITY_DIR = "identity"
DISCOVERY_DIR = "discovery"  # pinned peer keys, our record's sequence number
# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107


def default_home() -> Path:
    if os.geteuid() == 0:
        return ROOT_HOME
    return Path(platformdirs.user_data_dir("peerwork", appauthor=False))


ROOT_HOME = Path("/var/lib/peerwork")


def root_home_hint() -> str:
    """For a non-root user whose own home is empty while the PC's agent runs as root."""
    if os.geteuid() != 0 and (ROOT_HOME / CONFIG_NAME).exists():
        return (
            f" (this PC's agent keeps its state in {ROOT_HOME}: run the command with sudo, "
            f"or --home {ROOT_HOME} as a user allowed to read it)"
        )
    return ""


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get("PEERWORK_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return default_home()


@dataclass(frozen=True, slots=True)
class HomePaths:
    """The files inside one home; nothing here touches the disk."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def accounts(self) -> Path:
        return self.root / ACCOUNTS_NAME

    @property
    def socket(self) -> Path:
        return self.root / SOCKET_NAME

    def checked_socket(self) -> Path:
        """The control socket's path, or ConfigError if it cannot be a Unix socket path."""
        length = len(os.fsencode(self.socket))
        if length > MAX_SOCKET_PATH:
            raise ConfigError(
                f"the peerwork home {self.root} is too deep for the agent's control socket "
                f"({length} bytes, at most {MAX_SOCKET_PATH}): use a shorter --home"
            )
        return self.socket

    @property
    def lock(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def identity(self) -> Path:
        return self.root / IDENTITY_DIR

    @property
    def discovery(self) -> Path:
        return self.root / DISCOVERY_DIR


class HomeLock:
    """An exclusive ``flock`` on ``agent.lock``: a second agent on the same home fails fast.

    The kernel drops the lock when the process dies, so a crash never leaves a
    stale lock behind. The file holds the owner's PID for the error message.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise HomeLocked(
                f"another peerwork agent (pid {holder}) is already using {self.path.parent}; "
                "stop it first or use a different --home"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def is_held(self) -> bool:
        """True if some process (an agent, maybe still starting) holds the lock now."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops our probe lock, if we got it
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
