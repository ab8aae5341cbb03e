"""Removing a member: rotation, what a receiving member accepts, the channel bodies."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.errors import InvalidInput
from peerwork.identity import Identity
from peerwork.models import PeerTrust
from peerwork.proto.catchup_body import CATCH_UP
from peerwork.proto.channel_body import BodyError
from peerwork.proto.join_body import JOIN_FINISH, JOIN_START, JoinStart
from peerwork.proto.rekey_body import REKEY, RekeyRequest
from peerwork.rekey import check_rekey, rotate
from peerwork.workgroup import Workgroup, issue

PC1, PC2, PC3 = (Identity.generate(n) for n in ("pc1", "pc2", "pc3"))


def _group(tmp_path: Path) -> tuple[Workgroup, Workgroup, Workgroup]:
    """PC1 created the workgroup; PC2 and PC3 joined (got the key and a certificate)."""
    wg1 = Workgroup.create(
        tmp_path / "pc1", workgroup="OFFICE", peer_id=PC1.peer_id, pc_name="PC1", now=1.0
    )
    others = []
    for ident, name in ((PC2, "PC2"), (PC3, "PC3")):
        cert = wg1.issue(peer_id=ident.peer_id, name=name, now=2.0)
        others.append(Workgroup.install(tmp_path / name, key_raw=wg1.key_raw(), cert=cert))
    return wg1, others[0], others[1]


def rekey_key(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def _standing(wg: Workgroup, ident: Identity, name: str, cert_text: str) -> PeerTrust:
    return wg.standing(
        peer_id=ident.peer_id, name=name, workgroup="OFFICE", cert_text=cert_text
    ).trust


def test_removal_rotates_the_key_and_the_removed_member_reads_as_revoked(tmp_path: Path) -> None:
    wg1, wg2, wg3 = _group(tmp_path)
    rekey = rotate(
        wg1, remove=PC3.peer_id, members=[(PC1.peer_id, "PC1"), (PC2.peer_id, "PC2")], now=3
    )
    assert set(rekey.certs) == {PC1.peer_id, PC2.peer_id}
    cert2 = rekey.certs[PC2.peer_id]
    why = check_rekey(
        wg2, key_raw=rekey.key_raw, cert=cert2, revoked=rekey.revoked, succession=rekey.succession
    )
    assert why == ""
    new2 = Workgroup.install(
        tmp_path / "PC2", key_raw=rekey.key_raw, cert=cert2, revoked=rekey.revoked
    )
    assert new2.public_raw != wg2.public_raw
    # PC3 keeps announcing its old certificate: revoked, not a stranger.
    assert _standing(new2, PC3, "PC3", wg3.cert.to_text()) is PeerTrust.REVOKED
    # What PC3 certifies with the old key it still holds counts for nothing.
    forged = wg3.issue(peer_id=Identity.generate("x").peer_id, name="PC9", now=4)
    assert _standing(new2, PC3, "PC9", forged.to_text()) is not PeerTrust.MEMBER
    # PC1's new certificate is a member's; its old one is not any more.
    assert _standing(new2, PC1, "PC1", rekey.certs[PC1.peer_id].to_text()) is PeerTrust.MEMBER
    assert _standing(new2, PC1, "PC1", wg1.cert.to_text()) is PeerTrust.NOT_A_MEMBER
    # Read back from disk, the list is still there.
    loaded = Workgroup.load(tmp_path / "PC2")
    assert loaded is not None and loaded.revoked == rekey.revoked


def test_a_rekey_is_refused_unless_it_comes_from_our_key_and_is_newer(tmp_path: Path) -> None:
    wg1, wg2, _wg3 = _group(tmp_path)
    rekey = rotate(wg1, remove=PC3.peer_id, members=[(PC2.peer_id, "PC2")], now=3)
    cert2 = rekey.certs[PC2.peer_id]

    def check(wg: Workgroup, **changes: Any) -> str:
        args: dict[str, Any] = {
            "key_raw": rekey.key_raw,
            "cert": cert2,
            "revoked": rekey.revoked,
            "succession": rekey.succession,
        }
        return check_rekey(wg, **(args | changes))

    assert check(wg2) == ""
    # Another workgroup's key signed the succession.
    stranger = Workgroup.create(
        tmp_path / "s", workgroup="OFFICE", peer_id=PC2.peer_id, pc_name="PC2", now=1
    )
    assert "not signed by this workgroup's key" in check(stranger)
    # A tampered list, a certificate for someone else.
    bigger = dataclasses.replace(rekey.revoked, number=9)
    assert check(wg2, revoked=bigger) != ""
    assert "another peer's" in check(
        wg2,
        # PC1's certificate of the new key, sent to PC2 as if it were PC2's.
        cert=issue(
            rekey_key(rekey.key_raw), peer_id=PC1.peer_id, name="PC1", workgroup="OFFICE", now=1
        ),
    )
    # Replayed: once installed, the same list number is not newer.
    new2 = Workgroup.install(
        tmp_path / "PC2", key_raw=rekey.key_raw, cert=cert2, revoked=rekey.revoked
    )
    again = rotate(new2, remove=PC3.peer_id, members=[(PC2.peer_id, "PC2")], now=4)
    old_replay = check_rekey(
        new2, key_raw=rekey.key_raw, cert=cert2, revoked=rekey.revoked, succession=rekey.succession
    )
    assert old_replay != ""
    assert again.revoked.number == rekey.revoked.number + 1
    with pytest.raises(Exception, match="cannot remove itself"):
        rotate(wg1, remove=PC1.peer_id, members=[], now=5)


def test_rekey_body_round_trip(tmp_path: Path) -> None:
    wg1, _, _ = _group(tmp_path)
    rekey = rotate(wg1, remove=PC3.peer_id, members=[(PC2.peer_id, "PC2")], now=3)
    req = RekeyRequest(rekey.key_raw, rekey.certs[PC2.peer_id], rekey.revoked, rekey.succession)
    assert REKEY.parse_request(req.to_body()) == req
    start = JoinStart("ABCDE", "PC2", "OFFICE", b"A" * 33)
    assert JOIN_START.parse_request(start.to_body()) == start


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
b64ish = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=120
)


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "key",
                "cert",
                "revoked",
                "succession",
                "code_id",
                "name",
                "workgroup",
                "msg",
                "confirm",
                "sealed",
            ]
        ),
        json_values | b64ish,
    )
)
def test_hostile_bodies_are_refused_with_body_errors(body: dict[str, Any]) -> None:
    for kind in (REKEY, JOIN_START, JOIN_FINISH, CATCH_UP):
        for parse in (kind.parse_request, kind.parse_reply):
            with contextlib.suppress(BodyError):
                parse(body)


def test_a_joiner_installs_only_a_list_signed_by_the_key_it_receives(tmp_path: Path) -> None:
    wg1, _, _ = _group(tmp_path)
    rekey = rotate(wg1, remove=PC3.peer_id, members=[(PC2.peer_id, "PC2")], now=3)
    cert2 = rekey.certs[PC2.peer_id]
    with pytest.raises(InvalidInput, match="revocation list"):
        # The list of the new key handed over with the old key: refused, nothing written.
        Workgroup.install(
            tmp_path / "new", key_raw=wg1.key_raw(), cert=wg1.cert, revoked=rekey.revoked
        )
    assert Workgroup.load(tmp_path / "new") is None
    joined = Workgroup.install(
        tmp_path / "new", key_raw=rekey.key_raw, cert=cert2, revoked=rekey.revoked
    )
    assert joined.revoked == rekey.revoked
