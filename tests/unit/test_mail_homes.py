"""Home PCs: the pure decision, the book of claims kept on disk, and learning claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.accounts import AccountStore
from peerwork.agents.mail.home_book import ASK_AGAIN, HomeBook, MailPeer, refresh
from peerwork.agents.mail.homes import Claim, Home, HomeKind, conflicts, digest, home_of
from peerwork.agents.mail.service import MailService
from peerwork.agents.mail.settings import MailSettings
from peerwork.errors import PeerworkError

OWN = Claim("bbb", "PC1", frozenset({"alice"}))
PC2 = Claim("ccc", "PC2", frozenset({"bob", "carol"}))
PC0 = Claim("aaa", "PC0", frozenset({"carol"}))


def test_unclaimed_is_local_and_a_single_claim_wins() -> None:
    assert home_of("zoe", OWN, [PC2]) == Home(HomeKind.LOCAL, "bbb", "PC1")
    assert home_of("alice", OWN, [PC2]) == Home(HomeKind.LOCAL, "bbb", "PC1")
    assert home_of("bob", OWN, [PC2]) == Home(HomeKind.REMOTE, "ccc", "PC2")


def test_two_claims_lowest_peer_id_wins_and_names_the_contender() -> None:
    assert home_of("carol", OWN, [PC2, PC0]) == Home(HomeKind.REMOTE, "aaa", "PC0", ("PC2",))
    # Our own claim loses to a lower peer id, and wins over a higher one.
    mine = Claim("bbb", "PC1", frozenset({"carol"}))
    assert home_of("carol", mine, [PC0]).kind is HomeKind.REMOTE
    assert home_of("carol", mine, [PC2]) == Home(HomeKind.LOCAL, "bbb", "PC1", ("PC2",))
    assert conflicts([OWN, PC2, PC0]) == {"carol": ("PC0", "PC2")}
    assert conflicts([OWN, PC2]) == {}


claims = st.lists(
    st.builds(
        Claim,
        st.text("abcdef0123", min_size=1, max_size=4),
        st.text("PC", min_size=1, max_size=3),
        st.frozensets(st.sampled_from(["alice", "bob", "carol"])),
    ),
    max_size=5,
    unique_by=lambda c: c.peer_id,
)


@given(claims, st.sampled_from(["alice", "bob", "carol"]))
def test_every_pc_that_knows_the_same_claims_picks_the_same_home(
    everyone: list[Claim], account: str
) -> None:
    homes = [
        home_of(account, own, everyone[:i] + everyone[i + 1 :]) for i, own in enumerate(everyone)
    ]
    claimants = {c.peer_id for c in everyone if account in c.mailboxes}
    if not claimants:  # nobody's: each PC keeps what it receives
        assert all(h.kind is HomeKind.LOCAL for h in homes)
        return
    [chosen] = {h.peer_id for h in homes}
    assert chosen == min(claimants)
    for home, own in zip(homes, everyone, strict=True):
        assert (home.kind is HomeKind.LOCAL) == (own.peer_id == chosen)
    assert all(len(h.contenders) == len(claimants) - 1 for h in homes)


def test_digest_follows_the_set_not_its_order() -> None:
    assert digest(["bob", "alice"]) == digest(["alice", "bob", "bob"])
    assert digest(["alice"]) != digest(["alice", "bob"]) and len(digest([])) == 16


def test_book_learns_persists_and_survives_damage(tmp_path: Path) -> None:
    path = tmp_path / "mail" / "homes.json"
    book = HomeBook(path, OWN)
    assert book.locate("bob").kind is HomeKind.LOCAL
    assert book.learn("ccc", "PC2", 7, ["bob"]) is True
    assert book.learn("ccc", "PC2", 8, ["bob"]) is False  # a new record, the same list
    assert book.learn("bbb", "PC1", 1, ["bob"]) is False  # our own id is never a peer
    assert path.stat().st_mode & 0o777 == 0o600
    again = HomeBook(path, OWN)
    again.load()
    assert again.locate("bob") == Home(HomeKind.REMOTE, "ccc", "PC2")
    assert again.seq_of("ccc") == 8
    again.forget_seq("ccc")
    assert again.seq_of("ccc") == -1
    path.write_text("{not json")
    damaged = HomeBook(path, OWN)
    damaged.load()
    assert damaged.claims() == [OWN]
    path.write_text(json.dumps({"peers": [{"peer_id": "x"}]}))
    damaged.load()
    assert damaged.claims() == [OWN]


async def test_refresh_asks_only_changed_mail_peers_and_keeps_claims_of_the_unreachable(
    tmp_path: Path,
) -> None:
    book = HomeBook(tmp_path / "homes.json", OWN)
    asked: list[str] = []
    answers = {"ccc": ("bob",), "ddd": ("dave",)}

    async def fetch(peer_id: str) -> tuple[str, ...]:
        asked.append(peer_id)
        if peer_id not in answers:
            raise PeerworkError("no channel to it")
        return answers[peer_id]

    peers = [MailPeer("ccc", "PC2", 3, True), MailPeer("ddd", "PC3", 1, True)]
    assert await refresh(book, peers, fetch, 0.0) is True
    assert asked == ["ccc", "ddd"]
    assert await refresh(book, peers, fetch, 1.0) is False  # same records: nobody asked
    assert asked == ["ccc", "ddd"]
    del answers["ccc"]
    newer = [MailPeer("ccc", "PC2", 4, True)]
    assert await refresh(book, newer, fetch, 2.0) is False
    assert book.locate("bob").peer_id == "ccc"  # unreachable: still bob's home
    assert await refresh(book, newer, fetch, 3.0) is False
    assert asked == ["ccc", "ddd", "ccc"]  # not asked again at once
    answers["ccc"] = ("bob", "carol")
    assert await refresh(book, newer, fetch, 2.0 + ASK_AGAIN) is True
    assert book.locate("carol").peer_id == "ccc"
    # A peer that stopped its post office claims nothing any more.
    assert await refresh(book, [MailPeer("ddd", "PC3", 2, False)], fetch, 70.0) is True
    assert book.locate("dave").kind is HomeKind.LOCAL


@pytest.mark.parametrize("bad", [[{"peer_id": 1}], "x", [{"peer_id": "a", "name": "b"}]])
def test_book_ignores_a_hostile_file(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "homes.json"
    path.write_text(json.dumps({"peers": bad}))
    book = HomeBook(path, OWN)
    book.load()
    assert book.claims() == [OWN]


def test_service_warns_once_when_two_pcs_claim_a_mailbox(tmp_path: Path) -> None:
    events: list[tuple[str, object]] = []
    service = MailService(
        settings=MailSettings(enabled=True, mailboxes=("bob",)),
        accounts=AccountStore(tmp_path / "accounts.toml"),
        home=tmp_path,
        hostname="pc1.office.lan",
        emit=lambda kind, data: events.append((kind, data)),
        peer_id="bbb",
        peer_name="PC1",
    )
    assert service.book.locate("bob").kind is HomeKind.LOCAL
    service.book.learn("aaa", "PC0", 1, ["bob"])
    service._check_conflicts()
    service._check_conflicts()  # the same conflict: said once
    assert events == [("mail-home-conflict", {"account": "bob", "claimants": ["PC0", "PC1"]})]
    assert service.book.locate("bob") == Home(HomeKind.REMOTE, "aaa", "PC0", ("PC1",))
    assert service.details()["homes"]["conflicts"] == {"bob": ["PC0", "PC1"]}
    assert "1 mailbox(es) claimed by several PCs" in service.summary()
