"""``peerwork mail send|inbox|read``: the CLI as a mail client of the workgroup post office.

They log on as an account (``--user``, default this PC's owner) with its own
password (prompted, or one line of stdin with ``--password-stdin``), at the
account's home PC as the local agent names it (``/v1/mail/home/{account}``):
sending goes through SMTP submission (STARTTLS, AUTH), reading through IMAP,
so the post office checks the CLI exactly as it checks Thunderbird, and the
commands keep working when a mailbox lives on another PC. Why not a
``/v1/mail/send`` route: the control socket only reaches this PC, and the
SMTP path already is the one that stores durably, enforces sizes and relay
rules and streams; a second intake would need all of that again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json, read_password
from peerwork.cli.progress import ProgressBar
from peerwork.client.mail import Mailbox, MailHome, no_progress
from peerwork.client.mail_compose import Draft, recipient
from peerwork.client.mail_session import fetch, send
from peerwork.errors import InvalidInput

user_option = click.option(
    "--user", "-u", help="Log on as this account (default: this PC's owner)."
)
password_option = click.option(
    "--password-stdin", is_flag=True, help="Read the account's password from one line of stdin."
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


def _home(cli: CliContext, user: str | None) -> MailHome:
    client = cli.control()
    account = user or str(client.get("/status")["peer"]["owner"])
    if not account:
        raise InvalidInput("which account? give --user NAME (this PC has no owner set)")
    return MailHome.from_json(client.get(f"/mail/home/{quote(account.lower(), safe='')}"))


@click.command("send")
@click.option("--to", "to", multiple=True, required=True, help="Recipient (bob or bob@domain).")
@click.option("--cc", multiple=True, help="Copy to (repeatable).")
@click.option("--subject", "-s", required=True, help="The subject line.")
@click.option(
    "--attach",
    "-a",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Attach a file (repeatable).",
)
@click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    help="The message text from this file ('-': stdin). Default: empty.",
)
@user_option
@password_option
@quiet_option
@pass_ctx
def mail_send(
    cli: CliContext,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    subject: str,
    attach: tuple[Path, ...],
    body_file: Path | None,
    user: str | None,
    password_stdin: bool,
    quiet: bool,
) -> None:
    """Send a message as an account, through the post office of its home PC."""
    if password_stdin and body_file == Path("-"):
        raise click.UsageError("--password-stdin and --body-file - both want stdin")
    home = _home(cli, user)
    password = read_password(password_stdin, confirm=False, prompt=f"Password of {home.account}")
    if body_file is None:
        body = ""
    elif body_file == Path("-"):
        body = sys.stdin.read()
    else:
        body = body_file.read_text("utf-8", errors="replace")
    draft = Draft(
        sender=home.address,
        to=tuple(recipient(t, home.domain) for t in to),
        cc=tuple(recipient(c, home.domain) for c in cc),
        subject=subject,
        body=body,
        attachments=attach,
    )
    with ProgressBar("sending", quiet) as update:
        sent = send(home, password, draft, update or no_progress)
    for line in sent.refused:
        click.echo(f"peerwork: not sent to {line}", err=True)
    click.echo(f"Sent to {', '.join(sent.accepted)} ({sent.size} bytes).")
    if sent.refused:
        sys.exit(1)


@click.command("inbox")
@click.argument("account", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_option
@password_option
@pass_ctx
def mail_inbox(
    cli: CliContext, account: str | None, as_json: bool, user: str | None, password_stdin: bool
) -> None:
    """The inbox of an account (ACCOUNT or --user; default: this PC's owner), over IMAP."""
    home = _home(cli, user or account)
    password = read_password(password_stdin, confirm=False, prompt=f"Password of {home.account}")
    with Mailbox(home, password) as box:
        messages = box.inbox()
    if as_json:
        print_json([m.to_json() for m in messages])
        return
    if not messages:
        click.echo(f"No mail for {home.address}.")
        return
    for m in messages:
        mark = " " if m.seen else "N"
        flag = "!" if m.flagged else " "
        click.echo(f"{m.id:>6} {mark}{flag} {m.date}  {m.sender}  {m.subject}  ({m.size} bytes)")


@click.command("read")
@click.argument("message_id", type=click.IntRange(min=1), metavar="ID")
@click.option(
    "--save-attachments",
    type=click.Path(file_okay=False, path_type=Path),
    help="Decode the attachments into this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_option
@password_option
@quiet_option
@pass_ctx
def mail_read(
    cli: CliContext,
    message_id: int,
    save_attachments: Path | None,
    as_json: bool,
    user: str | None,
    password_stdin: bool,
    quiet: bool,
) -> None:
    """Show message ID of the inbox (the number `mail inbox` lists) and mark it read."""
    home = _home(cli, user)
    password = read_password(password_stdin, confirm=False, prompt=f"Password of {home.account}")
    with ProgressBar("reading", quiet) as bar:
        reading, saved = fetch(home, password, message_id, save_attachments, bar or no_progress)
    if as_json:
        print_json(
            {
                "id": message_id,
                "headers": dict(reading.headers),
                "text": reading.text,
                "attachments": [
                    {
                        "filename": a.filename,
                        "type": a.content_type,
                        "encoded_size": a.encoded_size,
                        "size": a.size,
                    }
                    for a in reading.attachments
                ],
                "saved": [str(p) for p in saved],
            }
        )
        return
    for name, value in reading.headers:
        click.echo(f"{name}: {value}")
    click.echo("")
    click.echo(reading.text.rstrip("\n"))
    if reading.attachments:
        click.echo("")
    for a in reading.attachments:
        click.echo(f"[{a.number}] {a.filename}  {a.content_type}  (~{a.size} bytes)")
    for p in saved:
        click.echo(f"saved {p}")


COMMANDS = (mail_send, mail_inbox, mail_read)
