"""``peerwork peers``: the live peer table; ``peerwork events``: the agent's event stream."""

from __future__ import annotations

import json
import time

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.models import AgentEvent, Peer, PeerTrust
from peerwork.text import printable


def _trust(p: Peer) -> str:
    if p.state in (PeerTrust.VERIFIED, PeerTrust.MEMBER):
        return str(p.state.value)
    label = p.state.value.replace("-", " ").upper()
    return f"{label} ({printable(p.problem or '?')})"


def _line(p: Peer) -> str:
    # Everything in a peer record came off the network: never print control characters.
    trust = _trust(p)
    addrs = ",".join(printable(a) for a in p.addresses)
    roles = ",".join(printable(r) for r in p.roles) or "-"
    shares = ",".join(printable(s) for s in p.shares) or "-"
    if p.shares_truncated:
        shares += ",…"
    where = (f"{addrs}:{p.smb_port}" if p.smb_port else addrs) or "-"
    return f"{printable(p.name):<16} {where:<22} {trust:<10} roles={roles} shares={shares}"


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "show_all", is_flag=True, help="Also list PCs of other workgroups.")
@click.option(
    "--forget",
    metavar="NAME",
    help="Forget the key pinned for NAME (a PC that was reinstalled and really has a new "
    "key); what it announces next is pinned instead.",
)
@pass_ctx
def peers(cli: CliContext, as_json: bool, show_all: bool, forget: str | None) -> None:
    """PCs of the workgroup seen on the LAN."""
    if forget is not None:
        cli.control().post("/discovery/forget", {"name": forget})
        click.echo(
            f"forgot the key pinned for {printable(forget)}; its next announcement is pinned"
        )
        return
    data = cli.control().get("/peers?all=1" if show_all else "/peers")
    if as_json:
        print_json(data)
        return
    items = [Peer.from_json(p) for p in data["peers"]]
    if not items:
        click.echo("No peers of this workgroup seen yet.")
    for p in items:
        click.echo(_line(p))
    for p in (Peer.from_json(n) for n in data.get("neighbours", [])):
        click.echo(f"{_line(p)} (workgroup {printable(p.workgroup or '?')})")
    outsiders = sorted(
        {printable(p.name) for p in items if p.state in (PeerTrust.NOT_A_MEMBER, PeerTrust.REVOKED)}
    )
    if outsiders:
        click.echo(
            f"warning: {', '.join(outsiders)} claim(s) this workgroup but are not members: "
            "they get nothing over the channel. To admit a PC, run 'peerwork invite' here "
            "and 'peerwork join CODE' there",
            err=True,
        )
    impostors = sorted({printable(p.name) for p in items if p.state is PeerTrust.IMPOSTOR})
    if impostors:
        click.echo(
            f"warning: another PC claims the name of {', '.join(impostors)} with a different "
            "key; it is never used. Check that PC; if it really got a new key (reinstalled), "
            "'peerwork peers --forget NAME' pins its new one",
            err=True,
        )


def _event_line(event: AgentEvent) -> str:
    # Payloads carry peer names and share comments: text from other people and PCs.
    fields = " ".join(
        f"{printable(str(k))}={printable(json.dumps(v) if not isinstance(v, str) else v)}"
        for k, v in event.payload.items()
    )
    return f"{event.seq:>5} {printable(event.kind):<16} {fields}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option(
    "--count", type=click.IntRange(min=1), help="Stop after this many events (default: never)."
)
@pass_ctx
def events(cli: CliContext, as_json: bool, count: int | None) -> None:
    """Watch the agent's events as they happen (shares, accounts, services, peers)."""
    for seen, event in enumerate(cli.control().watch(), start=1):
        click.echo(json.dumps(event.to_json(), sort_keys=True) if as_json else _event_line(event))
        if count is not None and seen >= count:
            return
    raise click.ClickException("the agent closed the event stream (it stopped)")


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
    group.add_command(events)
    group.add_command(ping)
