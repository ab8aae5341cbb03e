"""``peerwork share``, ``unshare``, ``shares``, ``share-set``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.config import ConfigFile
from peerwork.connect_hints import connect_hints, local_addresses
from peerwork.control import ControlClient
from peerwork.shares import folder_problem, new_share, parse_grant


def _grant_list(grants: tuple[str, ...]) -> list[str]:
    for g in grants:
        parse_grant(g)  # fail before anything is sent or changed
    return list(grants)


def _grants_text(data: dict[str, Any]) -> str:
    grants = dict(data["grants"])
    # Always shown: whether anyone gets in without a password should be plain to see.
    grants.setdefault("anonymous", data.get("anonymous", "none"))
    return ", ".join(f"{k}={v}" for k, v in sorted(grants.items()))


@click.command()
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True, path_type=Path))
@click.option("--name", help="Share name (default: the folder's name).")
@click.option("--comment", default="", help="Shown next to the share in file browsers.")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    metavar="WHO=ACCESS",
    help=(
        "WHO is an account, 'everyone' (every account that logs on) or 'anonymous' "
        "(no logon; default none); ACCESS is none, read, change or full. Repeatable."
    ),
)
@click.option(
    "--encrypt",
    is_flag=True,
    help="Require SMB 3 encryption: clients that cannot encrypt (SMB 2) are refused.",
)
@pass_ctx
def share(
    cli: CliContext,
    path: Path,
    name: str | None,
    comment: str,
    grants: tuple[str, ...],
    encrypt: bool,
) -> None:
    """Share a folder. With no agent running, serve it in the foreground until Ctrl-C."""
    grant_list = _grant_list(grants)
    body = {
        "path": str(path.absolute()),
        "name": name,
        "comment": comment,
        "grants": grant_list,
        "encrypt": encrypt,
    }
    client = cli.running_agent()
    if client is None:
        _serve_foreground(cli, path, name, comment, grant_list, encrypt)
        return
    data = client.post("/shares", body)
    click.echo(f"Sharing {data['path']} as '{data['name']}' ({_grants_text(data)}).")
    _print_warnings(data)


def _print_warnings(data: dict[str, Any]) -> None:
    for note in data.get("warnings", []):
        click.echo(f"Note: {note}", err=True)


def _serve_foreground(
    cli: CliContext, path: Path, name: str | None, comment: str, grants: list[str], encrypt: bool
) -> None:
    import asyncio

    from peerwork.agents.agent import Agent

    cfg = ConfigFile(cli.paths.config).config
    the_share = new_share(
        path,
        name=name,
        comment=comment,
        grants=dict(parse_grant(g) for g in grants),
        owner=cfg.peer.owner,
        home=cli.home,
        encrypt=encrypt,
    )
    runner = Agent(cli.home, only_share=the_share)

    def ready(agent: Agent) -> None:
        files = next(s for s in agent.status()["services"] if s["name"] == "files")
        if files["state"] != "running":
            why = files["reason"] or "the file service is disabled in peerwork.toml"
            click.echo(f"peerwork: cannot serve {the_share.name}: {why}", err=True)
            agent.request_stop(exit_status=1)
            return
        host = (local_addresses() or [cfg.peer.name])[0]
        click.echo("No agent was running: serving this one share until Ctrl-C (not saved).")
        for line in connect_hints(
            the_share, host=host, port=files["ports"]["smb"], peer_name=cfg.peer.name,
            user=cfg.peer.owner,
        ):  # fmt: skip
            click.echo(line)
        _print_warnings({"warnings": agent.actions.grant_warnings(the_share)})
        for svc in agent.status()["services"]:
            if svc["state"] == "failed":
                click.echo(f"Warning: {svc['name']} failed: {svc['reason']}", err=True)

    raise SystemExit(asyncio.run(runner.run(on_ready=ready)))


def _agent_or_config(cli: CliContext) -> tuple[ControlClient | None, ConfigFile | None]:
    client = cli.running_agent()
    if client is not None:
        return client, None
    return None, ConfigFile(cli.paths.config)


@click.command()
@click.argument("name")
@pass_ctx
def unshare(cli: CliContext, name: str) -> None:
    """Stop sharing a folder (the folder itself is untouched)."""
    client, cfg = _agent_or_config(cli)
    if client:
        data = client.delete(f"/shares/{quote(name, safe='')}")
    else:
        assert cfg is not None
        data = cfg.remove_share(name).to_json()
    click.echo(f"Stopped sharing '{data['name']}' ({data['path']} is untouched).")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def shares(cli: CliContext, as_json: bool) -> None:
    """List this PC's shares and their permissions."""
    client, cfg = _agent_or_config(cli)
    if client:
        items = client.get("/shares")["shares"]
    else:
        assert cfg is not None
        items = [s.to_json() | {"problem": folder_problem(s, cli.home)} for s in cfg.config.shares]
    if as_json:
        print_json({"shares": items})
        return
    if not items:
        click.echo("No shares yet: 'peerwork share FOLDER' adds one.")
    for item in items:
        comment = f"  # {item['comment']}" if item["comment"] else ""
        sealed = " (encrypted)" if item.get("encrypt") else ""
        click.echo(f"{item['name']:<20} {item['path']}  [{_grants_text(item)}]{sealed}{comment}")
        if item.get("problem"):
            click.echo(f"{'':<20} not served: {item['problem']}")
        for note in item.get("warnings", []):
            click.echo(f"{'':<20} warning: {note}")


@click.command("share-set")
@click.argument("name")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    metavar="WHO=ACCESS",
    help="WHO: an account, 'everyone' (accounts that log on) or 'anonymous'. Repeatable.",
)
@click.option(
    "--revoke", "revokes", multiple=True, metavar="WHO", help="Remove WHO's entry. Repeatable."
)
@click.option("--comment", default=None)
@click.option(
    "--encrypt/--no-encrypt",
    default=None,
    help="Require SMB 3 encryption on the share (or stop requiring it).",
)
@pass_ctx
def share_set(
    cli: CliContext,
    name: str,
    grants: tuple[str, ...],
    revokes: tuple[str, ...],
    comment: str | None,
    encrypt: bool | None,
) -> None:
    """Change a share's permissions (or comment, or encryption); takes effect at once."""
    grant_list = _grant_list(grants)
    if not grant_list and not revokes and comment is None and encrypt is None:
        raise click.UsageError(
            "nothing to change: give --grant WHO=ACCESS, --revoke WHO, --comment or --encrypt"
        )
    client, cfg = _agent_or_config(cli)
    if client:
        patch = {
            "grants": grant_list,
            "revoke": list(revokes),
            "comment": comment,
            "encrypt": encrypt,
        }
        data = client.patch(f"/shares/{quote(name, safe='')}", patch)
        _print_warnings(data)
    else:
        assert cfg is not None
        current = cfg.config.share(name)
        if current is None:
            from peerwork.errors import NotFound

            raise NotFound(f"no share named {name!r}")
        new = current.with_grants(dict(parse_grant(g) for g in grant_list), revokes)
        if comment is not None:
            new = dataclasses.replace(new, comment=comment)
        if encrypt is not None:
            new = dataclasses.replace(new, encrypt=encrypt)
        cfg.update_share(new)
        data = new.to_json()
        _print_warnings(data)
    sealed = " (encrypted)" if data.get("encrypt") else ""
    click.echo(f"'{data['name']}': {_grants_text(data)}{sealed}")


def register(group: click.Group) -> None:
    for command in (share, unshare, shares, share_set):
        group.add_command(command)
