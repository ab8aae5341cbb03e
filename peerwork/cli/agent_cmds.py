"""``peerwork init``, ``peerwork agent``, ``peerwork status``."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Sequence
from typing import Any

import click

from peerwork.accounts import validate_account_name
from peerwork.atomic import atomic_write_text
from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.config import ConfigFile, render_new_config, validate_peer_name, validate_workgroup
from peerwork.errors import AgentNotRunning, InvalidInput
from peerwork.models import AgentStatus, ServiceState, ServiceStatus
from peerwork.text import printable


def _default_pc_name() -> str:
    name = socket.gethostname().split(".")[0]
    cleaned = "".join(c for c in name if c.isalnum() or c == "-")[:15].strip("-")
    return cleaned or "PEERWORK-PC"


def _default_owner() -> str:
    for candidate in (os.environ.get("SUDO_USER"), getpass.getuser()):
        # root is nobody's workgroup account: with no real user behind sudo, no default owner.
        if candidate and candidate != "root":
            try:
                return validate_account_name(candidate)
            except InvalidInput:
                continue
    return ""


@click.command()
@click.option(
    "--workgroup", required=True, help="Workgroup name, the same on every PC of the office."
)
@click.option("--name", "pc_name", help="This PC's name on the LAN (default: host name).")
@click.option(
    "--owner", help="Account that 'peerwork share' grants full access (default: your login)."
)
@click.option("--invite", is_flag=True, help="Also print a join code for the next PC.")
@click.option(
    "--join-later",
    is_flag=True,
    help="Make no workgroup key: this PC will 'peerwork join' a workgroup another PC created.",
)
# The default since plain init creates the key; kept so older scripts keep working.
@click.option("--create", is_flag=True, hidden=True)
@pass_ctx
def init(
    cli: CliContext,
    workgroup: str,
    pc_name: str | None,
    owner: str | None,
    invite: bool,
    join_later: bool,
    create: bool,
) -> None:
    """Create this PC's peerwork home: config, peer identity and certificate, and the
    workgroup's signing key with this PC as its first member.

    On a PC that will join a workgroup made elsewhere, use 'peerwork join CODE'
    directly, or --join-later; a key made here is replaced by a later join as
    long as it has admitted no other PC."""
    if join_later and (invite or create):
        raise InvalidInput("--join-later makes no workgroup key: it cannot --invite")
    created = init_home(cli, workgroup, pc_name, owner)
    if created is None:
        return
    name, group, peer_id = created
    if not join_later:
        _create_workgroup(cli, group, name, peer_id, invite)
    else:
        click.echo("No workgroup key made: run 'peerwork join CODE' with a code from a member.")
    click.echo("Next: 'peerwork user add NAME', then 'peerwork agent' and 'peerwork share FOLDER'.")


def init_home(
    cli: CliContext, workgroup: str, pc_name: str | None, owner: str | None
) -> tuple[str, str, str] | None:
    """Make the home (config, peer identity); ``(name, workgroup, peer id)``, or None
    when it was initialised already (said so)."""
    paths = cli.paths
    paths.checked_socket()
    from peerwork.identity import KEY_FILE, Identity

    if paths.config.exists():
        cfg = ConfigFile(paths.config).config
        if (paths.identity / KEY_FILE).exists():
            click.echo(
                f"{paths.root} is already initialised (PC {cfg.peer.name}, workgroup "
                f"{cfg.peer.workgroup}); nothing changed."
            )
            return None
        # A peerwork.toml copied in by hand (samples/office): give it its identity.
        identity = Identity.generate(f"{cfg.peer.name}.{cfg.peer.workgroup.lower()}.peerwork")
        identity.save(paths.identity)
        click.echo(
            f"{paths.config} was already there (PC {cfg.peer.name}, workgroup "
            f"{cfg.peer.workgroup}): kept it, and created the peer identity {identity.peer_id}."
        )
        return None

    name = validate_peer_name(pc_name or _default_pc_name())
    group = validate_workgroup(workgroup)
    owner = validate_account_name(owner) if owner else _default_owner()
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o755)
    identity = Identity.generate(f"{name}.{group.lower()}.peerwork")
    identity.save(paths.identity)
    # The config goes last: its presence is what marks a home as initialised.
    atomic_write_text(paths.config, render_new_config(name, group, owner))
    click.echo(
        f"Initialised {paths.root}: PC {name}, workgroup {group}, peer id {identity.peer_id}."
    )
    return name, group, identity.peer_id


def _create_workgroup(cli: CliContext, group: str, name: str, peer_id: str, invite: bool) -> None:
    import time

    from peerwork.cli.trust_cmds import print_code
    from peerwork.invites import DEFAULT_CODE_TTL, InviteBook
    from peerwork.proto.join_code import JoinCode
    from peerwork.workgroup import Workgroup

    now = time.time()
    wg = Workgroup.create(cli.paths.root, workgroup=group, peer_id=peer_id, pc_name=name, now=now)
    click.echo(f"Created workgroup {group}: its key is in {wg.folder} (0600); this PC is a member.")
    if invite:
        code = JoinCode.generate(peer_id)
        InviteBook(cli.paths.root).add(code, ttl=DEFAULT_CODE_TTL, now=now)
        print_code(code.text(), name, DEFAULT_CODE_TTL)
    else:
        click.echo("Invite the next PC with 'peerwork invite' (prints a join code).")


@click.command()
@click.option(
    "--retry",
    "retry_first",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds before a service that failed to start is tried again (doubling to 5 min).",
)
@pass_ctx
def agent(cli: CliContext, retry_first: float) -> None:
    """Run the agent in the foreground (Ctrl-C or SIGTERM stops it)."""
    import asyncio

    from peerwork.agents.agent import Agent

    runner = Agent(cli.home, retry_first=retry_first)
    raise SystemExit(asyncio.run(runner.run()))


def _service_line(svc: ServiceStatus) -> str:
    where = " ".join(f"{k}:{v}" for k, v in svc.ports.items())
    state = svc.state.value
    if svc.state is ServiceState.FAILED:
        state = f"failed: {svc.reason}"
    elif svc.state is ServiceState.DISABLED:
        state = f"disabled ({svc.reason})"
    line = f"  {svc.name:<10} {state}{'  ' + where if where else ''}"
    if svc.summary:
        line += f"  {svc.summary}"
    for note in svc.notes:
        line += f"\n    {note}"
    return line


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def status(cli: CliContext, as_json: bool) -> None:
    """This PC's peer, workgroup, and every service with its state and ports."""
    try:
        data = cli.control().get("/status")
    except AgentNotRunning:
        cfg = ConfigFile(cli.paths.config).config
        data = {
            "peer": {"name": cfg.peer.name, "workgroup": cfg.peer.workgroup},
            "home": str(cli.home),
            "agent": "not running",
            "services": [],
        }
        if as_json:
            print_json(data)
        else:
            click.echo(f"{cfg.peer.name} (workgroup {cfg.peer.workgroup}): agent not running")
            click.echo("Start it with 'peerwork agent'.")
        raise SystemExit(3) from None
    data["agent"] = "running"
    if as_json:
        print_json(data)
        return
    st = AgentStatus.from_json(data)
    click.echo(f"{st.peer.name} (workgroup {st.peer.workgroup}), peer id {st.peer.id}")
    click.echo(f"agent pid {st.pid}, up {st.uptime}s, home {st.home}")
    for svc in st.services:
        click.echo(_service_line(svc))
    outsiders = _not_members(st.services)
    click.echo(
        f"{st.shares} share(s), {st.peers} peer(s) seen"
        + (f", {len(outsiders)} not member(s): {', '.join(outsiders)}" if outsiders else "")
    )
    for svc in st.services:
        for warning in svc.warnings:
            click.echo(f"warning: {svc.name}: {printable(warning)}", err=True)


def _not_members(services: Sequence[ServiceStatus]) -> list[str]:
    """PCs claiming the workgroup without being members (the trust service's count)."""
    for svc in services:
        if svc.name == "trust" and isinstance(svc.details.get("not_members"), dict):
            return sorted(printable(str(name)) for name in svc.details["not_members"])
    return []


@click.command()
@pass_ctx
def reload(cli: CliContext) -> None:
    """Apply a hand edit of peerwork.toml to the running agent (also: SIGHUP)."""
    print_reload(cli.control().post("/reload"))


def print_reload(report: dict[str, Any], *, quiet_shares: bool = False) -> None:
    """What a reload did: shares changed, sections applied live, sections needing a restart.
    ``quiet_shares``: say nothing about shares that did not change."""
    for kind in ("added", "changed", "removed"):
        for name in report[kind]:
            click.echo(f"share {name}: {kind}")
    if not quiet_shares and not any(report[k] for k in ("added", "changed", "removed")):
        click.echo("shares unchanged")
    for section in report.get("applied", []):
        click.echo(f"[{section}] applied")
    for section in report["restart_needed"]:
        click.echo(f"[{section}] changed: restart the agent to apply it", err=True)


def register(group: click.Group) -> None:
    for command in (init, agent, status, reload):
        group.add_command(command)
