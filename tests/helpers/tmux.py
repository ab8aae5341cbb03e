"""A detached tmux session on a private server socket: a terminal a test types into and
reads back, as a person at an 80x24 terminal would (send-keys, capture-pane)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest


class Tmux:
    def __init__(self, name: str = "") -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed (make apt-deps)")
        # A server of our own: never the user's tmux, and killed with everything in it.
        self.socket = name or f"peerwork-test-{os.getpid()}-{time.monotonic_ns()}"
        self.session = "tui"

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def start(
        self,
        argv: Sequence[str],
        *,
        size: tuple[int, int] = (80, 24),
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        command = f"{'env ' + exports + ' ' if exports else ''}{shlex.join(argv)}"
        # Kept open after the program exits, so a crash's last screen can be read.
        self._tmux(
            "new-session", "-d", "-s", self.session, "-x", str(size[0]), "-y", str(size[1]),
            *(["-c", str(cwd)] if cwd else []),
            f"{command}; echo EXITED $?; sleep 600",
        )  # fmt: skip

    def send(self, *keys: str) -> None:
        for key in keys:
            self._tmux("send-keys", "-t", self.session, key)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.session, "-l", text)

    def capture(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.session).stdout

    def resize(self, cols: int, rows: int) -> None:
        self._tmux("resize-window", "-t", self.session, "-x", str(cols), "-y", str(rows))

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen within {timeout}s:\n{screen}")

    def close(self) -> None:
        self._tmux("kill-server", check=False)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
