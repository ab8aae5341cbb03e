"""``peerwork printer add|remove``, ``printer-set``, ``cancel``: thin over the control API,
or over peerwork.toml directly when no agent runs (as the share commands do)."""

from __future__ import annotations

import getpass
from typing import Any
from urllib.parse import quote

import click

from peerwork.cli.context import CliContext, pass_ctx
from peerwork.cli.mail_client_cmds import password_option
from peerwork.cli.printer_cmds import peer_printer_option, resolve, user_option
from peerwork.client.ipp_jobs import cancel_job
from peerwork.config import ConfigFile
from peerwork.config.printer_edit import (
    add_printer,
    new_printer,
    remove_printer,
    set_printer_grants,
)
from peerwork.printer_grants import grants_json, parse_print_grant

_GRANT_HELP = (
    "WHO=LEVEL, LEVEL one of none, print, manage; WHO an account, 'everyone' (accounts "
    "that log on over ipps://) or 'anonymous' (no logon). Repeatable."
)


def _grants_text(data: dict[str, Any]) -> str:
    return ", ".join(f"{who}={level}" for who, level in sorted(data["grants"].items()))


def _notes(data: dict[str, Any]) -> None:
    for note in data.get("warnings", []):
        click.echo(f"Note: {note}", err=True)


def _checked(grants: tuple[str, ...]) -> list[str]:
    for g in grants:
        parse_print_grant(g)  # fail before anything is sent or changed
    return list(grants)


@click.group()
def printer() -> None:
    """Share a printer of this PC, or stop sharing it."""


@printer.command("add")
@click.argument("name")
@click.option(
    "--backend",
    required=True,
    metavar="URI",
    help="file:/folder, cups:QUEUE, socket://HOST:9100 or ipp://HOST[:PORT]/PATH.",
)
@click.option("--grant", "grants", multiple=True, metavar="WHO=LEVEL", help=_GRANT_HELP)
@click.option("--make-model", default="", help="What print dialogs show as the model.")
@click.option("--info", default="", help="A description (e.g. 'Front desk laser').")
@click.option("--location", default="", help="Where it stands (e.g. 'Reception').")
@pass_ctx
def add(
    cli: CliContext,
    name: str,
    backend: str,
    grants: tuple[str, ...],
    make_model: str,
    info: str,
    location: str,
) -> None:
    """Share printer NAME; jobs go to --backend. Anyone may print unless --grant says
    otherwise (e.g. --grant anonymous=none --grant everyone=print); you manage it."""
    grant_list = _checked(grants)
    body = {
        "name": name,
        "backend": backend,
        "grants": grant_list,
        "make_model": make_model,
        "info": info,
        "location": location,
    }
    client = cli.running_agent()
    if client is not None:
        data = client.post("/printers/printers", body)
    else:
        file = ConfigFile(cli.paths.config)
        made = new_printer(
            name,
            backend,
            grants=dict(parse_print_grant(g) for g in grant_list),
            owner=file.config.peer.owner,
            info=info,
            location=location,
            make_model=make_model,
        )
        data = add_printer(file, made).to_json()
    _notes(data)
    click.echo(f"Sharing printer '{data['name']}' -> {data['backend']} ({_grants_text(data)}).")


@printer.command("remove")
@click.argument("name")
@pass_ctx
def remove(cli: CliContext, name: str) -> None:
    """Stop sharing printer NAME (its finished jobs' files are untouched)."""
    client = cli.running_agent()
    if client is not None:
        data = client.delete(f"/printers/printers/{quote(name, safe='')}")
    else:
        data = remove_printer(ConfigFile(cli.paths.config), name).to_json()
    click.echo(f"Stopped sharing printer '{data['name']}'.")


@click.command("printer-set")
@click.argument("name")
@click.option("--grant", "grants", multiple=True, metavar="WHO=LEVEL", help=_GRANT_HELP)
@click.option(
    "--revoke", "revokes", multiple=True, metavar="WHO", help="Remove WHO's entry. Repeatable."
)
@pass_ctx
def printer_set(
    cli: CliContext, name: str, grants: tuple[str, ...], revokes: tuple[str, ...]
) -> None:
    """Change who may print on (or manage) printer NAME; takes effect at once."""
    grant_list = _checked(grants)
    if not grant_list and not revokes:
        raise click.UsageError("nothing to change: give --grant WHO=LEVEL or --revoke WHO")
    client = cli.running_agent()
    if client is not None:
        body = {"grants": grant_list, "revoke": list(revokes)}
        data = client.patch(f"/printers/printers/{quote(name, safe='')}", body)
    else:
        changes = dict(parse_print_grant(g) for g in grant_list)
        new = set_printer_grants(ConfigFile(cli.paths.config), name, changes, revokes)
        data = new.to_json() | {"grants": grants_json(new.grants)}
    _notes(data)
    click.echo(f"'{data['name']}': {_grants_text(data)}")


@click.command()
@click.argument("job", type=click.IntRange(1, 2**31 - 1))
@peer_printer_option
@user_option
@password_option
@pass_ctx
def cancel(cli: CliContext, job: int, target: str, user: str | None, password_stdin: bool) -> None:
    """Cancel print job JOB on this PC's printers (any user's: you own this PC), or on a
    peer's printer with --printer (your own jobs; others' need manage there)."""
    if target:
        found = resolve(cli.control(), target)
        uri, logon = found.reach(user, password_stdin)
        cancel_job(uri, job, user=getpass.getuser(), logon=logon, peer_id=found.peer_id)
        click.echo(f"Job {job} on {target} canceled.")
        return
    data = cli.control().delete(f"/printers/jobs/{job}")
    click.echo(f"Job {data['id']} ({data['name'] or 'untitled'}, {data['user']}) canceled.")


def register(group: click.Group) -> None:
    for command in (printer, printer_set, cancel):
        group.add_command(command)
