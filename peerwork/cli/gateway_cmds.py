"""``peerwork gateway plan|enable|disable|status|leases``: this PC as the office's gateway."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.gateway.plan_text import plan_lines


@click.group()
def gateway() -> None:
    """Give the LAN its addresses (DHCP), names (DNS) and Internet access (NAT)."""


def _interface_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--uplink", help="The interface with the Internet connection."),
            click.option("--lan", help="The office-side interface."),
            click.option("--lan-address", help="CIDR for the LAN side (default 192.168.0.1/24)."),
            click.option("--pool", help="DHCP pool FIRST-LAST (default: the rest of the LAN)."),
            click.option("--json", "as_json", is_flag=True, help="Print JSON."),
        ]
    ):
        command = option(command)
    return command


def _body(
    uplink: str | None, lan: str | None, lan_address: str | None, pool: str | None
) -> dict[str, Any]:
    given = {"uplink": uplink, "lan": lan, "lan_address": lan_address, "pool": pool}
    return {k: v for k, v in given.items() if v}


def print_plan(plan: dict[str, Any]) -> None:
    for line in plan_lines(plan):
        click.echo(line)


@gateway.command("plan")
@_interface_options
@pass_ctx
def gateway_plan(
    cli: CliContext,
    uplink: str | None,
    lan: str | None,
    lan_address: str | None,
    pool: str | None,
    as_json: bool,
) -> None:
    """Print every change enabling the gateway would make; change nothing."""
    plan = cli.control().post("/gateway/plan", _body(uplink, lan, lan_address, pool))
    if as_json:
        print_json(plan)
    else:
        print_plan(plan)
        click.echo("Nothing was changed." + ("" if plan["ok"] else " 'enable' would refuse."))
    if not plan["ok"]:
        raise SystemExit(1)


@gateway.command("enable")
@_interface_options
@pass_ctx
def gateway_enable(
    cli: CliContext,
    uplink: str | None,
    lan: str | None,
    lan_address: str | None,
    pool: str | None,
    as_json: bool,
) -> None:
    """Make exactly the planned changes (root only) and serve DHCP and DNS on the LAN."""
    plan = cli.control().post("/gateway/enable", _body(uplink, lan, lan_address, pool))
    if as_json:
        print_json(plan)
        return
    if plan.get("mode") == "standby":
        click.echo(
            f"Standing by: {plan.get('following', 'another PC is the gateway')}. This PC "
            "keeps its leases and takes over (with this plan) when it stops."
        )
        return
    print_plan(plan)
    click.echo(f"Gateway enabled on {plan['lan']}: 'peerwork gateway disable' undoes it.")


@gateway.command("disable")
@pass_ctx
def gateway_disable(cli: CliContext) -> None:
    """Undo exactly what 'enable' did and stop serving DHCP and DNS."""
    result = cli.control().post("/gateway/disable")
    for failure in result["failures"]:
        click.echo(f"could not undo: {failure}", err=True)
    if result["failures"]:
        raise SystemExit(1)
    click.echo("Gateway disabled: every change 'enable' made is undone.")


@gateway.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def gateway_status(cli: CliContext, as_json: bool) -> None:
    """Is this PC the gateway, standing down before another, or idle; rogue DHCP servers."""
    status = cli.control().get("/gateway")
    details = status.get("details") or {}
    if as_json:
        print_json(status)
        return
    if status["state"] != "running":
        click.echo(f"gateway service: {status['state']} {status.get('reason', '')}".rstrip())
        return
    click.echo(f"gateway: {details['mode']}")
    for found in details["recognised"]:
        click.echo(f"  LAN gateway found: {found}")
    plan = details.get("plan")
    if details["mode"] == "active" and plan:
        click.echo(
            f"  LAN {plan['lan']} {plan['lan_address']}, uplink {plan['uplink']}, "
            f"domain {details['domain']}"
        )
        click.echo(f"  {details['leases']} lease(s); DNS port {details['dns']['port']}")
    _print_election(details.get("election") or {})
    for rogue in details["rogue"]:
        who = rogue["server_id"] or rogue["source"]
        click.echo(f"  WARNING: rogue DHCP server {who} (offered {rogue['offered']})", err=True)


def _print_election(election: dict[str, Any]) -> None:
    line = ", ".join(f"{c['name']} ({c['priority']})" for c in election.get("succession", []))
    if election.get("stood_down"):
        click.echo(f"  election: everyone stands down for {election['stood_down']}")
    elif election.get("gateway"):
        click.echo(f"  elected gateway: {election['gateway']['name']}; in line: {line}")
    else:
        click.echo("  elected gateway: none (no member has an uplink configured)")


@gateway.command("leases")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def gateway_leases(cli: CliContext, as_json: bool) -> None:
    """The DHCP leases this PC handed out."""
    rows = cli.control().get("/gateway/leases")["leases"]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No leases.")
        return
    now = time.time()
    for row in rows:
        left = max(0, int(row["expires"] - now))
        click.echo(
            f"{row['address']:<16} {row['mac']:<18} {row['hostname'] or '-':<16} "
            f"{row['state']:<9} {left}s left"
        )


def register(group: click.Group) -> None:
    group.add_command(gateway)
