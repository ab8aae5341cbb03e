import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.config import ConfigFile, parse_config, render_new_config
from peerwork.errors import AlreadyExists, ConfigError, NotFound, NotInitialised
from peerwork.shares import Access, Share


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    path = tmp_path / "peerwork.toml"
    path.write_text(
        render_new_config("frontdesk", "office", "alice")
        + "\n# my own notes survive\n[custom]\nkeep = 1 # mine\n"
    )
    return path


def test_new_config_parses_with_defaults(cfg_path: Path) -> None:
    cfg = ConfigFile(cfg_path).config
    assert cfg.peer.name == "FRONTDESK"
    assert cfg.peer.workgroup == "OFFICE"
    assert cfg.peer.owner == "alice"
    assert cfg.files.enabled and cfg.discovery.enabled
    assert cfg.files.port in (445, 4445)
    assert cfg.shares == ()
    assert cfg.channel.enabled and cfg.channel.port == 7445  # root and unprivileged alike
    assert cfg.channel.handshake_timeout == 10.0


def test_edits_keep_comments_and_unknown_keys(cfg_path: Path, tmp_path: Path) -> None:
    cf = ConfigFile(cfg_path)
    cf.add_share(Share("Docs", tmp_path, "office docs", {"alice": Access.FULL}))
    cf = ConfigFile(cfg_path)
    cf.update_share(cf.config.share("docs").with_grants({"everyone": Access.READ}))  # type: ignore[union-attr]
    text = cfg_path.read_text()
    assert "# my own notes survive" in text
    assert "keep = 1 # mine" in text
    assert "# this PC's name on the LAN" in text
    share = ConfigFile(cfg_path).config.share("DOCS")
    assert share is not None
    assert share.access_for("alice") is Access.FULL
    assert share.access_for("bob") is Access.READ and share.access_for(None) is Access.NONE
    assert share.comment == "office docs"
    ConfigFile(cfg_path).remove_share("docs")
    text = cfg_path.read_text()
    assert "keep = 1 # mine" in text and 'name = "Docs"' not in text
    assert ConfigFile(cfg_path).config.shares == ()


def test_duplicate_and_missing_share(cfg_path: Path, tmp_path: Path) -> None:
    cf = ConfigFile(cfg_path)
    cf.add_share(Share("docs", tmp_path))
    before = cfg_path.read_bytes()
    with pytest.raises(AlreadyExists):
        cf.add_share(Share("DOCS", tmp_path))
    with pytest.raises(NotFound):
        cf.remove_share("nope")
    assert cfg_path.read_bytes() == before


def test_corrupt_file_names_the_line(cfg_path: Path) -> None:
    lines = cfg_path.read_text().splitlines()
    lines[5] = "workgroup = = broken"
    cfg_path.write_text("\n".join(lines))
    with pytest.raises(ConfigError, match="line 6"):
        ConfigFile(cfg_path)


def test_missing_file_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(NotInitialised, match="peerwork init"):
        ConfigFile(tmp_path / "peerwork.toml")


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('[files]\nport = "x"', "files.port must be an integer"),
        ("[files]\nport = 70000", "files.port must be 0-65535"),
        ("[files]\nport = true", "files.port must be an integer"),
        ('[discovery]\ninterfaces = "eth0"', "discovery.interfaces must be a list"),
        ("[discovery]\ninterfaces = [1]", "list of strings"),
        ("discovery = 5", "[discovery] must be a table"),
        ('files = "x"', "[files] must be a table"),
        ('share = "x"', "[[share]] tables"),
        ("share = [1]", "must be a table"),
        ('[[share]]\nname = "a/b"\npath = "/tmp"', "contains '/'"),
        ('channel = "x"', "[channel] must be a table"),
        ("[channel]\nenabled = 1", "channel.enabled must be true or false"),
        ("[channel]\nport = -1", "channel.port must be 0-65535"),
        ('[channel]\nport = "7445"', "channel.port must be an integer"),
        ("[channel]\nbind = 0", "channel.bind must be a string"),
        ("[channel]\nhandshake_timeout = 0", "channel.handshake_timeout must be a positive"),
        ("[channel]\nhandshake_timeout = true", "channel.handshake_timeout must be a positive"),
        ('[[share]]\nname = "x"\npath = "/tmp"\ngrants = {bob = "write"}', "unknown access"),
    ],
)
def test_bad_values_name_the_key(snippet: str, message: str) -> None:
    import tomlkit

    peer = '[peer]\nname = "pc1"\nworkgroup = "office"\n'
    # top-level keys must come before the first table
    text = peer + snippet if snippet.startswith("[") else snippet + "\n" + peer
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(tomlkit.parse(text))


def test_duplicate_share_in_file_is_an_error() -> None:
    import tomlkit

    text = (
        '[peer]\nname = "pc1"\nworkgroup = "office"\n'
        '[[share]]\nname = "a"\npath = "/tmp"\n[[share]]\nname = "A"\npath = "/srv"\n'
    )
    with pytest.raises(ConfigError, match="appears twice"):
        parse_config(tomlkit.parse(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_hostile_text_gives_config_error_or_a_config(text: str) -> None:
    import tomlkit

    try:
        doc = tomlkit.parse(text)
    except Exception:
        return  # tomlkit's own ParseError; ConfigFile turns it into ConfigError (tested above)
    with contextlib.suppress(ConfigError):
        parse_config(doc)


def test_address_check_must_be_positive() -> None:
    import tomlkit

    base = '[peer]\nname = "pc1"\nworkgroup = "office"\n[discovery]\n'
    assert parse_config(tomlkit.parse(base + "address_check = 2.5")).discovery.address_check == 2.5
    for bad in ("0", "-1", "true", '"x"'):
        with pytest.raises(ConfigError, match="address_check"):
            parse_config(tomlkit.parse(base + f"address_check = {bad}"))


def test_files_limits_default_and_are_type_checked() -> None:
    import tomlkit

    base = '[peer]\nname = "pc1"\nworkgroup = "office"\n[files]\n'
    files = parse_config(tomlkit.parse(base)).files
    assert (files.max_connections, files.max_connections_per_client) == (256, 16)
    assert (files.max_open_files, files.queue_mib, files.queue_total_mib) == (1024, 24, 192)
    assert (files.logon_timeout, files.idle_timeout, files.stall_timeout) == (30, 900, 60)
    text = base + "max_connections = 40\nlogon_timeout = 2.5\nqueue_mib = 8\n"
    files = parse_config(tomlkit.parse(text)).files
    assert (files.max_connections, files.logon_timeout, files.queue_mib) == (40, 2.5, 8)
    for key in ("max_connections", "max_connections_per_client", "max_open_files", "queue_mib"):
        for bad in ("0", "-3", "1.5", "true", '"10"'):
            with pytest.raises(ConfigError, match=f"files.{key} must be"):
                parse_config(tomlkit.parse(base + f"{key} = {bad}"))
    for key in ("logon_timeout", "idle_timeout", "stall_timeout"):
        for bad in ("0", "-1", "false", '"30"'):
            with pytest.raises(ConfigError, match=f"files.{key} must be"):
                parse_config(tomlkit.parse(base + f"{key} = {bad}"))


def test_edits_start_from_the_file_on_disk(cfg_path: Path, tmp_path: Path) -> None:
    """A hand edit made after the file was loaded (agent running) survives a CLI edit."""
    held = ConfigFile(cfg_path)
    cfg_path.write_text(cfg_path.read_text() + "\n[hand]\nadded = 'while the agent ran'\n")
    held.add_share(Share("docs", tmp_path))
    text = cfg_path.read_text()
    assert "added = 'while the agent ran'" in text and 'name = "docs"' in text


def test_edit_refused_when_hand_edit_broke_the_file(cfg_path: Path, tmp_path: Path) -> None:
    held = ConfigFile(cfg_path)
    cfg_path.write_text(cfg_path.read_text() + "\nbroken = = 1\n")
    before = cfg_path.read_bytes()
    with pytest.raises(ConfigError, match="line"):
        held.add_share(Share("docs", tmp_path))
    assert cfg_path.read_bytes() == before


_toml_values = st.one_of(
    st.integers(-5, 70000),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.sampled_from(["name", "path", "port", "x"]), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["discovery", "files", "share", "channel", "x"]),
        st.one_of(
            _toml_values,
            st.dictionaries(
                st.sampled_from(
                    [
                        "enabled",
                        "interfaces",
                        "port",
                        "bind",
                        "require_signing",
                        "address_check",
                        "handshake_timeout",
                        "max_locks_per_open",
                        "max_listing_work",
                        "max_connections",
                        "queue_mib",
                        "logon_timeout",
                    ]
                ),
                _toml_values,
                max_size=4,
            ),
        ),
        max_size=3,
    )
)
def test_any_shape_of_document_gives_a_config_or_config_error(extra: dict[str, object]) -> None:
    doc = {"peer": {"name": "pc1", "workgroup": "office"}, **extra}
    with contextlib.suppress(ConfigError):
        parse_config(doc)


def test_logon_limits_in_files() -> None:
    import tomlkit

    base = '[peer]\nname = "pc1"\nworkgroup = "office"\n[files]\n'
    files = parse_config(tomlkit.parse(base)).files
    assert (files.max_pending_logons, files.logon_free_failures, files.logon_max_delay) == (
        8,
        5,
        30.0,
    )
    text = base + "max_pending_logons = 2\nlogon_free_failures = 0\nlogon_max_delay = 4\n"
    files = parse_config(tomlkit.parse(text)).files
    assert (files.max_pending_logons, files.logon_free_failures, files.logon_max_delay) == (
        2,
        0,
        4.0,
    )
    for bad in (
        "max_pending_logons = 0",
        "max_sessions_per_connection = true",
        "logon_throttle_entries = 1.5",
        "logon_free_failures = -1",
        'logon_first_delay = "1"',
        "logon_max_delay = 1e9",
        "pending_logon_timeout = 0",
        "logon_burst_window = -2",
        "logon_first_delay = 9\nlogon_max_delay = 3",
    ):
        with pytest.raises(ConfigError, match=r"files\.(logon|max|pending)"):
            parse_config(tomlkit.parse(base + bad))


def test_files_limits_default_and_must_be_positive_integers() -> None:
    import tomlkit

    from peerwork.range_locks import DEFAULT_LOCKS_PER_OPEN
    from peerwork.sharefs.match import DEFAULT_LISTING_WORK

    base = '[peer]\nname = "pc1"\nworkgroup = "office"\n[files]\n'
    files = parse_config(tomlkit.parse(base)).files
    assert files.max_locks_per_open == DEFAULT_LOCKS_PER_OPEN
    assert files.max_listing_work == DEFAULT_LISTING_WORK
    set_ = parse_config(tomlkit.parse(base + "max_locks_per_open = 10\nmax_listing_work = 99"))
    assert (set_.files.max_locks_per_open, set_.files.max_listing_work) == (10, 99)
    for key in ("max_locks_per_open", "max_listing_work"):
        for bad in ("0", "-1", "true", '"x"', "1.5"):
            with pytest.raises(ConfigError, match=f"files.{key} must be"):
                parse_config(tomlkit.parse(base + f"{key} = {bad}"))
