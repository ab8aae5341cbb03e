"""Membership certificates and revocation lists: round trips, signatures, hostile bytes."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.identity import Identity
from peerwork.models import PeerTrust
from peerwork.proto.membership import (
    MemberCert,
    MembershipError,
    RevocationList,
    Revoked,
    key_id_of,
)
from peerwork.workgroup import Workgroup, cert_problem, issue

PEER = Identity.generate("pc2")
OTHER = Identity.generate("pc3")
WG_KEY = Ed25519PrivateKey.generate()
WG_PUBLIC = WG_KEY.public_key().public_bytes_raw()
FOREIGN_KEY = Ed25519PrivateKey.generate()


def cert(**changes: object) -> MemberCert:
    base = issue(WG_KEY, peer_id=PEER.peer_id, name="pc2", workgroup="office", now=1_790_000_000)
    return dataclasses.replace(base, **changes) if changes else base


def test_certificate_round_trip_and_fits_a_txt_string() -> None:
    c = cert()
    assert c.name == "PC2" and c.workgroup == "OFFICE"
    assert MemberCert.parse(c.pack()) == c
    assert MemberCert.from_text(c.to_text()) == c
    # One TXT string is at most 255 bytes, with "mc=" in front.
    assert len(c.to_text()) + 3 <= 255
    assert cert_problem(c, WG_PUBLIC) == ""


def test_certificate_golden_bytes() -> None:
    c = MemberCert(
        key_id=bytes(range(8)),
        serial=7,
        issued=1_790_000_000,
        peer_id="a" * 32,
        name="PC2",
        workgroup="OFFICE",
        signature=b"\x55" * 64,
    )
    packed = c.pack()
    assert packed[:5] == b"PWMC\x01"
    assert packed[5:13] == bytes(range(8))
    assert packed[13:21] == (7).to_bytes(8, "big")
    assert packed[21:29] == (1_790_000_000).to_bytes(8, "big")
    assert packed[29:49] == bytes(20)  # "a" is base32 zero
    assert packed[49:] == b"\x03PC2\x06OFFICE" + b"\x55" * 64
    assert MemberCert.parse(packed) == c


@pytest.mark.parametrize(
    "changes",
    [{"name": "PC9"}, {"workgroup": "OTHER"}, {"serial": 1}, {"issued": 5}],
)
def test_any_changed_field_breaks_the_signature(changes: dict[str, object]) -> None:
    assert cert_problem(cert(**changes), WG_PUBLIC) == "its signature does not verify"


def test_certificate_of_another_workgroup_key_is_refused() -> None:
    foreign = issue(FOREIGN_KEY, peer_id=PEER.peer_id, name="pc2", workgroup="office", now=1)
    assert cert_problem(foreign, WG_PUBLIC) == "signed by another workgroup's key"
    # Even relabelled with our key id, the signature gives it away.
    relabelled = dataclasses.replace(foreign, key_id=key_id_of(WG_PUBLIC))
    assert cert_problem(relabelled, WG_PUBLIC) == "its signature does not verify"


def test_standing_of_records(tmp_path: object) -> None:
    from pathlib import Path

    home = Path(str(tmp_path))
    me = Identity.generate("pc1")
    wg = Workgroup.create(home, workgroup="OFFICE", peer_id=me.peer_id, pc_name="PC1", now=1.0)
    good = wg.issue(peer_id=PEER.peer_id, name="PC2", now=2.0).to_text()

    def standing(text: str, peer_id: str = PEER.peer_id, group: str = "OFFICE") -> PeerTrust:
        return wg.standing(peer_id=peer_id, name="PC2", workgroup=group, cert_text=text).trust

    assert standing(good) is PeerTrust.MEMBER
    assert standing("") is PeerTrust.NOT_A_MEMBER
    assert standing("!!not base64") is PeerTrust.NOT_A_MEMBER
    assert standing(good, peer_id=OTHER.peer_id) is PeerTrust.NOT_A_MEMBER  # copied certificate
    assert standing(good, group="ELSEWHERE") is PeerTrust.NOT_A_MEMBER
    foreign = issue(FOREIGN_KEY, peer_id=PEER.peer_id, name="PC2", workgroup="OFFICE", now=1)
    assert standing(foreign.to_text()) is PeerTrust.NOT_A_MEMBER
    # Stored and read back: the same key and certificate.
    loaded = Workgroup.load(home)
    assert loaded is not None and loaded.public_raw == wg.public_raw and loaded.cert == wg.cert
    assert (home / "workgroup" / "workgroup.key").stat().st_mode & 0o777 == 0o600
    assert Workgroup.load(home / "nowhere") is None


def test_revocation_list_round_trip_and_covers() -> None:
    rl = RevocationList(
        key_id_of(WG_PUBLIC), 3, 1_790_000_000, (Revoked(PEER.peer_id, 9), Revoked(OTHER.peer_id))
    ).signed_with(WG_KEY.sign)
    assert RevocationList.parse(rl.pack()) == rl
    assert rl.covers(PEER.peer_id, 9) and not rl.covers(PEER.peer_id, 10)
    assert rl.covers(OTHER.peer_id, 12345)  # serial 0: every certificate of that peer
    assert not rl.covers("b" * 32, 9)


# By name, not by bytes: a certificate made at collection time differs between
# xdist workers (random keys), and they must collect the same test ids.
BAD_CERTIFICATES = {
    "empty": lambda: b"",
    "magic-only": lambda: b"PWMC",
    "wrong-magic": lambda: b"XXXX" + bytes(200),
    "one-byte-short": lambda: cert().pack()[:-1],
    "one-byte-long": lambda: cert().pack() + b"\x00",
}


@pytest.mark.parametrize("case", sorted(BAD_CERTIFICATES))
def test_bad_certificate_bytes_are_refused(case: str) -> None:
    with pytest.raises(MembershipError):
        MemberCert.parse(BAD_CERTIFICATES[case]())


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_parsers(data: bytes) -> None:
    for parse in (MemberCert.parse, RevocationList.parse):
        try:
            value = parse(data)
        except MembershipError:
            continue
        assert value.pack() == data  # anything accepted is exactly what was sent


@settings(max_examples=300)
@given(st.data())
def test_mutated_certificates_are_refused_or_fail_the_signature(data: st.DataObject) -> None:
    packed = bytearray(cert().pack())
    flips = data.draw(
        st.lists(st.integers(0, len(packed) - 1), min_size=1, max_size=4, unique=True)
    )
    for i in flips:
        packed[i] ^= data.draw(st.integers(1, 255))
    try:
        parsed = MemberCert.parse(bytes(packed))
    except MembershipError:
        return
    assert parsed.pack() == bytes(packed)
    assert cert_problem(parsed, WG_PUBLIC) != ""


@settings(max_examples=200)
@given(st.text(max_size=500))
def test_certificate_text_from_the_network_never_crashes(text: str) -> None:
    with contextlib.suppress(MembershipError):
        MemberCert.from_text(text)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.binary(min_size=20, max_size=20), st.integers(0, 2**64 - 1))))
def test_revocation_lists_round_trip(entries: list[tuple[bytes, int]]) -> None:
    from peerwork.proto.membership import peer_id_text

    revoked = tuple(Revoked(peer_id_text(raw), serial) for raw, serial in entries)
    rl = RevocationList(b"k" * 8, 1, 2, revoked).signed_with(WG_KEY.sign)
    assert RevocationList.parse(rl.pack()) == rl
