"""Samba's smbd as a reference SMB server on 127.0.0.1 and a free port.

Use as a context manager::

    with SambaServer({"share": folder}, users={"alice": "pw"}) as srv:
        ... srv.port ...

Every state file (private dir, locks, passdb, logs, pid) lives in a temp dir,
so nothing touches the host's Samba configuration. Samba authenticates only
accounts that exist as Unix users: a missing one is created with ``useradd``
(a system account with no home and no shell) and removed again when the
last harness using it exits;
existing accounts are left alone. Files are written as root (``force user``)
so the temp folders' Unix modes never get in the way: access is decided by
the share's ``read list``/``write list``, which is what the tests exercise.

smbd signals its whole process group when it exits (FIELD-NOTES), so it runs
in its own session (``setsid``) and is stopped by PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.helpers.ports import unused_tcp_port as free_port

SMBD = "/usr/sbin/smbd"
USER_LEASES = Path(tempfile.gettempdir()) / "peerwork-smbd-users"


def smbd_available() -> bool:
    return Path(SMBD).exists() and shutil.which("smbpasswd") is not None


@dataclass(frozen=True, slots=True)
class ShareSpec:
    """One share: its folder, who may read, who may write (account names)."""

    path: Path
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


@dataclass(slots=True)
class SambaServer:
    """A private smbd. ``shares`` maps a share name to a folder or a ShareSpec.

    A plain folder is readable and writable by every given user.
    """

    shares: dict[str, Path | ShareSpec]
    users: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    extra_global: str = ""
    workdir: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    _user_leases: dict[str, int] = field(default_factory=dict)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def conf(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "smb.conf"

    @property
    def log_file(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "log.smbd"

    def __enter__(self) -> SambaServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pw-smbd-")
        self.workdir = Path(self._tmp.name)
        if not self.port:
            self.port = free_port()
        for name in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
            (self.workdir / name).mkdir()
        self.conf.write_text(self._render_conf())
        for user, password in self.users.items():
            self._ensure_unix_user(user)
            subprocess.run(
                ["smbpasswd", "-c", str(self.conf), "-a", "-s", user],
                input=f"{password}\n{password}\n".encode(),
                check=True,
                capture_output=True,
                timeout=30,
            )
        self.proc = subprocess.Popen(
            [
                "setsid",
                SMBD,
                "--foreground",
                "--no-process-group",
                "--debug-stdout",
                "-s",
                str(self.conf),
            ],
            stdout=(self.workdir / "stdout.log").open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._wait_listening(timeout=20.0)

    def stop(self) -> None:
        if self.proc is not None:
            # setsid execs smbd in place, so this PID is smbd's own.
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            self.proc = None
        self._kill_leftover_children()
        self._release_unix_users()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _kill_leftover_children(self) -> None:
        # smbd forks one child per connection; they exit with the parent, but a
        # child stuck mid-transfer could outlive it. Their PIDs are in no file
        # we own, so find them by their config path (unique to this instance).
        if self.workdir is None:
            return
        marker = str(self.conf).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline and b"smbd" in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGKILL)

    def _ensure_unix_user(self, user: str) -> None:
        # Several test processes (pytest -n) may use the same account at once: each holds
        # a shared flock on the user's lease file while its smbd runs, and the last one
        # out deletes the account, and only if a harness created it (marker file).
        USER_LEASES.mkdir(parents=True, exist_ok=True)
        fd = os.open(USER_LEASES / f"{user}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                check=True,
                capture_output=True,
                timeout=30,
            )
            (USER_LEASES / f"{user}.created").touch()
        fcntl.flock(fd, fcntl.LOCK_SH)
        self._user_leases[user] = fd

    def _release_unix_users(self) -> None:
        for user, fd in self._user_leases.items():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another smbd of ours still uses the account
            else:
                marker = USER_LEASES / f"{user}.created"
                if marker.exists():
                    subprocess.run(["userdel", user], check=False, capture_output=True, timeout=30)
                    marker.unlink()
            finally:
                os.close(fd)
        self._user_leases.clear()

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"smbd exited early ({self.proc.returncode}): {self.tail_log()}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                if s.connect_ex((self.host, self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"smbd did not listen on {self.port} within {timeout}s: {self.tail_log()}"
        )

    def tail_log(self, lines: int = 30) -> str:
        assert self.workdir is not None
        text = ""
        for name in ("stdout.log", "log.smbd"):
            p = self.workdir / name
            if p.exists():
                text += p.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _render_conf(self) -> str:
        assert self.workdir is not None
        w = self.workdir
        lines = [
            "[global]",
            "  workgroup = WORKGROUP",
            "  netbios name = PWSMBD",
            "  server role = standalone server",
            f"  smb ports = {self.port}",
            "  bind interfaces only = yes",
            f"  interfaces = lo {self.host}",
            "  disable netbios = yes",
            "  server min protocol = SMB2_02",
            f"  private dir = {w / 'private'}",
            f"  lock directory = {w / 'lock'}",
            f"  state directory = {w / 'state'}",
            f"  cache directory = {w / 'cache'}",
            f"  pid directory = {w / 'pid'}",
            f"  ncalrpc dir = {w / 'ncalrpc'}",
            f"  passdb backend = tdbsam:{w / 'private' / 'passdb.tdb'}",
            f"  log file = {self.log_file}",
            "  log level = 1",
            "  max log size = 0",
            "  map to guest = never",
            "  load printers = no",
            "  printing = bsd",
            "  printcap name = /dev/null",
            "  disable spoolss = yes",
            "  smb encrypt = off",
            self.extra_global,
        ]
        everyone = tuple(self.users)
        for name, spec in self.shares.items():
            if not isinstance(spec, ShareSpec):
                spec = ShareSpec(Path(spec), read=(), write=everyone)
            allowed = sorted(set(spec.read) | set(spec.write))
            lines += [
                f"[{name}]",
                f"  path = {spec.path}",
                "  browseable = yes",
                "  read only = yes",
                f"  valid users = {' '.join(allowed)}",
                f"  read list = {' '.join(spec.read)}",
                f"  write list = {' '.join(spec.write)}",
                "  force user = root",
                "  guest ok = no",
            ]
        return "\n".join(lines) + "\n"
