import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.account_file import parse_accounts
from peerwork.account_log import Outcome
from peerwork.accounts import AccountStore, nt_hash
from peerwork.errors import AlreadyExists, ConfigError, InvalidInput, NotFound
from peerwork.identity import Identity


def test_nt_hash_known_vector() -> None:
    # MS-NLMP 4.2.2.1.2: NTOWFv1("Password")
    assert nt_hash("Password").hex() == "a4f49c406510bdcab6824ee7c30fd852"


def test_add_is_0600_and_survives_reload(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.toml")
    store.add("Alice", "s3cret")
    mode = stat.S_IMODE((tmp_path / "accounts.toml").stat().st_mode)
    assert mode == 0o600
    again = AccountStore(tmp_path / "accounts.toml")
    assert again.names() == ["alice"]
    assert again.nt_hash_of("ALICE") == nt_hash("s3cret")
    assert "s3cret" not in (tmp_path / "accounts.toml").read_text()


def test_hash_never_in_repr_or_public(tmp_path: Path) -> None:
    acc = AccountStore(tmp_path / "a.toml").add("bob", "pw")
    assert acc.nt_hash.hex() not in repr(acc)
    assert "nt_hash" not in acc.public()


def test_errors_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    store = AccountStore(path)
    store.add("alice", "one")
    before = path.read_bytes()
    with pytest.raises(AlreadyExists):
        store.add("alice", "two")
    with pytest.raises(NotFound):
        store.set_password("carol", "x")
    with pytest.raises(NotFound):
        store.remove("carol")
    with pytest.raises(InvalidInput):
        store.add("bad name!", "x")
    with pytest.raises(InvalidInput):
        store.add("everyone", "x")
    with pytest.raises(InvalidInput):
        store.add("dave", "")
    assert path.read_bytes() == before


def test_passwd_and_remove(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "a.toml")
    store.add("alice", "one")
    store.set_password("alice", "two")
    assert store.nt_hash_of("alice") == nt_hash("two")
    store.remove("alice")
    assert store.get("alice") is None


def test_reader_sees_writer_changes(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    reader = AccountStore(path)
    AccountStore(path).add("alice", "one")
    assert reader.nt_hash_of("alice") == nt_hash("one")


def test_corrupt_entry_is_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        "[account.alice]\nnt_hash = 'zz'\n[account.bob]\nnt_hash = '" + "00" * 16 + "'\n"
    )
    store = AccountStore(path)
    assert store.names() == ["bob"]
    assert "alice" in store.problem


def test_polling_reader_keeps_last_good_accounts(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    reader = AccountStore(path)
    AccountStore(path).add("alice", "one")
    assert reader.nt_hash_of("alice") == nt_hash("one")
    path.write_text(path.read_text() + "\ngarbage = = [\n")
    assert reader.nt_hash_of("alice") == nt_hash("one")
    assert "line" in reader.problem
    path.write_text('[account.alice]\nnt_hash = "' + nt_hash("three").hex() + '"\n')
    assert reader.nt_hash_of("alice") == nt_hash("three")
    assert reader.problem == ""


# -- with the peer identity: the signed change log ----------------------------------------
PC1 = Identity.generate("PC1")


def test_old_file_is_migrated_in_place_signed_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(
        "[account.alice]\nnt_hash = '" + nt_hash("one").hex() + "'\ncreated = 1.5\nchanged = 2.0\n"
    )
    path.chmod(0o644)
    store = AccountStore(path, PC1)
    acc = store.get("alice")
    assert acc is not None and acc.nt_hash == nt_hash("one")
    assert (acc.version, acc.origin, acc.created) == (1, PC1.peer_id, 1.5)
    text = path.read_text()
    assert "sig = " in text and "version = 1" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Loading the migrated file again changes nothing.
    before = path.read_bytes()
    assert AccountStore(path, PC1).get("alice") == acc
    assert path.read_bytes() == before


def test_delete_leaves_a_tombstone_that_a_replay_cannot_undo(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    store = AccountStore(path, PC1)
    store.add("alice", "one")
    added = store.entries(["alice"])[0]
    store.remove("alice")
    assert "[deleted.alice]" in path.read_text()
    merges = store.merge([added], lambda origin: True)
    assert merges[0].outcome is Outcome.STALE
    assert AccountStore(path, PC1).get("alice") is None
    store.add("alice", "two")  # a new account of the same name outranks the tombstone
    assert store.nt_hash_of("alice") == nt_hash("two")


def test_hand_edited_signed_entry_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    AccountStore(path, PC1).add("alice", "one")
    path.write_text(path.read_text().replace(nt_hash("one").hex(), nt_hash("evil").hex()))
    store = AccountStore(path, PC1)
    assert store.get("alice") is None
    assert "signature" in store.problem


def test_broken_file_is_set_aside_and_rewritten_from_memory(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    store = AccountStore(path, PC1)
    store.add("alice", "one")
    path.write_text("garbage = = [\n")
    assert store.nt_hash_of("alice") == nt_hash("one")  # logons go on
    assert "keeping the accounts" in store.problem
    store.add("bob", "two")  # a change repairs the file
    aside = list(tmp_path.glob("accounts.toml.broken-*"))
    assert len(aside) == 1 and aside[0].read_text() == "garbage = = [\n"
    again = AccountStore(path, PC1)
    assert again.names() == ["alice", "bob"] and again.problem == ""


def test_local_changes_reach_subscribers_merged_ones_do_not(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "a.toml", PC1)
    seen: list[str] = []
    store.subscribe(lambda entry: seen.append(f"{entry.name}:{entry.removed}"))
    store.add("alice", "one")
    store.set_password("alice", "two")
    store.remove("alice")
    other = AccountStore(tmp_path / "b.toml", Identity.generate("PC2"))
    other.add("bob", "x")
    store.merge(other.entries(["bob"]), lambda origin: True)
    assert seen == ["alice:False", "alice:False", "alice:True"]
    assert store.get("bob") is not None


# -- hostile files: parse_accounts keeps what it can, never crashes ------------------------
def _sample_file() -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = AccountStore(Path(folder) / "a.toml", PC1)
        store.add("alice", "one")
        store.add("bob", "two")
        store.remove("bob")
        return (Path(folder) / "a.toml").read_text()


SAMPLE = _sample_file()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_random_text_is_refused_or_read(text: str) -> None:
    try:
        parsed = parse_accounts(text, "a.toml")
    except ConfigError:
        return
    assert all(e.problem() == "" for e in parsed.entries)  # nothing unsigned or forged passes


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAMPLE) - 1), st.text(min_size=1, max_size=4))
def test_edited_file_keeps_only_intact_entries(at: int, junk: str) -> None:
    text = SAMPLE[:at] + junk + SAMPLE[at + 1 :]
    try:
        parsed = parse_accounts(text, "a.toml")
    except ConfigError:
        return
    original = {e.name: e for e in parse_accounts(SAMPLE, "a.toml").entries}
    for entry in parsed.entries:
        assert entry == original.get(entry.name)  # a changed entry never verifies
