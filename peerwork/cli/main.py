"""``peerwork`` command line: one click group; each area's commands live in their own module."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from peerwork import __version__
from peerwork.cli import (
    agent_cmds,
    config_cmds,
    gateway_cmds,
    mail_cmds,
    peer_cmds,
    printer_admin_cmds,
    printer_cmds,
    remote,
    share_cmds,
    smarthost_cmds,
    trust_cmds,
    tui_cmds,
    user_cmds,
)
from peerwork.cli.context import CliContext
from peerwork.errors import NotInitialised, PeerworkError, describe_os_error
from peerwork.home import resolve_home, root_home_hint


class PeerworkGroup(click.Group):
    """Turns errors into one line on stderr: PeerworkError and OSError exit 1, Ctrl-C 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PeerworkError as exc:
            message = exc.message
            if isinstance(exc, NotInitialised):
                message += root_home_hint()
            click.echo(f"peerwork: {message}", err=True)
            ctx.exit(1)
        except OSError as exc:
            click.echo(f"peerwork: {describe_os_error(exc)}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo(
                "\npeerwork: interrupted (copies resume if you run the same command)", err=True
            )
            ctx.exit(130)


@click.group(cls=PeerworkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="PEERWORK_HOME",
    help="State folder (default: $PEERWORK_HOME; /var/lib/peerwork as root, else per-user).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(__version__, prog_name="peerwork")
@click.pass_context
def cli(ctx: click.Context, home: str | None, verbose: bool) -> None:
    """peerwork: share folders with the PCs of your office, no server needed."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = CliContext(home=resolve_home(home), verbose=verbose)


for module in (
    agent_cmds,
    config_cmds,
    user_cmds,
    share_cmds,
    peer_cmds,
    printer_cmds,
    printer_admin_cmds,
    remote,
    mail_cmds,
    gateway_cmds,
    trust_cmds,
    smarthost_cmds,
    tui_cmds,
):
    module.register(cli)


def main() -> None:
    cli(prog_name="peerwork")


if __name__ == "__main__":
    main()
