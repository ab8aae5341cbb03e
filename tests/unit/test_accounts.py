import stat
from pathlib import Path

import pytest

from peerwork.accounts import AccountStore, nt_hash
from peerwork.errors import AlreadyExists, ConfigError, InvalidInput, NotFound


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


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("[account.alice]\nnt_hash = 'zz'\n")
    with pytest.raises(ConfigError, match="alice"):
        AccountStore(path)


def test_polling_reader_keeps_last_good_accounts(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    reader = AccountStore(path)
    AccountStore(path).add("alice", "one")
    assert reader.nt_hash_of("alice") == nt_hash("one")
    path.write_text(path.read_text() + "\ngarbage = = [\n")
    assert reader.nt_hash_of("alice") == nt_hash("one")
    assert "line" in reader.problem
    with pytest.raises(ConfigError):  # a change on top of a broken file is refused
        reader.add("bob", "two")
    path.write_text('[account.alice]\nnt_hash = "' + nt_hash("three").hex() + '"\n')
    assert reader.nt_hash_of("alice") == nt_hash("three")
    assert reader.problem == ""
