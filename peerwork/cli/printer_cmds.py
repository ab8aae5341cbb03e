"""``peerwork printers``, ``jobs``, ``print``: thin over the control API and the IPP client."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.client.ipp import print_file
from peerwork.client.local_printer import local_printer_uri
from peerwork.client.peer_printers import peer_printers
from peerwork.control import ControlClient
from peerwork.errors import NotFound

_STATES = {
    3: "pending",
    4: "held",
    5: "printing",
    6: "stopped",
    7: "canceled",
    8: "aborted",
    9: "done",
}


def _local(client: ControlClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    status = client.get("/printers")
    return status, list(status.get("details", {}).get("printers", []))


def _peer_printers(client: ControlClient) -> list[dict[str, Any]]:
    return peer_printers(client.get("/peers")["peers"])


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def printers(cli: CliContext, as_json: bool) -> None:
    """List this PC's shared printers and the workgroup's, each with its ipp:// URI."""
    client = cli.control()
    status, local = _local(client)
    peers = _peer_printers(client)
    if as_json:
        print_json({"state": status.get("state"), "printers": local, "peers": peers})
        return
    if not local:
        why = status.get("summary") or status.get("reason") or status.get("state")
        click.echo(f"No printers shared here ({why}).")
    for p in local:
        where = f" — {p['location']}" if p.get("location") else ""
        paused = ", paused" if p.get("paused") else ""
        click.echo(
            f"{p['name']:<16} {p['uri']}  -> {p['backend']}{where}, "
            f"{p['jobs_waiting']} waiting{paused}"
        )
    for p in peers:
        click.echo(f"{p['peer'] + '/' + p['name']:<16} {p['uri']}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def jobs(cli: CliContext, as_json: bool) -> None:
    """Print jobs on this PC's printers, oldest first."""
    data = cli.control().get("/printers/jobs")
    if as_json:
        print_json(data)
        return
    if not data["jobs"]:
        click.echo("No print jobs.")
    for job in data["jobs"]:
        state = _STATES.get(job["state"], str(job["state"]))
        note = f" ({job['message']})" if job.get("message") else ""
        click.echo(
            f"{job['id']:>6} {job['printer']:<12} {state:<9} {job['user']:<10} {job['name']}{note}"
        )


@click.command(name="print")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--printer", "target", default="", metavar="[PC/]NAME", help="Default: this PC's first printer."
)
@click.option("--copies", default=1, type=click.IntRange(1, 99))
@click.option("--title", default="", help="Job name (default: the file's name).")
@pass_ctx
def print_cmd(cli: CliContext, file: Path, target: str, copies: int, title: str) -> None:
    """Print FILE (PDF, JPEG, PWG raster or URF) on a printer of this PC or a peer."""
    uri = _resolve(cli.control(), target)
    done = print_file(uri, file, user=getpass.getuser(), title=title, copies=copies)
    click.echo(f"Job {done.job_id} sent to {uri} ({_STATES.get(done.state, done.state)}).")


def _resolve(client: ControlClient, target: str) -> str:
    pc, _, name = target.rpartition("/")
    if pc:
        theirs = [p for p in _peer_printers(client) if p["peer"].lower() == pc.lower()]
        if not theirs:
            raise click.ClickException(f"no peer {pc} sharing printers is seen (peerwork printers)")
        chosen = next((p for p in theirs if not name or p["name"].lower() == name.lower()), None)
        if chosen is None:
            raise click.ClickException(f"{pc} shares no printer {name} (peerwork printers)")
        return str(chosen["uri"])
    try:
        return local_printer_uri(client.get("/printers"), name)
    except NotFound as exc:
        raise click.ClickException(exc.message) from None


def register(group: click.Group) -> None:
    group.add_command(printers)
    group.add_command(jobs)
    group.add_command(print_cmd)
