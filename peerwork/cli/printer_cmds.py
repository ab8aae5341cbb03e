"""``peerwork printers``, ``jobs``, ``print``: thin over the control API and the IPP client."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json, read_password
from peerwork.cli.mail_client_cmds import password_option
from peerwork.client.ipp import Logon, print_file
from peerwork.client.ipp_jobs import get_jobs
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


@dataclass(frozen=True, slots=True)
class Target:
    """A printer to reach: its ipp:// URI, its ipps:// one and the key its PC must show."""

    uri: str
    ipps_uri: str | None
    peer_id: str

    def reach(self, user: str | None, password_stdin: bool) -> tuple[str, Logon | None]:
        """The URI to use and the logon to send: plain IPP without ``user``; with it
        IPPS, the password read as ``mail send`` reads it."""
        if not user:
            return self.uri, None
        if not self.ipps_uri:
            raise click.ClickException(f"{self.uri} offers no ipps://: no logon possible")
        password = read_password(password_stdin, confirm=False, prompt=f"Password for {user}")
        return self.ipps_uri, Logon(user, password)


user_option = click.option(
    "--user", "-u", default=None, help="Log on as this workgroup account (over ipps://)."
)


printer_option = click.option(
    "--printer", "target", default="", metavar="[PC/]NAME", help="Default: this PC's first printer."
)
peer_printer_option = click.option(
    "--printer",
    "target",
    default="",
    metavar="PC/NAME",
    help="A peer's printer, asked over IPP (default: this PC's printers).",
)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@peer_printer_option
@user_option
@password_option
@pass_ctx
def jobs(
    cli: CliContext, as_json: bool, target: str, user: str | None, password_stdin: bool
) -> None:
    """Print jobs on this PC's printers (or on a peer's with --printer), oldest first."""
    if target:
        found = resolve(cli.control(), target)
        uri, logon = found.reach(user, password_stdin)
        listed = get_jobs(uri, user=getpass.getuser(), logon=logon, peer_id=found.peer_id)
        name = target.rpartition("/")[2] or uri.rpartition("/")[2]
        data = {"jobs": [j.to_json() | {"printer": name} for j in listed]}
    else:
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
@printer_option
@click.option("--copies", default=1, type=click.IntRange(1, 99))
@click.option("--title", default="", help="Job name (default: the file's name).")
@user_option
@password_option
@pass_ctx
def print_cmd(
    cli: CliContext,
    file: Path,
    target: str,
    copies: int,
    title: str,
    user: str | None,
    password_stdin: bool,
) -> None:
    """Print FILE (PDF, JPEG, PWG raster or URF) on a printer of this PC or a peer."""
    found = resolve(cli.control(), target)
    uri, logon = found.reach(user, password_stdin)
    done = print_file(
        uri,
        file,
        user=getpass.getuser(),
        title=title,
        copies=copies,
        logon=logon,
        peer_id=found.peer_id,
    )
    click.echo(f"Job {done.job_id} sent to {uri} ({_STATES.get(done.state, done.state)}).")


def resolve(client: ControlClient, target: str) -> Target:
    """``PC/NAME`` among the peers' printers, or ``NAME`` (or "": the first) of this PC."""
    pc, _, name = target.rpartition("/")
    if pc:
        theirs = [p for p in _peer_printers(client) if p["peer"].lower() == pc.lower()]
        if not theirs:
            raise click.ClickException(f"no peer {pc} sharing printers is seen (peerwork printers)")
        chosen = next((p for p in theirs if not name or p["name"].lower() == name.lower()), None)
        if chosen is None:
            raise click.ClickException(f"{pc} shares no printer {name} (peerwork printers)")
        return Target(str(chosen["uri"]), chosen["ipps_uri"], str(chosen["peer_id"]))
    status = client.get("/printers")
    try:
        uri = local_printer_uri(status, name)
    except NotFound as exc:
        raise click.ClickException(exc.message) from None
    ipps = status.get("ports", {}).get("ipps")
    parts = urlsplit(uri)
    ipps_uri = f"ipps://{parts.hostname}:{ipps}{parts.path}" if ipps else None
    return Target(uri, ipps_uri, str(client.get("/status")["peer"]["id"]))


def register(group: click.Group) -> None:
    group.add_command(printers)
    group.add_command(jobs)
    group.add_command(print_cmd)
