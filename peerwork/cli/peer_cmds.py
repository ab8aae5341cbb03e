"""``peerwork peers``: the live peer table from discovery."""

from __future__ import annotations

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def peers(cli: CliContext, as_json: bool) -> None:
    """PCs of the workgroup seen on the LAN."""
    items = cli.control().get("/peers")["peers"]
    if as_json:
        print_json({"peers": items})
        return
    if not items:
        click.echo("No peers seen yet.")
    for p in items:
        trust = "verified" if p.get("verified") else "UNVERIFIED"
        addrs = ",".join(p.get("addresses", []))
        roles = ",".join(p.get("roles", [])) or "-"
        shares = ",".join(p.get("shares", [])) or "-"
        click.echo(f"{p['name']:<16} {addrs:<18} {trust:<10} roles={roles} shares={shares}")


def register(group: click.Group) -> None:
    group.add_command(peers)
