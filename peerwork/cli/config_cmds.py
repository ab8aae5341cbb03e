"""``peerwork config show|get|set``: read and edit peerwork.toml's sections.

``set`` goes through the running agent when there is one (it checks the value
with the section's reader, saves, and applies it live or says a restart is
needed); with no agent it edits the file itself. Either way comments, hand
edits and unknown keys stay, and a refused value changes nothing.
"""

from __future__ import annotations

from typing import Any

import click
import tomlkit

from peerwork.cli.agent_cmds import print_reload
from peerwork.cli.context import CliContext, pass_ctx, print_json
from peerwork.config import SECTIONS, ConfigFile, parse_value, section_named
from peerwork.config.read import plain
from peerwork.errors import InvalidInput, NotFound


def _split(dotted: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if not section or not key:
        raise InvalidInput(f"{dotted!r}: write SECTION.KEY, e.g. files.max_connections")
    return section, key


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _toml(value: Any) -> str:
    return str(tomlkit.item(_jsonable(value)).as_string())


def _effective(file: ConfigFile, section: str) -> dict[str, Any]:
    """The section's values as the agent uses them (defaults filled in) for a section
    peerwork lists; for another (a service's own) the table as written."""
    known = section_named(section)
    if known is not None:
        value = file.config.section(section)
        return {k: _jsonable(getattr(value, k)) for k in known.key_names()}
    raw = plain(file.doc.get(section))
    if not isinstance(raw, dict):
        raise NotFound(f"peerwork.toml has no section [{section}]")
    return raw


@click.group()
def config() -> None:
    """Show or change peerwork.toml settings (SECTION.KEY)."""


@config.command()
@click.argument("section", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def show(cli: CliContext, section: str | None, as_json: bool) -> None:
    """Every section's settings with defaults filled in (or just SECTION's)."""
    file = ConfigFile(cli.paths.config)
    names = [section] if section else [s.name for s in SECTIONS]
    data = {name: _effective(file, name) for name in names}
    if as_json:
        print_json(data)
        return
    blocks = []
    for name, values in data.items():
        lines = [f"[{name}]", *(f"{k} = {_toml(v)}" for k, v in values.items())]
        blocks.append("\n".join(lines))
    click.echo("\n\n".join(blocks))


@config.command()
@click.argument("key", metavar="SECTION.KEY")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def get(cli: CliContext, key: str, as_json: bool) -> None:
    """One setting's value, its default if the file does not set it."""
    section, name = _split(key)
    values = _effective(ConfigFile(cli.paths.config), section)
    if name not in values:
        raise NotFound(f"[{section}] has no key {name!r}")
    if as_json:
        print_json(values[name])
    else:
        click.echo(_toml(values[name]))


@config.command(name="set", context_settings={"ignore_unknown_options": True})
@click.argument("key", metavar="SECTION.KEY")
@click.argument("value")
@pass_ctx
def set_(cli: CliContext, key: str, value: str) -> None:
    """Set SECTION.KEY to VALUE (TOML: 100, true, ["eth0"]; other text is a string).

    The value is checked by the section's reader first; a bad one changes nothing.
    A running agent applies it at once, or says it needs a restart."""
    section, name = _split(key)
    typed = parse_value(value)
    client = cli.running_agent()
    if client is None:
        ConfigFile(cli.paths.config).edit_section(section, {name: typed})
        click.echo(f"{section}.{name} = {_toml(typed)} (the agent uses it when it starts)")
        return
    report = client.post("/config", {"section": section, "values": {name: typed}})
    click.echo(f"{section}.{name} = {_toml(typed)}")
    print_reload(report, quiet_shares=True)
    if section not in report["applied"] + report["restart_needed"]:
        click.echo(f"[{section}] unchanged: it already had that value")


def register(group: click.Group) -> None:
    group.add_command(config)
