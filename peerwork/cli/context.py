"""What every CLI command shares: the resolved home, output helpers, password input."""

from __future__ import annotations

import getpass
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from peerwork.control import ControlClient
from peerwork.errors import AgentNotRunning
from peerwork.home import HomeLock, HomePaths


@dataclass(frozen=True, slots=True)
class CliContext:
    home: Path
    verbose: bool

    @property
    def paths(self) -> HomePaths:
        return HomePaths(self.home)

    def control(self) -> ControlClient:
        return ControlClient(self.paths.checked_socket())

    def running_agent(self, timeout: float = 20.0) -> ControlClient | None:
        """The agent's control client if one holds this home's lock (it may still be
        starting: wait for its socket); None when no agent runs for this home."""
        lock = HomeLock(self.paths.lock)
        client = self.control()
        deadline = time.monotonic() + timeout
        while lock.is_held():
            if client.is_running():
                return client
            if time.monotonic() > deadline:
                raise AgentNotRunning(
                    f"an agent holds {self.home} but its control socket did not answer "
                    f"in {timeout:.0f}s; see its log"
                )
            time.sleep(0.1)
        return None


pass_ctx = click.make_pass_decorator(CliContext)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def read_password(password_stdin: bool, *, confirm: bool, prompt: str = "Password") -> str:
    """From one line of stdin, or an interactive prompt (asked twice when confirming)."""
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass(f"{prompt} (again): ") != first:
        raise click.ClickException("the two passwords differ; nothing changed")
    return first
