"""**This PC**: name, workgroup, roles, addresses, every service's state and port, and
the warnings the agent reports, each with what to do about it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from peerwork.models import AgentStatus, ServiceState, ServiceStatus
from peerwork.text import printable

from ..shape import as_dict, dicts
from .base import PeerworkScreen

ROLE_OF = {"files": "files", "printers": "printers", "mail": "mail", "gateway": "gateway"}
STATE_STYLE = {
    ServiceState.RUNNING: "green",
    ServiceState.FAILED: "bold red",
    ServiceState.DISABLED: "dim",
    ServiceState.STARTING: "yellow",
    ServiceState.STOPPING: "yellow",
    ServiceState.STOPPED: "yellow",
}


def roles(status: AgentStatus) -> list[str]:
    return [
        role
        for name, role in ROLE_OF.items()
        if (svc := status.service(name)) is not None and svc.state is ServiceState.RUNNING
    ]


def addresses(status: AgentStatus) -> list[str]:
    """Where this PC is announced (discovery's interfaces), else what services bind."""
    found: list[str] = []
    disc = status.service("discovery")
    for iface in disc.details.get("interfaces", []) if disc else []:
        if isinstance(iface, dict):
            found += [f"{a} ({iface.get('name', '?')})" for a in iface.get("ipv4", [])]
    if not found:
        for svc in status.services:
            bind = svc.details.get("bind")
            if isinstance(bind, str) and bind and bind not in found:
                found.append(bind)
    return [printable(a) for a in found]


def warnings(status: AgentStatus) -> Iterator[tuple[str, str]]:
    """(problem, fix) pairs: failed services, the services' own warnings."""
    for svc in status.services:
        if svc.state is ServiceState.FAILED:
            yield (
                f"{svc.name} failed: {printable(svc.reason)}",
                f"fix what it says (a taken port: change [{svc.name}] port in peerwork.toml, "
                "then 'peerwork reload'); the agent tries again by itself",
            )
        for text in svc.warnings:
            yield f"{svc.name}: {printable(text)}", _fix_for(svc, text)
        problem = svc.details.get("accounts_problem")
        if isinstance(problem, str) and problem:
            yield (
                f"accounts file: {printable(problem)}",
                "repair or restore accounts.toml, or re-add accounts on screen 4",
            )


def _fix_for(svc: ServiceStatus, text: str) -> str:
    if "name" in text and ("conflict" in text or "called" in text):
        return "give this PC a unique name in peerwork.toml ([peer] name), then restart the agent"
    if "impostor" in text or "different key" in text:
        return "check that PC; if it was reinstalled: peerwork peers --forget NAME"
    return "see the message; 'peerwork status' shows the same"


def _ports(svc: ServiceStatus) -> str:
    return " ".join(f"{k}:{v}" for k, v in svc.ports.items())


def _state(svc: ServiceStatus) -> Text:
    text = Text(svc.state.value, style=STATE_STYLE.get(svc.state, ""))
    if svc.reason and svc.state in (ServiceState.FAILED, ServiceState.DISABLED):
        text.append(
            f" — {printable(svc.reason)}", style="dim" if svc.state.value != "failed" else "red"
        )
    return text


REPLICA_STYLE = {"in-sync": "green", "behind": "yellow", "unreachable": "red"}


def replication(status: AgentStatus) -> list[Text]:
    """Account replication with each member (in-sync / behind / unreachable) and the
    conflicts it settled, from the account_sync service's details."""
    svc = status.service("account_sync")
    if svc is None or svc.state is not ServiceState.RUNNING:
        return []
    lines = [Text("\nAccount replication", style="bold")]
    peers = dicts(svc.details.get("peers"))
    names = {str(p.get("peer_id", "")): str(p.get("name", "")) for p in peers}
    for p in peers:
        state = str(p.get("state", "?"))
        line = Text(f"  {printable(p.get('name') or p.get('peer_id', '?'), limit=60)}: ")
        line.append(printable(state), style=REPLICA_STYLE.get(state, ""))
        if p.get("behind") and state != "in-sync":
            line.append(f", behind by {printable(p['behind'])}")
        if p.get("error"):
            line.append(f" ({printable(p['error'], limit=200)})", style="dim")
        lines.append(line)
    if not peers:
        lines.append(Text("  no member to replicate accounts with yet", style="dim"))
    for c in dicts(svc.details.get("conflicts")):
        kept, lost = (str(as_dict(c.get(k)).get("origin", "?")) for k in ("kept", "lost"))
        lines.append(
            Text(
                f"  conflict on account {printable(c.get('name', '?'))} "
                f"({printable(c.get('kind', '?'))}): kept the change made on "
                f"{printable(names.get(kept) or kept[:8])}, dropped the one made on "
                f"{printable(names.get(lost) or lost[:8])}",
                style="yellow",
            )
        )
    return lines


def render_status(status: AgentStatus) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    rows = (
        ("PC", status.peer.name),
        ("Workgroup", status.peer.workgroup),
        ("Owner", status.peer.owner or "-"),
        ("Roles", ", ".join(roles(status)) or "none running"),
        ("Addresses", ", ".join(addresses(status)) or "-"),
        ("Shares", f"{status.shares} shared, {status.peers} PC(s) of the workgroup seen"),
    )
    for label, value in rows:
        head.add_row(label, Text(printable(value)))
    services = Table(title="Services", title_justify="left", expand=True, box=None)
    services.add_column("service", no_wrap=True, style="bold")
    services.add_column("state", overflow="fold", ratio=3)
    services.add_column("ports", no_wrap=True)
    for svc in status.services:
        state = _state(svc)
        for line in (svc.summary, *svc.notes):
            if line:
                state.append(f"\n{printable(line)}", style="dim")
        services.add_row(Text(printable(svc.name)), state, Text(_ports(svc)))
    parts: list[Any] = [head, Text(""), services, *replication(status)]
    found = list(warnings(status))
    if found:
        parts.append(Text("\nWarnings", style="bold yellow"))
        for problem, fix in found:
            parts.append(Text(f"• {problem}", style="yellow"))
            parts.append(Text(f"  fix: {fix}", style="dim"))
    else:
        parts.append(Text("\nNo warnings.", style="green"))
    return Group(*parts)


class ThisPcScreen(PeerworkScreen):
    MODE = "this-pc"

    def body(self) -> ComposeResult:
        with VerticalScroll(id="this-pc"):
            yield Static("Reading the agent's status…", id="status")

    def show(self, what: str) -> None:
        if what not in ("all", "status"):
            return
        status = self.pw.view.snapshot.status
        if status is not None:
            self.query_one("#status", Static).update(render_status(status))
