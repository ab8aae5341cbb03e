"""``peerwork mail queue|retry``: the post office of this PC, through its agent
(``send|inbox|read`` are in :mod:`.mail_client_cmds`)."""

from __future__ import annotations

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.cli.mail_client_cmds import COMMANDS


@click.group()
def mail() -> None:
    """The workgroup post office on this PC."""


@mail.command("queue")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def mail_queue(cli: CliContext, as_json: bool) -> None:
    """Messages accepted but not yet delivered, and why they wait."""
    entries = cli.control().get("/mail/queue")["entries"]
    if as_json:
        print_json(entries)
        return
    if not entries:
        click.echo("The mail queue is empty.")
        return
    for e in entries:
        waiting = ", ".join(r for r in e["recipients"] if r not in e["delivered"])
        why = e["last_error"] or "not tried yet"
        click.echo(
            f"{e['id']}  {e['size']} bytes  from {e['sender'] or '<>'} to {waiting}: "
            f"{e['state']}, {e['attempts']} attempt(s); {why}"
        )


@mail.command("retry")
@pass_ctx
def mail_retry(cli: CliContext) -> None:
    """Try every waiting message now."""
    cli.control().post("/mail/retry")
    click.echo("Retrying the mail queue now.")


for _command in COMMANDS:
    mail.add_command(_command)


def register(group: click.Group) -> None:
    group.add_command(mail)
