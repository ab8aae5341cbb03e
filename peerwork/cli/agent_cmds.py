"""``peerwork init``, ``peerwork agent``, ``peerwork status``."""

from __future__ import annotations

import getpass
import os
import socket

import click

from peerwork.accounts import validate_account_name
from peerwork.atomic import atomic_write_text
from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.config import ConfigFile, render_new_config, validate_peer_name, validate_workgroup
from peerwork.errors import AgentNotRunning, InvalidInput
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
@pass_ctx
def init(cli: CliContext, workgroup: str, pc_name: str | None, owner: str | None) -> None:
    """Create this PC's peerwork home: config, peer identity and certificate."""
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
            return
        # A peerwork.toml copied in by hand (samples/office): give it its identity.
        identity = Identity.generate(f"{cfg.peer.name}.{cfg.peer.workgroup.lower()}.peerwork")
        identity.save(paths.identity)
        click.echo(
            f"{paths.config} was already there (PC {cfg.peer.name}, workgroup "
            f"{cfg.peer.workgroup}): kept it, and created the peer identity {identity.peer_id}."
        )
        return

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
    click.echo("Next: 'peerwork user add NAME', then 'peerwork agent' and 'peerwork share FOLDER'.")


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


def _service_line(svc: dict[str, object]) -> str:
    ports = svc.get("ports") or {}
    where = " ".join(f"{k}:{v}" for k, v in ports.items()) if isinstance(ports, dict) else ""
    state = str(svc["state"])
    if state == "failed":
        state = f"failed: {svc.get('reason', '')}"
    elif state == "disabled":
        state = f"disabled ({svc.get('reason', '')})"
    line = f"  {svc['name']:<10} {state}{'  ' + where if where else ''}"
    details = svc.get("details") or {}
    if isinstance(details, dict) and details.get("accounts_problem"):
        line += (
            f"\n    accounts.toml: {details['accounts_problem']} (using the accounts read before)"
        )
    if svc["name"] == "files" and isinstance(details, dict) and "anonymous" in details:
        line += "\n    " + _anonymous_text(details["anonymous"])
        logons = details.get("logons") or {}
        if isinstance(logons, dict) and logons.get("failure_bursts"):
            line += (
                f"\n    failed logons: {logons['failure_bursts']} burst(s) since start, "
                "answered with growing delays (see the agent log)"
            )
    unserved = details.get("unserved") if isinstance(details, dict) else None
    if isinstance(unserved, dict):
        for name, why in sorted(unserved.items()):
            line += f"\n    share {printable(str(name))} not served: {printable(str(why))}"
    if svc["name"] == "discovery" and isinstance(details, dict) and details:
        names = ",".join(str(i.get("name")) for i in details.get("interfaces", []))
        line += f"  on {names or '-'} as {details.get('announced_as')}"
        if details.get("conflict"):
            line += f"\n    name conflict: {details['conflict']}"
    return line


def _anonymous_text(anonymous: object) -> str:
    if not isinstance(anonymous, dict) or not anonymous:
        return "anonymous (no logon): none — anonymous logons are refused"
    grants = ", ".join(f"{name}={access}" for name, access in sorted(anonymous.items()))
    return f"anonymous (no logon): {grants}"


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
    peer = data["peer"]
    click.echo(f"{peer['name']} (workgroup {peer['workgroup']}), peer id {peer['id']}")
    click.echo(f"agent pid {data['pid']}, up {data['uptime']}s, home {data['home']}")
    for svc in data["services"]:
        click.echo(_service_line(svc))
    click.echo(f"{data['shares']} share(s), {data['peers']} peer(s) seen")
    for svc in data["services"]:
        for warning in svc.get("details", {}).get("warnings", []):
            click.echo(f"warning: {printable(str(warning))}", err=True)


@click.command()
@pass_ctx
def reload(cli: CliContext) -> None:
    """Apply a hand edit of peerwork.toml's shares to the running agent (also: SIGHUP)."""
    report = cli.control().post("/reload")
    for kind in ("added", "changed", "removed"):
        for name in report[kind]:
            click.echo(f"share {name}: {kind}")
    if not any(report[k] for k in ("added", "changed", "removed")):
        click.echo("shares unchanged")
    for section in report["restart_needed"]:
        click.echo(f"[{section}] changed: restart the agent to apply it", err=True)


def register(group: click.Group) -> None:
    for command in (init, agent, status, reload):
        group.add_command(command)
