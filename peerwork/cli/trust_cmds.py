"""``peerwork invite`` and ``peerwork join``: admitting a PC to the workgroup."""

from __future__ import annotations

import re
import time

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.errors import InvalidInput
from peerwork.text import printable

_TTL = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` as seconds."""
    match = _TTL.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(f"--ttl {text!r}: say e.g. 15m, 2h or 1d")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def print_code(code: str, issuer: str, ttl: float) -> None:
    click.echo(f"Join code: {code}")
    click.echo(
        f"On the new PC: 'peerwork join {code}' (its agent running, on this LAN). "
        f"The code names {issuer}, works once and expires in {_span(ttl)}."
    )


@click.command()
@click.option(
    "--ttl", help="How long the code lives, e.g. 15m, 2h, 1d (default: [trust] code_ttl)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def invite(cli: CliContext, ttl: str | None, as_json: bool) -> None:
    """Print a single-use, expiring code that admits one PC to the workgroup."""
    body = {"ttl": parse_ttl(ttl)} if ttl else {}
    reply = cli.control().post("/trust/invite", body)
    if as_json:
        print_json(reply)
        return
    print_code(reply["code"], printable(reply["issuer"]), float(reply["expires"]) - time.time())


@click.command()
@click.argument("code")
@click.option(
    "--workgroup",
    help="On a PC not set up yet: the workgroup's name, as on the member that gave the code.",
)
@click.option("--name", "pc_name", help="On a PC not set up yet: its name (default: host name).")
@click.option("--owner", help="On a PC not set up yet: as 'peerwork init --owner'.")
@click.option(
    "--again",
    is_flag=True,
    help="This PC was a member but missed a new workgroup key (it was off during a removal).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def join(
    cli: CliContext,
    code: str,
    workgroup: str | None,
    pc_name: str | None,
    owner: str | None,
    again: bool,
    as_json: bool,
) -> None:
    """Join the workgroup with a CODE printed by 'peerwork invite' on a member.

    On a PC never set up, join sets it up first (as 'init --join-later'); with no
    agent running, it runs one just for the join. A workgroup key this PC made
    itself and never used to admit another PC is replaced."""
    if not cli.paths.config.exists():
        if not workgroup:
            raise InvalidInput(
                f"{cli.home} is not set up yet: say which workgroup to join with --workgroup NAME"
            )
        from peerwork.cli.agent_cmds import init_home

        init_home(cli, workgroup, pc_name, owner)
    body = {"code": code, "again": again}
    client = cli.running_agent()
    if client is not None:
        reply = client.post("/trust/join", body)
    else:
        import asyncio

        from peerwork.cli.join_agent import join_with_own_agent

        if not as_json:
            click.echo("No agent running here: starting one for the join.")
        reply = asyncio.run(join_with_own_agent(cli.home, body))
    if as_json:
        print_json(reply)
        return
    if reply.get("replaced"):
        click.echo(
            f"Replaced this PC's own workgroup key ({printable(reply['replaced'])}, "
            "which had admitted no other PC)."
        )
    click.echo(
        f"Joined workgroup {printable(reply['workgroup'])} through "
        f"{printable(reply['through'])}: this PC is a member now."
    )
    if client is None:
        click.echo("Start 'peerwork agent' (or its service) for this PC to take part.")


@click.command("remove-peer")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def remove_peer(cli: CliContext, name: str, as_json: bool) -> None:
    """Remove NAME from the workgroup everywhere: revoke it and give the others a new key."""
    reply = cli.control().post("/trust/remove", {"peer": name})
    if as_json:
        print_json(reply)
        return
    click.echo(
        f"Removed {printable(reply['removed'])} (revocation list {reply['revocation']}); "
        f"new workgroup key handed to: {', '.join(map(printable, reply['rekeyed'])) or 'nobody'}."
    )
    if reply["unreachable"]:
        click.echo(
            "warning: not reached (they must join again with a new code): "
            + ", ".join(map(printable, reply["unreachable"])),
            err=True,
        )


def register(group: click.Group) -> None:
    group.add_command(invite)
    group.add_command(join)
    group.add_command(remove_peer)
