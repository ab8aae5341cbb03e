"""Where a mail client is sent for an account whose home is a peer (the pure part of
``GET /v1/mail/home/{account}``): the peer's verified record, hostile strings and all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.agents.mail.homes import Home, HomeKind
from peerwork.agents.mail.pickup_routes import dial_address, remote_home
from peerwork.errors import ServiceError
from peerwork.models import Peer, PeerTrust

BOB_HOME = Home(HomeKind.REMOTE, "ccc", "PC2")


def _pc2(**kw: object) -> Peer:
    values: dict[str, object] = {
        "name": "PC2",
        "peer_id": "ccc",
        "addresses": ("fe80::1", "10.0.0.2"),
        "ports": {"smtp": 2525, "imap": 1143, "pop3": 1110},
        "state": PeerTrust.MEMBER,
    } | kw
    return Peer(**values)  # type: ignore[arg-type]


def test_a_reachable_home_pc_names_its_address_ports_and_peer_id() -> None:
    assert remote_home(BOB_HOME, [_pc2(name="PC9", peer_id="ddd"), _pc2()]) == {
        "host": "10.0.0.2",
        "ports": {"smtp": 2525, "imap": 1143},
        "peer_id": "ccc",
        "pc": "PC2",
        "local": False,
    }


@pytest.mark.parametrize(
    ("peers", "says"),
    [
        ([], "PC2, which is not on the LAN now"),
        ([_pc2(state=PeerTrust.UNVERIFIED)], "not on the LAN now"),  # an unsigned claim
        ([_pc2(ports={"smtp": 2525})], "post office is not running"),
        ([_pc2(addresses=("fe80::1", "junk"))], "names no address"),
    ],
)
def test_an_unreachable_home_pc_is_named_in_the_error(peers: list[Peer], says: str) -> None:
    with pytest.raises(ServiceError, match=says):
        remote_home(BOB_HOME, peers)


def test_ipv4_first_then_routable_ipv6() -> None:
    assert dial_address(["2001:db8::2", "192.0.2.7"]) == "192.0.2.7"
    assert dial_address(["fe80::9", "2001:db8::2"]) == "2001:db8::2"


@given(st.lists(st.text(max_size=60), max_size=8))
def test_hostile_addresses_give_an_address_of_theirs_or_a_clear_error(
    addresses: list[str],
) -> None:
    try:
        chosen = dial_address(addresses)
    except ServiceError as exc:
        assert "no address" in exc.message
    else:
        assert chosen in addresses or any(chosen in a for a in addresses)
