"""Client commands: ``browse``, ``ls``, ``get``, ``put``, ``rm``, ``mkdir``, ``rmdir``, ``mv``.

They talk SMB straight to the other peer (pysmb via peerwork.client.smb); the
local agent is only asked to turn a discovered peer name into an address.
Thin on purpose: parse, call the client, print.

Credentials: ``--user`` (default ``$PEERWORK_USER``, else the login name);
the password from ``--password-stdin`` (first line of stdin), else
``$PEERWORK_PASSWORD``, else an interactive prompt.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from peerwork.cli.context import CliContext
from peerwork.cli.progress import ProgressBar
from peerwork.client.target import Target, agent_peers, parse_target, resolve_peer
from peerwork.errors import InvalidInput, NotFound
from peerwork.home import HomePaths, resolve_home

if TYPE_CHECKING:
    # pysmb takes ~150 ms to import; only the remote commands pay for it.
    from peerwork.client.smb import RemoteEntry, SmbClient, TransferResult

F = TypeVar("F", bound=Callable[..., Any])


def _credential_options(fn: F) -> F:
    fn = click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=30.0,
        show_default=True,
        help="Seconds to wait for each answer from the peer.",
    )(fn)
    fn = click.option(
        "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
    )(fn)
    fn = click.option(
        "--user",
        "-U",
        metavar="NAME",
        help=(
            "Account to log on as (default: $PEERWORK_USER or you; '' logs on anonymously, "
            "which reaches only shares that grant 'anonymous')."
        ),
    )(fn)
    return fn


def _copy_options(resume_help: str) -> Callable[[F], F]:
    """Options and error handling shared by ``get`` and ``put``."""

    def apply(fn: F) -> F:
        fn = _credential_options(fn)
        fn = click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary.")(fn)
        return click.option(
            "--resume/--no-resume", default=True, show_default=True, help=resume_help
        )(fn)

    return apply


def _user(user: str | None) -> str:
    if user == "":
        return ""  # --user '': an anonymous logon (shares that grant anonymous)
    return user or os.environ.get("PEERWORK_USER") or getpass.getuser()


def _password(user: str, where: str, from_stdin: bool) -> str:
    if not user:
        return ""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("--password-stdin: stdin is empty; pipe the password in")
        return line.rstrip("\r\n")
    env = os.environ.get("PEERWORK_PASSWORD")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise InvalidInput(
            "no password: use --password-stdin or set PEERWORK_PASSWORD "
            "(stdin is not a terminal, so there is no prompt)"
        )
    return getpass.getpass(f"Password for {user} on {where}: ")


def _socket_path() -> Path | None:
    """The local agent's control socket, if there is one (to resolve peer names)."""
    ctx = click.get_current_context(silent=True)
    cli = ctx.find_object(CliContext) if ctx is not None else None
    home = cli.home if cli is not None else resolve_home(None)
    sock = HomePaths(home).socket
    return sock if sock.exists() else None


@contextmanager
def _session(
    target: Target, user: str | None, password_stdin: bool, timeout: float
) -> Iterator[SmbClient]:
    sock = _socket_path()
    endpoint = resolve_peer(target.peer, agent_peers(sock) if sock else None)
    name = _user(user)
    password = _password(name, endpoint.display, password_stdin)
    from peerwork.client.smb import SmbClient

    client = SmbClient.connect(
        endpoint.host, endpoint.port, name, password, endpoint.name, timeout=timeout
    )
    try:
        yield client
    finally:
        client.close()


def _fmt_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def _entry_json(e: RemoteEntry) -> dict[str, Any]:
    return {
        "name": e.name,
        "type": "dir" if e.is_dir else "file",
        "size": e.size,
        "mtime": e.mtime,
        "read_only": e.read_only,
    }


def _report(res: TransferResult, verb: str, quiet: bool) -> None:
    if quiet:
        return
    extra = f", resumed at byte {res.resumed_from}" if res.resumed_from else ""
    click.echo(
        f"{verb} {res.remote} {'→' if verb == 'got' else '←'} {res.local} "
        f"({res.size} bytes{extra})",
        err=True,
    )


# -- commands ---------------------------------------------------------------


@click.command()
@click.argument("peer")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "-a", "show_all", is_flag=True, help="Include hidden shares such as IPC$.")
@_credential_options
def browse(
    peer: str,
    as_json: bool,
    show_all: bool,
    user: str | None,
    password_stdin: bool,
    timeout: float,
) -> None:
    """List the shares of PEER (a discovered peer name or HOST[:PORT])."""
    target = parse_target(peer)
    with _session(target, user, password_stdin, timeout) as client:
        shares = [s for s in client.list_shares() if show_all or not s.special]
    if as_json:
        rows = [{"name": s.name, "comment": s.comment, "type": s.kind} for s in shares]
        click.echo(json.dumps(rows, indent=2))
        return
    if not shares:
        click.echo(f"{target.peer} shares nothing you can see")
    width = max((len(s.name) for s in shares), default=0)
    for s in shares:
        click.echo(f"{s.name:<{width}}  {s.kind:<7}  {s.comment}".rstrip())


@click.command(name="ls")
@click.argument("remote")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_credential_options
def ls_cmd(
    remote: str, as_json: bool, user: str | None, password_stdin: bool, timeout: float
) -> None:
    """List a folder on a peer: //PEER/SHARE[/PATH] (just //PEER lists its shares)."""
    target = parse_target(remote)
    if target.share is None:
        click.get_current_context().invoke(
            browse,
            peer=remote,
            as_json=as_json,
            show_all=False,
            user=user,
            password_stdin=password_stdin,
            timeout=timeout,
        )
        return
    with _session(target, user, password_stdin, timeout) as client:
        entry = client.stat(target.share, target.path)
        entries = client.list_dir(target.share, target.path) if entry.is_dir else [entry]
    if as_json:
        click.echo(json.dumps([_entry_json(e) for e in entries], indent=2))
        return
    for e in entries:
        name = e.name + ("/" if e.is_dir else "")
        size = "" if e.is_dir else str(e.size)
        click.echo(f"{size:>14}  {_fmt_time(e.mtime):16}  {name}")


@click.command()
@click.argument("remote")
@click.argument("local", required=False)
@_copy_options("Continue an interrupted copy (LOCAL.part) instead of starting over.")
def get(
    remote: str,
    local: str | None,
    resume: bool,
    quiet: bool,
    user: str | None,
    password_stdin: bool,
    timeout: float,
) -> None:
    """Copy a file from a peer: //PEER/SHARE/PATH [LOCAL]."""
    target = parse_target(remote, need_share=True, need_path=True)
    assert target.share is not None
    dest = Path(local) if local is not None else Path(target.name)
    if local is not None and local.endswith(os.sep) and not dest.is_dir():
        # LOCAL/ names a folder: never turn it into a file.
        raise NotFound(f"{local}: no such local folder")
    if dest.is_dir():
        dest = dest / target.name
    if not dest.parent.is_dir():
        raise NotFound(f"{dest.parent}: no such local folder")
    with (
        _session(target, user, password_stdin, timeout) as client,
        ProgressBar(target.name, quiet) as bar,
    ):
        res = client.get(target.share, target.path, dest, resume=resume, progress=bar)
    _report(res, "got", quiet)


@click.command()
@click.argument("local", type=click.Path(path_type=Path))
@click.argument("remote")
@_copy_options("Continue an interrupted upload instead of starting over.")
def put(
    local: Path,
    remote: str,
    resume: bool,
    quiet: bool,
    user: str | None,
    password_stdin: bool,
    timeout: float,
) -> None:
    """Copy a file to a peer: LOCAL //PEER/SHARE[/PATH] (a folder there keeps the name)."""
    target = parse_target(remote, need_share=True)
    assert target.share is not None
    if not local.is_file():
        raise NotFound(f"{local}: no such file" if not local.exists() else f"{local}: not a file")
    with _session(target, user, password_stdin, timeout) as client:
        existing = client.exists(target.share, target.path) if target.parts else None
        names_folder = remote.endswith(("/", "\\"))
        if names_folder and target.parts and (existing is None or not existing.is_dir):
            raise NotFound(f"{remote}: no such folder on {target.peer}")
        if not target.parts or (existing is not None and existing.is_dir):
            target = target.child(local.name)
        with ProgressBar(local.name, quiet) as bar:
            res = client.put(local, target.share or "", target.path, resume=resume, progress=bar)
    _report(res, "put", quiet)


def _simple(method: str, doc: str, name: str) -> click.Command:
    @click.argument("remote")
    @_credential_options
    def command(remote: str, user: str | None, password_stdin: bool, timeout: float) -> None:
        target = parse_target(remote, need_share=True, need_path=True)
        assert target.share is not None
        with _session(target, user, password_stdin, timeout) as client:
            getattr(client, method)(target.share, target.path)

    command.__doc__ = doc
    return click.command(name=name)(command)


rm = _simple("rm", "Delete a file on a peer: //PEER/SHARE/PATH.", "rm")
mkdir = _simple("mkdir", "Create a folder on a peer: //PEER/SHARE/PATH.", "mkdir")
rmdir = _simple("rmdir", "Remove an empty folder on a peer: //PEER/SHARE/PATH.", "rmdir")


@click.command()
@click.argument("remote")
@click.argument("new")
@_credential_options
def mv(remote: str, new: str, user: str | None, password_stdin: bool, timeout: float) -> None:
    """Rename or move within one share: //PEER/SHARE/OLD NEW (a path in the same share)."""
    target = parse_target(remote, need_share=True, need_path=True)
    assert target.share is not None
    if new.replace("\\", "/").startswith("//"):
        dest = parse_target(new, need_share=True, need_path=True)
        same = dest.peer.casefold() == target.peer.casefold()
        if not same or (dest.share or "").casefold() != target.share.casefold():
            raise InvalidInput("mv works inside one share; use get and put to copy between shares")
    else:
        dest = Target(target.peer, target.share).child(new)
        if not dest.parts:
            raise InvalidInput(f"'{new}': give the new name")
    with _session(target, user, password_stdin, timeout) as client:
        existing = client.exists(target.share, dest.path)
        if existing is not None and existing.is_dir:
            dest = dest.child(target.name)
        client.rename(target.share, target.path, dest.path)


COMMANDS = (browse, ls_cmd, get, put, rm, mkdir, rmdir, mv)


def register(group: click.Group) -> None:
    """Add the client commands to the ``peerwork`` group."""
    for command in COMMANDS:
        group.add_command(command)
