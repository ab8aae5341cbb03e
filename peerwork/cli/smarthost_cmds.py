"""``peerwork mail smarthost-password``: the password for ``[mail] smarthost_user``."""

from __future__ import annotations

import click

from peerwork.cli import mail_cmds
from peerwork.cli.context import CliContext, pass_ctx, read_password
from peerwork.mail_secret import save_smarthost_password


@click.command("smarthost-password")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@pass_ctx
def smarthost_password(cli: CliContext, password_stdin: bool) -> None:
    """Store the smarthost's password (a 0600 file in this PC's home; the running
    agent uses it from its next connection on)."""
    password = read_password(password_stdin, confirm=True)
    path = save_smarthost_password(cli.home, password)
    click.echo(f"Smarthost password saved in {path}.")


def register(cli: click.Group) -> None:
    mail_cmds.mail.add_command(smarthost_password)
