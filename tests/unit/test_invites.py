"""Join codes a member keeps: single use, expiry, burnt after too many exchanges, 0600."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peerwork.errors import InvalidInput
from peerwork.invites import MAX_CODE_TRIES, InviteBook
from peerwork.proto.join_code import JoinCode


def test_codes_expire_burn_and_are_spent(tmp_path: Path) -> None:
    book = InviteBook(tmp_path)
    live = JoinCode.generate("a" * 32)
    short = JoinCode.generate("a" * 32)
    book.add(live, ttl=900, now=1000)
    book.add(short, ttl=10, now=1000)
    assert (tmp_path / "workgroup" / "invites.json").stat().st_mode & 0o777 == 0o600
    assert book.get(short.code_id, now=1005) is not None
    assert book.get(short.code_id, now=1011) is None  # expired
    for i in range(MAX_CODE_TRIES):
        assert book.count_try(live.code_id, now=1001 + i) is not None
    assert book.count_try(live.code_id, now=1100) is None  # burnt
    again = JoinCode.generate("a" * 32)
    book.add(again, ttl=900, now=1000)
    book.spend(again.code_id)
    assert book.get(again.code_id, now=1001) is None
    with pytest.raises(InvalidInput):
        book.add(again, ttl=0, now=1)


def test_a_corrupt_invites_file_means_no_codes(tmp_path: Path) -> None:
    path = tmp_path / "workgroup" / "invites.json"
    path.parent.mkdir()
    path.write_text("{not json")
    assert InviteBook(tmp_path).get("ABCDE", now=0) is None
    path.write_text(json.dumps({"invites": [{"code": "nonsense"}, 5]}))
    assert InviteBook(tmp_path).get("ABCDE", now=0) is None


def test_init_invite_creates_the_workgroup_and_prints_a_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = subprocess.run(
        [sys.executable, "-m", "peerwork.cli.main", "--home", str(home), "init",
         "--workgroup", "office", "--name", "pc1", "--owner", "alice", "--invite"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert "Created workgroup OFFICE" in out
    line = next(x for x in out.splitlines() if x.startswith("Join code: "))
    code = JoinCode.parse(line.removeprefix("Join code: "))
    assert InviteBook(home).get(code.code_id, now=0) is not None
    key = home / "workgroup" / "workgroup.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (home / "workgroup").stat().st_mode & 0o777 == 0o700
