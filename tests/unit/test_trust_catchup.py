"""Revocation gossip: who a member that went through a rotation catches up, and how."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from peerwork.agents.channel.errors import ChannelRefused
from peerwork.agents.channel.handlers import Caller
from peerwork.agents.trust_catchup import CatchUpDesk
from peerwork.identity import Identity
from peerwork.proto.catchup_body import CATCH_UP, CatchUpRequest
from peerwork.rekey import check_rekey, rotate
from peerwork.workgroup import Workgroup

PC1, PC2, PC3, PC4 = (Identity.generate(n) for n in ("pc1", "pc2", "pc3", "pc4"))


def _after_removal(tmp_path: Path) -> tuple[Workgroup, Workgroup, Workgroup]:
    """PC1, PC2, PC3 members; PC1 removes PC2 while PC3 is off. Returns PC1 (after the
    rotation, as it stores it), PC2 and PC3 (both still on the old key)."""
    wg1 = Workgroup.create(
        tmp_path / "pc1", workgroup="OFFICE", peer_id=PC1.peer_id, pc_name="PC1", now=1.0
    )
    old = []
    for ident, name in ((PC2, "PC2"), (PC3, "PC3")):
        cert = wg1.issue(peer_id=ident.peer_id, name=name, now=2.0)
        old.append(Workgroup.install(tmp_path / name, key_raw=wg1.key_raw(), cert=cert))
    rekey = rotate(wg1, remove=PC2.peer_id, members=[(PC1.peer_id, "PC1")], now=3)
    new1 = Workgroup.install(
        tmp_path / "pc1",
        key_raw=rekey.key_raw,
        cert=rekey.certs[PC1.peer_id],
        revoked=rekey.revoked,
        succession=(wg1.public_raw, rekey.succession),
        # Seen as members under the old key (their records judged), as PC1's agent does.
        previous=frozenset({PC1.peer_id, PC2.peer_id, PC3.peer_id}),
    )
    return new1, old[0], old[1]


def _ask(desk: CatchUpDesk, ident: Identity, req: CatchUpRequest) -> object:
    return asyncio.run(desk.answer(Caller(ident.peer_id, "10.0.0.9", admitted=False), req, None))


def test_a_member_that_missed_the_removal_gets_the_new_key(tmp_path: Path) -> None:
    new1, _, wg3 = _after_removal(tmp_path)
    loaded = Workgroup.load(tmp_path / "pc1")
    assert loaded is not None and loaded.succession == new1.succession
    assert loaded.previous == new1.previous and PC3.peer_id in loaded.previous
    desk = CatchUpDesk(lambda: loaded, lambda: 10.0)
    offer = _ask(desk, PC3, CatchUpRequest(wg3.cert))
    req = CATCH_UP.parse_reply(offer.to_body())  # type: ignore[attr-defined]
    assert (
        check_rekey(
            wg3, key_raw=req.key, cert=req.cert, revoked=req.revoked, succession=req.succession
        )
        == ""
    )
    assert req.cert.peer_id == PC3.peer_id and req.cert.name == "PC3"
    assert req.revoked.covers(PC2.peer_id, 0)
    assert CATCH_UP.parse_request(CatchUpRequest(wg3.cert).to_body()) == CatchUpRequest(wg3.cert)


def test_removed_strangers_and_borrowed_certificates_get_nothing(tmp_path: Path) -> None:
    new1, wg2, wg3 = _after_removal(tmp_path)
    desk = CatchUpDesk(lambda: new1, lambda: 10.0)
    cases = [
        (PC2, CatchUpRequest(wg2.cert), "removed from the workgroup"),
        (PC4, CatchUpRequest(wg3.cert), "another peer's"),  # PC3's certificate, shown by PC4
        (PC1, CatchUpRequest(new1.cert), "not a certificate of the previous key"),
    ]
    stranger = Workgroup.create(
        tmp_path / "pc4", workgroup="OFFICE", peer_id=PC4.peer_id, pc_name="PC4", now=1.0
    )
    cases.append((PC4, CatchUpRequest(stranger.cert), "did not see it as a member"))
    # PC2, removed, still holds the old key: what it certifies now is not caught up.
    forged = wg2.issue(peer_id=PC4.peer_id, name="PC4", now=9.0)
    cases.append((PC4, CatchUpRequest(forged), "did not see it as a member"))
    for ident, req, why in cases:
        with pytest.raises(ChannelRefused) as info:
            _ask(desk, ident, req)
        assert why in (info.value.detail or ""), (why, info.value.detail)
    assert desk.answered == 0
    # A PC that went through no rotation has nothing to offer.
    with pytest.raises(ChannelRefused):
        _ask(CatchUpDesk(lambda: wg2, lambda: 10.0), PC3, CatchUpRequest(wg3.cert))


def test_an_offer_signed_by_another_key_or_not_newer_is_refused(tmp_path: Path) -> None:
    new1, _, wg3 = _after_removal(tmp_path)
    desk = CatchUpDesk(lambda: new1, lambda: 10.0)
    offer = CATCH_UP.parse_reply(_ask(desk, PC3, CatchUpRequest(wg3.cert)).to_body())  # type: ignore[attr-defined]
    caught = Workgroup.install(
        tmp_path / "PC3", key_raw=offer.key, cert=offer.cert, revoked=offer.revoked,
        succession=(wg3.public_raw, offer.succession),
    )  # fmt: skip
    # The same offer again (a replay) is not newer than what PC3 holds now.
    why = check_rekey(
        caught, key_raw=offer.key, cert=offer.cert, revoked=offer.revoked,
        succession=offer.succession,
    )  # fmt: skip
    assert why != ""


def test_members_seen_are_remembered_and_reset_by_a_new_key(tmp_path: Path) -> None:
    new1, _, _ = _after_removal(tmp_path)
    cert3 = new1.issue(peer_id=PC3.peer_id, name="PC3", now=11.0)
    seen = new1.standing(
        peer_id=PC3.peer_id, name="PC3", workgroup="OFFICE", cert_text=cert3.to_text()
    )
    assert seen.member
    reloaded = Workgroup.load(tmp_path / "pc1")
    assert reloaded is not None and PC3.peer_id in reloaded.seen
    assert reloaded.members_known() == {PC1.peer_id, PC3.peer_id}
    again = Workgroup.install(tmp_path / "pc1", key_raw=new1.key_raw(), cert=new1.cert)
    assert again.seen == set() and again.previous == set()
