"""``peerwork user add|passwd|del`` and ``peerwork users``.

With an agent running, changes go through its control API (so it sees them at
once and tells its subscribers); without one, the account file is changed
directly through the same AccountStore the agent uses.
"""

from __future__ import annotations

from urllib.parse import quote

import click

from peerwork.accounts import AccountStore
from peerwork.cli.context import CliContext, pass_ctx, print_json, read_password
from peerwork.errors import ConfigError
from peerwork.identity import Identity


def _offline_store(cli: CliContext) -> AccountStore:
    """The account file itself (no agent runs): changes signed by this PC's peer key,
    so the agent sends them to the other members when it next starts."""
    try:
        identity: Identity | None = Identity.load(cli.paths.identity)
    except ConfigError:
        identity = None  # not initialised: a local-only file, adopted by the agent later
    return AccountStore(cli.paths.accounts, identity)


@click.group()
def user() -> None:
    """Workgroup accounts (the same name and password on every PC)."""


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@pass_ctx
def user_add(cli: CliContext, name: str, password_stdin: bool) -> None:
    """Add an account."""
    password = read_password(password_stdin, confirm=True)
    agent = cli.running_agent()
    if agent:
        agent.post("/accounts", {"name": name, "password": password})
    else:
        _offline_store(cli).add(name, password)
    click.echo(f"Account {name.lower()} added.")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@pass_ctx
def user_passwd(cli: CliContext, name: str, password_stdin: bool) -> None:
    """Change an account's password."""
    password = read_password(password_stdin, confirm=True, prompt="New password")
    agent = cli.running_agent()
    if agent:
        agent.put(f"/accounts/{quote(name, safe='')}/password", {"password": password})
    else:
        _offline_store(cli).set_password(name, password)
    click.echo(f"Password of {name.lower()} changed.")


@user.command("del")
@click.argument("name")
@pass_ctx
def user_del(cli: CliContext, name: str) -> None:
    """Remove an account."""
    agent = cli.running_agent()
    if agent:
        agent.delete(f"/accounts/{quote(name, safe='')}")
    else:
        _offline_store(cli).remove(name)
    click.echo(f"Account {name.lower()} removed.")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users(cli: CliContext, as_json: bool) -> None:
    """List accounts."""
    agent = cli.running_agent()
    if agent:
        accounts = agent.get("/accounts")["accounts"]
    else:
        accounts = [a.public() for a in _offline_store(cli).list()]
    if as_json:
        print_json({"accounts": accounts})
        return
    if not accounts:
        click.echo("No accounts yet: add one with 'peerwork user add NAME'.")
    for acc in accounts:
        click.echo(acc["name"])


def register(group: click.Group) -> None:
    group.add_command(user)
    group.add_command(users)
