"""peerwork.client.target: parsing //PEER/SHARE/path and resolving PEER."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.client.target import (
    DEFAULT_SMB_PORT,
    Target,
    parse_peer,
    parse_target,
    resolve_peer,
    split_remote_path,
)
from peerwork.errors import (
    AgentNotRunning,
    InvalidInput,
    PathEscape,
    PeerworkError,
    UntrustedPeer,
)


def test_full_target() -> None:
    t = parse_target("//FRONTDESK/docs/a/b.txt")
    assert t == Target("FRONTDESK", "docs", ("a", "b.txt"))
    assert t.path == "a/b.txt" and t.name == "b.txt"
    assert str(t) == "//FRONTDESK/docs/a/b.txt"


def test_backslashes_dots_and_double_slashes() -> None:
    assert parse_target(r"\\pc\docs\a\.\b") == Target("pc", "docs", ("a", "b"))
    assert parse_target("//pc/docs//a/") == Target("pc", "docs", ("a",))


def test_peer_only_and_share_root() -> None:
    assert parse_target("pc") == Target("pc")
    assert parse_target("//pc:4445/docs") == Target("pc:4445", "docs")


def test_requirements() -> None:
    with pytest.raises(InvalidInput, match="no share"):
        parse_target("//pc", need_share=True)
    with pytest.raises(InvalidInput, match="no file"):
        parse_target("//pc/docs", need_share=True, need_path=True)
    with pytest.raises(InvalidInput):
        parse_target("/etc/passwd")


@pytest.mark.parametrize(
    "path",
    ["..", "a/../b", "..\\x", "a/b:stream", "x.txt::$DATA", "NUL", "con.txt", "sub/LPT1", "aux "],
)
def test_escapes_refused(path: str) -> None:
    with pytest.raises((PathEscape, InvalidInput)):
        parse_target(f"//pc/docs/{path}")


@pytest.mark.parametrize("path", ["a*b", "q?", "a|b", "x\x01", "trail.", "trail "])
def test_bad_names_refused(path: str) -> None:
    with pytest.raises(InvalidInput):
        split_remote_path(path)


def test_names_that_only_look_reserved_are_fine() -> None:
    assert split_remote_path("console.txt/com10/nul_ok") == ("console.txt", "com10", "nul_ok")


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("pc", ("pc", None)),
        ("10.0.0.5:4445", ("10.0.0.5", 4445)),
        ("[::1]:445", ("::1", 445)),
        ("[fe80::1]", ("fe80::1", None)),
    ],
)
def test_parse_peer(peer: str, expected: tuple[str, int | None]) -> None:
    assert parse_peer(peer) == expected


@pytest.mark.parametrize("peer", ["pc:0", "pc:99999", "pc:x", "[::1", "a b", "-x", "pc:"])
def test_bad_peers(peer: str) -> None:
    with pytest.raises(InvalidInput):
        parse_peer(peer)


PEERS = [
    {
        "name": "FrontDesk",
        "addresses": ["10.1.0.7", "10.2.0.7"],
        "smb_port": 4445,
        "ports": {"smb": 4445},
        "state": "verified",
    },
    {"name": "noaddr", "addresses": [], "state": "verified"},
    {"name": "Mallory", "addresses": ["10.1.0.66"], "smb_port": 445, "state": "unverified"},
    {"name": "FrontDesk", "addresses": [], "smb_port": 445, "state": "impostor"},
    {"name": "Backoffice", "addresses": [], "smb_port": 445, "state": "impostor"},
]


def test_resolve_discovered_name_case_insensitively() -> None:
    ep = resolve_peer("frontdesk", lambda: PEERS)
    assert (ep.host, ep.port, ep.name, ep.discovered) == ("10.1.0.7", 4445, "FrontDesk", True)


def test_impostors_and_unverified_names_are_refused() -> None:
    with pytest.raises(UntrustedPeer, match="impostor"):
        resolve_peer("backoffice", lambda: PEERS)
    with pytest.raises(UntrustedPeer, match="does not verify"):
        resolve_peer("MALLORY", lambda: PEERS)
    with pytest.raises(UntrustedPeer, match="no address"):
        resolve_peer("noaddr", lambda: PEERS)


def test_members_resolve_and_non_members_are_refused() -> None:
    seen = [
        {"name": "PC2", "addresses": ["10.0.0.2"], "ports": {"smb": 445}, "state": "member"},
        {"name": "PC4", "addresses": ["10.0.0.4"], "ports": {"smb": 445}, "state": "not-a-member"},
        {"name": "PC3", "addresses": ["10.0.0.3"], "ports": {"smb": 445}, "state": "revoked"},
    ]
    assert resolve_peer("pc2", lambda: seen).host == "10.0.0.2"
    for name in ("PC4", "PC3"):
        with pytest.raises(UntrustedPeer, match="not a member of this workgroup"):
            resolve_peer(name, lambda: seen)


def test_an_older_agent_without_state_is_read_by_its_verified_flag() -> None:
    peers = [{"name": "PC", "addresses": ["10.0.0.9"], "smb_port": 4445, "verified": True}]
    assert resolve_peer("pc", lambda: peers).port == 4445
    with pytest.raises(UntrustedPeer):
        resolve_peer("pc", lambda: [peers[0] | {"verified": False}])


def test_explicit_port_skips_lookup() -> None:
    def boom() -> list[dict[str, Any]]:
        raise AssertionError("not asked")

    ep = resolve_peer("frontdesk:1445", boom)
    assert (ep.host, ep.port) == ("frontdesk", 1445)


def test_no_agent_or_no_match_means_host_name() -> None:
    def no_agent() -> list[dict[str, Any]]:
        raise AgentNotRunning("no agent")

    assert resolve_peer("files.lan", no_agent, env={}).port == DEFAULT_SMB_PORT
    ep = resolve_peer("elsewhere", lambda: PEERS, env={"PEERWORK_SMB_PORT": "4445"})
    assert (ep.host, ep.port, ep.discovered) == ("elsewhere", 4445, False)
    with pytest.raises(InvalidInput, match="PEERWORK_SMB_PORT"):
        resolve_peer("x", None, env={"PEERWORK_SMB_PORT": "http"})


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_hostile_text_gives_clean_errors(text: str) -> None:
    try:
        t = parse_target(text)
    except PeerworkError:
        return
    # Whatever parses must be safe to send: no component can step out or name a stream.
    for part in t.parts:
        assert part not in ("", ".", "..")
        assert ":" not in part and "/" not in part and "\\" not in part


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["..", ".", "a", "NUL", "x:y", "", "b.txt", "\\", "/", "COM1.log", "é"]),
        max_size=8,
    )
)
def test_mutated_paths(parts: list[str]) -> None:
    text = "//pc/share/" + "/".join(parts)
    try:
        t = parse_target(text)
    except (PathEscape, InvalidInput):
        assert any(p in ("..", "NUL", "x:y", "COM1.log") for p in parts)
        return
    assert ".." not in t.parts
