"""peerwork/config/: the typed-reader toolkit, each section's reader, and section edits."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerwork.agents.wiring import SERVICES
from peerwork.config import (
    SECTIONS,
    ConfigFile,
    ConfigSection,
    changed_sections,
    parse_config,
    parse_value,
    render_new_config,
)
from peerwork.config.read import as_port, field_default, read_section, setting
from peerwork.errors import ConfigError, InvalidInput, NotFound

PEER = {"name": "pc1", "workgroup": "office"}

# Every kind of value a TOML file can hold.
toml_values = st.recursive(
    st.one_of(
        st.text(max_size=10),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(),
        st.datetimes(max_value=datetime.datetime(9999, 1, 1)),
        st.dates(),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def _wrong_type(default: Any, value: Any) -> bool:
    """Whether ``value`` is of a kind the field with ``default`` can never accept."""
    if isinstance(default, bool):
        return not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, bool) or not isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, bool) or not isinstance(value, int | float)
    if isinstance(default, str):
        return not isinstance(value, str)
    if isinstance(default, dict):  # a table of names (mail aliases)
        return not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
    assert isinstance(default, tuple)
    return not isinstance(value, list) or not all(isinstance(i, str) for i in value)


def _fields() -> list[tuple[ConfigSection[Any], dataclasses.Field[Any]]]:
    return [(s, f) for s in SECTIONS for f in dataclasses.fields(s.kind)]


def _through_text(doc: dict[str, Any]) -> Any:
    # As a user's file arrives: written out, parsed back by tomlkit.
    return tomlkit.parse(tomlkit.dumps(doc))


@pytest.mark.parametrize(("section", "field"), _fields(), ids=lambda x: getattr(x, "name", ""))
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(value=toml_values)
def test_every_reader_refuses_wrong_types_naming_the_key(
    section: ConfigSection[Any], field: dataclasses.Field[Any], value: Any
) -> None:
    table = dict(PEER) if section.name == "peer" else {}
    table[field.name] = value
    doc = {"peer": PEER, section.name: table} if section.name != "peer" else {"peer": table}
    wrong = _wrong_type(field_default(field), value)
    try:
        parse_config(_through_text(doc))
    except ConfigError as exc:
        if wrong:
            assert f"{section.name}.{field.name} " in exc.message, exc.message
        return
    assert not wrong, f"{section.name}.{field.name} = {value!r} was accepted"


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name)
@given(value=toml_values.filter(lambda v: not isinstance(v, dict)))
def test_a_section_that_is_not_a_table_is_refused(section: ConfigSection[Any], value: Any) -> None:
    doc = {"peer": PEER, section.name: value} if section.name != "peer" else {"peer": value}
    with pytest.raises(ConfigError, match=rf"\[{section.name}\] must be a table"):
        parse_config(doc)


def test_every_listed_service_declares_a_listed_section() -> None:
    for service in SERVICES:
        assert service.section is not None, service.name
        assert service.section.name == service.name
        assert service.section in SECTIONS
        # the service's reader is the section's: same value, same refusals
        assert service.read_settings(parse_config({"peer": PEER}), {}) == service.section.read({})


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
@given(value=toml_values)
def test_service_readers_raise_only_config_errors(service: Any, value: Any) -> None:
    config = parse_config({"peer": PEER})
    for key in service.section.key_names():
        try:
            service.read_settings(config, {key: value})
        except ConfigError as exc:
            assert f"{service.name}." in exc.message, exc.message


def test_read_section_uses_defaults_types_and_named_readers() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Toy:
        on: bool = True
        count: int = 3
        wait: float = 1.5
        names: tuple[str, ...] = ()
        port: int = setting(80, as_port)

    assert read_section(Toy, {}, "toy") == Toy()
    got = read_section(Toy, {"count": 7, "wait": 2, "names": ["a"], "port": 0, "x": 1}, "toy")
    assert got == Toy(True, 7, 2.0, ("a",), 0)
    with pytest.raises(ConfigError, match=r"toy\.count must be a whole number of at least 1"):
        read_section(Toy, {"count": 0}, "toy")
    with pytest.raises(ConfigError, match=r"toy\.port must be 0-65535"):
        read_section(Toy, {"port": 65536}, "toy")
    with pytest.raises(ConfigError, match=r"toy\.wait must be a positive number"):
        read_section(Toy, {"wait": True}, "toy")


def test_files_keys_keep_their_own_rules() -> None:
    # logon_free_failures may be 0; the first delay is seconds (0 allowed); cross-key rule.
    files = parse_config({"peer": PEER, "files": {"logon_free_failures": 0}}).files
    assert files.logon_free_failures == 0
    assert (
        parse_config({"peer": PEER, "files": {"logon_first_delay": 0}}).files.logon_first_delay == 0
    )
    with pytest.raises(ConfigError, match="must not exceed"):
        parse_config({"peer": PEER, "files": {"logon_first_delay": 10, "logon_max_delay": 5}})


def test_peer_names_are_checked_and_upper_cased() -> None:
    assert parse_config({"peer": PEER}).peer.name == "PC1"
    with pytest.raises(ConfigError, match=r"\[peer\] PC name"):
        parse_config({"peer": {"name": "a b", "workgroup": "x"}})
    with pytest.raises(ConfigError, match=r"\[peer\] workgroup"):
        parse_config({"peer": {"name": "pc1"}})


def test_render_new_config_is_the_sections_templates_in_order() -> None:
    text = render_new_config("pc1", "office", "alice")
    headers = [line.split()[0] for line in text.splitlines() if line.startswith("[")]
    assert headers == [f"[{s.name}]" for s in SECTIONS]
    config = parse_config(tomlkit.parse(text))
    for s in SECTIONS[1:]:
        assert config.section(s.name) == s.read({})  # the templates show the defaults


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", 100),
        ("-3", -3),
        ("2.5", 2.5),
        ("true", True),
        ('["eth0", "eth1"]', ["eth0", "eth1"]),
        ('"quoted"', "quoted"),
        ("alice", "alice"),
        ("0.0.0.0", "0.0.0.0"),
        ("1\nother = 2", "1\nother = 2"),
        ("", ""),
    ],
)
def test_parse_value(text: str, value: Any) -> None:
    assert parse_value(text) == value


def test_changed_sections() -> None:
    a = parse_config({"peer": PEER})
    b = parse_config({"peer": {**PEER, "owner": "bob"}, "files": {"max_connections": 9}})
    assert changed_sections(a, a) == []
    assert changed_sections(a, b) == ["peer", "files"]


HAND_WRITTEN = """\
# my office PC
[peer]
name = "pc1"   # front desk
workgroup = "office"
nickname = "the old one"   # not peerwork's

[files]
# tuned by hand
max_connections = 50   # enough for us
future_key = "x"

[myplugin]
colour = "blue"
"""


@pytest.fixture
def hand_file(tmp_path: Path) -> ConfigFile:
    path = tmp_path / "peerwork.toml"
    path.write_text(HAND_WRITTEN)
    return ConfigFile(path)


def test_edit_section_keeps_comments_and_unknown_keys(hand_file: ConfigFile) -> None:
    config = hand_file.edit_section("files", {"max_connections": 60, "idle_timeout": 120})
    assert config.files.max_connections == 60 and config.files.idle_timeout == 120
    text = hand_file.path.read_text()
    assert text.replace("max_connections = 60", "max_connections = 50").startswith(
        HAND_WRITTEN.split("[myplugin]")[0].rstrip("\n")
    )
    for kept in ("# tuned by hand", "# enough for us", 'future_key = "x"', "# not peerwork's"):
        assert kept in text
    assert '[myplugin]\ncolour = "blue"' in text
    # a section the file lacks is added as a table of its own
    hand_file.edit_section("channel", {"port": 7446})
    assert ConfigFile(hand_file.path).config.channel.port == 7446
    assert "# front desk" in hand_file.path.read_text()


@pytest.mark.parametrize(
    ("section", "changes", "error"),
    [
        ("files", {"max_connections": 0}, ConfigError),
        ("files", {"max_connections": "many"}, ConfigError),
        ("files", {"port": 70000}, ConfigError),
        ("files", {"logon_first_delay": 100}, ConfigError),  # above logon_max_delay
        ("files", {"max_conections": 5}, InvalidInput),  # a typo is not a new key
        ("peer", {"name": "no spaces"}, ConfigError),
        ("discovery", {"interfaces": "eth0"}, ConfigError),
        ("share", {"name": "x"}, NotFound),
        ("myplugin", {"colour": "red"}, NotFound),  # nobody here can check it
    ],
)
def test_a_refused_edit_changes_nothing(
    hand_file: ConfigFile, section: str, changes: dict[str, Any], error: type[Exception]
) -> None:
    before = hand_file.path.read_bytes()
    doc_before = tomlkit.dumps(hand_file.doc)
    with pytest.raises(error):
        hand_file.edit_section(section, changes)
    assert hand_file.path.read_bytes() == before
    assert tomlkit.dumps(hand_file.doc) == doc_before


def test_a_check_decides_for_a_section_peerwork_does_not_list(hand_file: ConfigFile) -> None:
    def check(doc: Any, config: Any) -> None:
        if doc["myplugin"]["colour"] not in ("red", "blue"):
            raise ConfigError("myplugin.colour must be red or blue")

    before = hand_file.path.read_bytes()
    with pytest.raises(ConfigError, match=r"myplugin\.colour"):
        hand_file.edit_section("myplugin", {"colour": "green"}, check)
    assert hand_file.path.read_bytes() == before
    hand_file.edit_section("myplugin", {"colour": "red"}, check)
    assert 'colour = "red"' in hand_file.path.read_text()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    section=st.sampled_from(SECTIONS),
    value=toml_values,
    data=st.data(),
)
def test_any_edit_is_saved_whole_or_refused_whole(
    hand_file: ConfigFile, section: ConfigSection[Any], value: Any, data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(section.key_names()))
    before = hand_file.path.read_bytes()
    try:
        hand_file.edit_section(section.name, {key: value})
    except (ConfigError, InvalidInput):
        assert hand_file.path.read_bytes() == before
        return
    reread = ConfigFile(hand_file.path)
    assert reread.config == hand_file.config
    assert "# tuned by hand" in hand_file.path.read_text()
    hand_file.path.write_bytes(before)
