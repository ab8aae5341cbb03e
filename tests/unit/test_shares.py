from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.errors import InvalidInput, PeerworkError
from peerwork.shares import Access, Op, Share, check_share_folder, initial_grants, parse_grant


def test_access_levels_allow_ops() -> None:
    assert Access.READ.allows(Op.READ)
    assert not Access.READ.allows(Op.WRITE)
    assert not Access.READ.allows(Op.DELETE)
    assert Access.CHANGE.allows(Op.RENAME) and Access.CHANGE.allows(Op.CREATE)
    assert not Access.CHANGE.allows(Op.SET_SECURITY)
    assert not Access.CHANGE.allows(Op.SET_ATTRIBUTES)
    assert Access.FULL.allows(Op.SET_SECURITY)
    assert not any(Access.NONE.allows(op) for op in Op)


def test_account_entry_overrides_everyone() -> None:
    share = Share("docs", Path("/x"), grants={"everyone": Access.CHANGE, "Bob": Access.READ})
    assert share.access_for("bob") is Access.READ
    assert share.access_for("carol") is Access.CHANGE
    # `everyone` is every account that logs on; no logon is not one of them.
    assert share.access_for(None) is Access.NONE


def test_anonymous_is_a_grant_of_its_own() -> None:
    share = Share("pub", Path("/x"), grants={"anonymous": Access.READ, "bob": Access.CHANGE})
    assert share.anonymous is Access.READ
    assert share.access_for(None) is Access.READ
    assert share.access_for("bob") is Access.CHANGE
    # An account without an entry gets `everyone` (none), not the anonymous grant.
    assert share.access_for("carol") is Access.NONE
    # Nobody can log on as the grantee names and pick up their entries.
    assert share.access_for("Anonymous") is Access.NONE
    assert share.access_for("everyone") is Access.NONE


def test_warns_when_anonymous_exceeds_an_account_grant() -> None:
    share = Share(
        "t",
        Path("/x"),
        grants={"anonymous": Access.CHANGE, "everyone": Access.CHANGE, "bob": Access.READ},
    )
    assert share.anonymous_exceeds() == [("bob", Access.READ)]
    notes = share.grant_notes()
    assert any("bob" in n and "anonymous=change" in n for n in notes)
    assert any("without any password" in n for n in notes)
    # anonymous above `everyone`: every account without an entry could get more by not logging on
    lifted = Share("t", Path("/x"), grants={"anonymous": Access.READ})
    assert lifted.anonymous_exceeds() == [("everyone", Access.NONE)]
    assert (
        Share("t", Path("/x"), grants={"everyone": Access.READ, "bob": Access.NONE}).grant_notes()
        == []
    )
    equal = Share("t", Path("/x"), grants={"anonymous": Access.READ, "everyone": Access.READ})
    assert equal.anonymous_exceeds() == [] and equal.grant_notes() == []


@given(
    st.dictionaries(
        st.sampled_from(["everyone", "anonymous", "alice", "bob", "Carol"]),
        st.sampled_from(list(Access)),
    ),
    st.sampled_from([None, "alice", "bob", "carol", "dave", "anonymous", "EVERYONE"]),
)
def test_no_logon_never_beats_a_logon_unless_warned(
    grants: dict[str, Access], who: str | None
) -> None:
    share = Share("s", Path("/x"), grants=grants)
    if who is not None and share.access_for(None) > share.access_for(who):
        # Only possible when the share says so, and then it is called out.
        assert share.anonymous_exceeds() and share.grant_notes()
    if "anonymous" not in {k.lower() for k in grants}:
        assert share.access_for(None) is Access.NONE


def test_guest_gets_nothing_by_default() -> None:
    share = Share("docs", Path("/x"), grants=initial_grants("alice", {}))
    assert share.access_for(None) is Access.NONE
    assert share.access_for("alice") is Access.FULL
    assert share.access_for("mallory") is Access.NONE


def test_initial_grants_keep_explicit_owner_grant() -> None:
    grants = initial_grants("alice", {"alice": Access.READ, "everyone": Access.READ})
    assert grants == {"alice": Access.READ, "everyone": Access.READ}


@pytest.mark.parametrize("bad", ["", "a/b", "a\\b", "x" * 81, "IPC$", "a:b", "tab\there", "q?"])
def test_bad_share_names(bad: str) -> None:
    with pytest.raises(InvalidInput):
        Share(bad, Path("/x"))


def test_parse_grant() -> None:
    assert parse_grant("Alice=Change") == ("alice", Access.CHANGE)
    assert parse_grant("EVERYONE=read") == ("everyone", Access.READ)
    assert parse_grant(" Anonymous = read ") == ("anonymous", Access.READ)
    for bad in ("alice", "alice=write", "=read"):
        with pytest.raises(InvalidInput):
            parse_grant(bad)


@given(st.text(max_size=100))
def test_parse_grant_never_crashes(text: str) -> None:
    try:
        who, access = parse_grant(text)
    except PeerworkError:
        return
    assert isinstance(access, Access) and who


def test_check_share_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert check_share_folder(tmp_path) == tmp_path.resolve()
    with pytest.raises(InvalidInput, match="does not exist"):
        check_share_folder(tmp_path / "missing")
    with pytest.raises(InvalidInput, match="not a folder"):
        check_share_folder(tmp_path / "f")


def test_json_round_trip() -> None:
    share = Share("Docs", Path("/srv/docs"), "c", {"alice": Access.FULL})
    assert Share.from_json(share.to_json()) == share
    sealed = Share("Docs", Path("/srv/docs"), "c", {"alice": Access.FULL}, encrypt=True)
    assert Share.from_json(sealed.to_json()) == sealed
    assert sealed.with_grants({"bob": Access.READ}).encrypt


def test_encrypt_must_be_a_boolean() -> None:
    data = Share("Docs", Path("/srv/docs")).to_json()
    for bad in ("yes", 1, None):
        with pytest.raises(InvalidInput, match="encrypt"):
            Share.from_json(data | {"encrypt": bad})


def test_revoke_falls_back_to_everyone() -> None:
    share = Share("d", Path("/x"), grants={"everyone": Access.READ, "bob": Access.NONE})
    assert share.access_for("bob") is Access.NONE
    back = share.with_grants({}, revoke=["BOB", "nobody"])
    assert back.access_for("bob") is Access.READ
    assert share.with_grants({}, revoke=["everyone"]).access_for("carol") is Access.NONE
    anon = share.with_grants({"anonymous": Access.READ})
    assert anon.access_for(None) is Access.READ
    assert anon.with_grants({}, revoke=["ANONYMOUS"]).access_for(None) is Access.NONE


def test_json_shows_anonymous_and_warnings_without_changing_the_share() -> None:
    share = Share("d", Path("/x"), grants={"everyone": Access.CHANGE, "bob": Access.READ})
    data = share.to_json()
    assert data["anonymous"] == "none" and data["warnings"] == []
    assert "anonymous" not in data["grants"]  # type: ignore[operator]
    assert Share.from_json(data) == share


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=8), max_size=6))
def test_hostile_grant_tables_give_a_share_or_a_clear_error(grants: dict[str, str]) -> None:
    data = {"name": "s", "path": "/x", "grants": grants}
    try:
        share = Share.from_json(data)
    except PeerworkError:
        return
    # Whatever was written, no-logon access comes only from an `anonymous` entry.
    named = {k.strip().lower(): Access.parse(v) for k, v in grants.items()}
    assert share.access_for(None) is named.get("anonymous", Access.NONE)
    assert share.to_json()["anonymous"] == str(share.anonymous)
