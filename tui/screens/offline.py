"""The screen shown while no agent answers: how to start one; the app keeps retrying."""

from __future__ import annotations

import shlex

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.widgets import Static

from peerwork.text import printable

from ..nav import OFFLINE
from .base import PeerworkScreen


class OfflineScreen(PeerworkScreen):
    MODE = OFFLINE

    def body(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(id="offline")

    def show(self, what: str) -> None:
        pw = self.pw
        home = shlex.quote(str(pw.home))
        text = Text()
        text.append("No peerwork agent is running", style="bold red")
        text.append(f" for {printable(pw.home)}.\n\n")
        if not pw.paths.config.exists():
            # An agent cannot start on a home that was never set up: say the first step too.
            text.append("This home is not set up yet. First:\n")
            text.append(f"    peerwork --home {home} init --workgroup NAME\n", style="bold")
        text.append("Start it in another terminal:\n")
        text.append(f"    peerwork --home {home} agent\n", style="bold")
        text.append("or as a system service:\n")
        text.append("    systemctl start peerwork\n\n", style="bold")
        text.append(f"Trying again every {pw.retry:g} s", style="italic")
        text.append(f" (attempt {pw.attempts}).\n" if pw.attempts else ".\n", style="italic")
        if pw.down_reason:
            text.append(f"\n{printable(pw.down_reason, limit=300)}", style="dim")
        self.query_one("#offline", Static).update(text)
