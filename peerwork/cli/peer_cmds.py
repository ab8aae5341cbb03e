"""``peerwork peers``: the live peer table from discovery."""

from __future__ import annotations

import time
from typing import Any

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.text import printable


def _trust(p: dict[str, Any]) -> str:
    state = p.get("state") or ("verified" if p.get("verified") else "unverified")
    if state == "verified":
        return "verified"
    label = "IMPOSTOR" if state == "impostor" else "UNVERIFIED"
    return f"{label} ({printable(p.get('problem') or '?')})"


def _line(p: dict[str, Any]) -> str:
    # Everything in a peer record came off the network: never print control characters.
    trust = _trust(p)
    addrs = ",".join(printable(a) for a in p.get("addresses", []))
    roles = ",".join(printable(r) for r in p.get("roles", [])) or "-"
    shares = ",".join(printable(s) for s in p.get("shares", [])) or "-"
    if p.get("shares_truncated"):
        shares += ",…"
    port = p.get("smb_port")
    where = (f"{addrs}:{port}" if port else addrs) or "-"
    return f"{printable(p['name']):<16} {where:<22} {trust:<10} roles={roles} shares={shares}"


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "show_all", is_flag=True, help="Also list PCs of other workgroups.")
@pass_ctx
def peers(cli: CliContext, as_json: bool, show_all: bool) -> None:
    """PCs of the workgroup seen on the LAN."""
    data = cli.control().get("/peers?all=1" if show_all else "/peers")
    if as_json:
        print_json(data)
        return
    items = data["peers"]
    if not items:
        click.echo("No peers of this workgroup seen yet.")
    for p in items:
        click.echo(_line(p))
    for p in data.get("neighbours", []):
        click.echo(f"{_line(p)} (workgroup {printable(p.get('workgroup', '?'))})")
    impostors = sorted({printable(p["name"]) for p in items if p.get("state") == "impostor"})
    if impostors:
        click.echo(
            f"warning: another PC claims the name of {', '.join(impostors)} with a different "
            "key; it is never used. Check that PC; if it really got a new key, stop the agent "
            "and remove the name from discovery/pins.json in the peerwork home",
            err=True,
        )


@click.command()
@click.argument("peer")
@click.option("--port", type=click.IntRange(1, 65535), help="Channel port (default: announced).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def ping(cli: CliContext, peer: str, port: int | None, as_json: bool) -> None:
    """Check the agent-to-agent channel to PEER (name or peer id): mutual TLS, then hello."""
    started = time.monotonic()
    reply = cli.control().post("/channel/hello", {"peer": peer, "port": port})
    elapsed_ms = (time.monotonic() - started) * 1000
    if as_json:
        print_json(reply | {"elapsed_ms": round(elapsed_ms, 1)})
        return
    click.echo(
        f"{printable(reply['name'])} (peer {printable(reply['peer_id'])}, workgroup "
        f"{printable(reply['workgroup'])}) answered over the channel: peerwork "
        f"{printable(reply['version'])}, {elapsed_ms:.0f} ms"
    )


def register(group: click.Group) -> None:
    group.add_command(peers)
    group.add_command(ping)
