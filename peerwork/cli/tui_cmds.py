"""``peerwork tui``: the terminal UI (textual), the PC's control panel."""

from __future__ import annotations

import click

from peerwork.cli.context import CliContext, pass_ctx


@click.command()
@click.option(
    "--retry",
    type=click.FloatRange(min=0.2),
    default=1.0,
    show_default=True,
    help="Seconds between attempts to reach the agent when it is not running.",
)
@click.option("--light", is_flag=True, help="Start with the light theme (ctrl+t switches).")
@pass_ctx
def tui(cli: CliContext, retry: float, light: bool) -> None:
    """Open the terminal UI: this PC, the workgroup, shares, accounts, browse, printers, mail."""
    from peerwork.tui.app import DARK, LIGHT, make_app

    make_app(cli.home, retry=retry, theme=LIGHT if light else DARK).run()


def register(group: click.Group) -> None:
    group.add_command(tui)
