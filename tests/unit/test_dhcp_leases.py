"""agents.gateway.dhcp_leases: the DHCP server's decisions, without sockets or clocks."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.agents.gateway.dhcp_leases import (
    Lease,
    LeaseState,
    LeaseTable,
    PoolConfig,
    clean_hostname,
    handle,
    mark_conflict,
)
from peerwork.errors import InvalidInput
from peerwork.proto.dhcp import (
    ZERO,
    DhcpPacket,
    MessageType,
    Op,
    Opt,
    decode_addresses,
    decode_domain_search,
    decode_u32,
    message_type_option,
)

SERVER = IPv4Address("192.168.0.1")
NOW = 1_000_000.0


def ip(last: int) -> IPv4Address:
    return IPv4Address(f"192.168.0.{last}")


def pool(first: int = 2, last: int = 254, **kw: object) -> PoolConfig:
    return PoolConfig(
        SERVER, IPv4Network("192.168.0.0/24"), ip(first), ip(last), domain="office.lan", **kw
    )  # type: ignore[arg-type]


def mac(n: int) -> bytes:
    return bytes([2, 0, 0, 0, 0, n])


def msg(
    kind: MessageType,
    n: int = 1,
    *,
    requested: IPv4Address | None = None,
    server: IPv4Address | None = None,
    ciaddr: IPv4Address = ZERO,
    hostname: str = "",
    params: bytes = b"",
) -> DhcpPacket:
    options = {Opt.MESSAGE_TYPE: message_type_option(kind)}
    if requested is not None:
        options[Opt.REQUESTED_IP] = requested.packed
    if server is not None:
        options[Opt.SERVER_ID] = server.packed
    if hostname:
        options[Opt.HOSTNAME] = hostname.encode()
    if params:
        options[Opt.PARAMETER_LIST] = params
    return DhcpPacket(
        Op.REQUEST, 0x1000 + n, mac(n), {int(k): v for k, v in options.items()}, ciaddr=ciaddr
    )


def lease_for(
    config: PoolConfig, table: LeaseTable, n: int, now: float = NOW, **kw: object
) -> tuple[IPv4Address, LeaseTable]:
    """DISCOVER, REQUEST: the address client ``n`` ends up with."""
    offer = handle(config, table, msg(MessageType.DISCOVER, n, **kw), now)  # type: ignore[arg-type]
    assert offer.reply is not None and offer.reply.message_type is MessageType.OFFER
    address = offer.reply.yiaddr
    ack = handle(
        config,
        offer.leases,
        msg(MessageType.REQUEST, n, **{**kw, "requested": address, "server": SERVER}),
        now,
    )  # type: ignore[arg-type]
    assert ack.reply is not None and ack.reply.message_type is MessageType.ACK, ack.note
    return address, ack.leases


def test_discover_offer_request_ack_with_options() -> None:
    config = pool()
    offer = handle(
        config,
        LeaseTable(),
        msg(MessageType.DISCOVER, hostname="PC1", params=bytes([1, 3, 6, 15, 119])),
        NOW,
    )
    assert offer.reply is not None and offer.probe == ip(2)
    o = offer.reply.options
    assert offer.reply.op is Op.REPLY and offer.reply.yiaddr == ip(2)
    assert decode_u32(o[Opt.LEASE_TIME]) == 86400
    assert decode_u32(o[Opt.RENEWAL_TIME]) == 43200 and decode_u32(o[Opt.REBINDING_TIME]) == 75600
    assert o[Opt.SUBNET_MASK] == IPv4Address("255.255.255.0").packed
    assert decode_addresses(o[Opt.ROUTER]) == (SERVER,)
    assert decode_addresses(o[Opt.DNS_SERVERS]) == (SERVER,)
    assert o[Opt.DOMAIN_NAME] == b"office.lan"
    assert decode_domain_search(o[Opt.DOMAIN_SEARCH]) == ("office.lan",)
    assert offer.leases.leases[ip(2)].state is LeaseState.OFFERED
    ack = handle(
        config,
        offer.leases,
        msg(MessageType.REQUEST, requested=ip(2), server=SERVER, hostname="PC1"),
        NOW,
    )
    assert ack.reply is not None and ack.reply.message_type is MessageType.ACK
    bound = ack.leases.leases[ip(2)]
    assert bound.state is LeaseState.BOUND and bound.hostname == "pc1"
    assert bound.expires == NOW + 86400 and bound.mac == "02:00:00:00:00:01"
    assert ack.leases.bound(NOW) == [bound]


def test_concurrent_discovers_get_different_addresses() -> None:
    config, table = pool(), LeaseTable()
    offered = set()
    for n in range(1, 6):
        d = handle(config, table, msg(MessageType.DISCOVER, n), NOW)
        assert d.reply is not None
        offered.add(d.reply.yiaddr)
        table = d.leases
    assert offered == {ip(i) for i in range(2, 7)}


def test_same_address_again_after_expiry_and_release() -> None:
    config = pool()
    address, table = lease_for(config, LeaseTable(), 1)
    _, table = lease_for(config, table, 2)
    later = NOW + 10 * 86400
    again, table = lease_for(config, table, 1, later)
    assert again == address
    release = handle(
        config, table, msg(MessageType.RELEASE, 1, ciaddr=address, server=SERVER), later
    )
    assert release.reply is None and release.leases.leases[address].state is LeaseState.RELEASED
    back, _ = lease_for(config, release.leases, 1, later + 5)
    assert back == address


def test_requested_address_honoured_when_free() -> None:
    address, _ = lease_for(pool(), LeaseTable(), 1, requested=ip(77))
    assert address == ip(77)
    # Outside the pool: ignored, the first free one is offered instead.
    address, _ = lease_for(pool(first=100, last=110), LeaseTable(), 1, requested=ip(77))
    assert address == ip(100)


def test_reservation_by_mac() -> None:
    config = pool(first=2, last=10, reservations={"02:00:00:00:00:05": ip(200)})
    address, table = lease_for(config, LeaseTable(), 5)
    assert address == ip(200)
    # Another client may not take a reserved address, even asking for it by name.
    d = handle(config, table, msg(MessageType.REQUEST, 6, requested=ip(200)), NOW)
    assert d.reply is not None and d.reply.message_type is MessageType.NAK
    assert b"reserved" in d.reply.options[Opt.MESSAGE]


def test_init_reboot_and_renew_rebind() -> None:
    config = pool()
    address, table = lease_for(config, LeaseTable(), 1)
    # INIT-REBOOT: no server id, requested address = its lease.
    d = handle(config, table, msg(MessageType.REQUEST, 1, requested=address), NOW + 100)
    assert d.reply is not None and d.reply.message_type is MessageType.ACK
    # RENEWING/REBINDING: ciaddr, no requested address.
    d = handle(config, d.leases, msg(MessageType.REQUEST, 1, ciaddr=address), NOW + 50_000)
    assert d.reply is not None and d.reply.message_type is MessageType.ACK
    assert d.reply.ciaddr == address and d.leases.leases[address].expires == NOW + 50_000 + 86400
    # A new gateway without the table still ACKs a free address (failover keeps addresses).
    d = handle(config, LeaseTable(), msg(MessageType.REQUEST, 1, ciaddr=address), NOW)
    assert d.reply is not None and d.reply.message_type is MessageType.ACK


def test_nak_for_someone_elses_or_foreign_address() -> None:
    config = pool()
    address, table = lease_for(config, LeaseTable(), 1)
    for request in (
        msg(MessageType.REQUEST, 2, requested=address),
        msg(MessageType.REQUEST, 2, requested=IPv4Address("10.0.0.5")),
        msg(MessageType.REQUEST, 2, requested=SERVER),
        msg(MessageType.REQUEST, 2),
    ):
        d = handle(config, table, request, NOW)
        assert d.reply is not None and d.reply.message_type is MessageType.NAK, d.note
        assert d.reply.yiaddr == ZERO and d.leases == table


def test_selecting_another_server_drops_our_offer() -> None:
    config = pool()
    offer = handle(config, LeaseTable(), msg(MessageType.DISCOVER), NOW)
    d = handle(
        config,
        offer.leases,
        msg(MessageType.REQUEST, requested=ip(2), server=IPv4Address("192.168.0.254")),
        NOW,
    )
    assert d.reply is None and ip(2) not in d.leases.leases


def test_pool_exhausted_no_offer_and_nak() -> None:
    config = pool(first=2, last=3)
    _, table = lease_for(config, LeaseTable(), 1)
    _, table = lease_for(config, table, 2)
    d = handle(config, table, msg(MessageType.DISCOVER, 3), NOW)
    assert d.reply is None and d.warning and "exhausted" in d.note
    d = handle(config, table, msg(MessageType.REQUEST, 3, requested=ip(2)), NOW)
    assert d.reply is not None and d.reply.message_type is MessageType.NAK and d.warning


def test_decline_quarantines_but_spoofed_decline_is_ignored() -> None:
    config = pool()
    a1, table = lease_for(config, LeaseTable(), 1)
    a2, table = lease_for(config, table, 2)
    spoof = handle(config, table, msg(MessageType.DECLINE, 3, requested=a1, server=SERVER), NOW)
    assert spoof.leases == table and spoof.warning and "spoofed" in spoof.note
    d = handle(config, table, msg(MessageType.DECLINE, 2, requested=a2, server=SERVER), NOW)
    assert d.leases.leases[a2].state is LeaseState.DECLINED
    # Nobody gets the declined address while quarantined; client 2 gets another.
    again, _ = lease_for(config, d.leases, 2, NOW + 1)
    assert again not in (a1, a2)


def test_release_of_someone_elses_lease_is_ignored() -> None:
    config = pool()
    address, table = lease_for(config, LeaseTable(), 1)
    d = handle(config, table, msg(MessageType.RELEASE, 2, ciaddr=address, server=SERVER), NOW)
    assert d.leases == table and d.warning


def test_conflict_marks_and_moves_on() -> None:
    config = pool()
    offer = handle(config, LeaseTable(), msg(MessageType.DISCOVER), NOW)
    assert offer.probe == ip(2)
    table = mark_conflict(config, offer.leases, ip(2), NOW)
    again = handle(config, table, msg(MessageType.DISCOVER), NOW)
    assert again.reply is not None and again.reply.yiaddr == ip(3)


def test_inform_and_server_messages() -> None:
    config = pool()
    d = handle(config, LeaseTable(), msg(MessageType.INFORM, ciaddr=ip(50)), NOW)
    assert d.reply is not None and d.reply.message_type is MessageType.ACK
    assert d.reply.yiaddr == ZERO and Opt.LEASE_TIME not in d.reply.options
    assert d.leases == LeaseTable()
    for kind in (MessageType.OFFER, MessageType.ACK, MessageType.NAK):
        assert handle(config, LeaseTable(), msg(kind), NOW).reply is None


def test_hostnames_and_config_checks() -> None:
    assert clean_hostname("PC1.example.com") == "pc1"
    assert clean_hostname("bad_name") == "" and clean_hostname("-x") == ""
    with pytest.raises(InvalidInput):
        pool(first=10, last=5)
    with pytest.raises(InvalidInput):
        PoolConfig(SERVER, IPv4Network("192.168.0.0/24"), ip(2), IPv4Address("10.0.0.1"))
    with pytest.raises(InvalidInput):
        pool(reservations={"02:00:00:00:00:01": IPv4Address("10.0.0.1")})
    lease = Lease(ip(9), b"\x01abc", "02:00:00:00:00:09", LeaseState.BOUND, NOW, "pc9")
    assert Lease.from_json(lease.to_json()) == lease
    with pytest.raises(InvalidInput):
        Lease.from_json({"address": "nope"})


# Timing varies with the machine's load: a deadline would only measure that.
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(MessageType)),
            st.integers(1, 6),
            st.integers(0, 12),
            st.integers(0, 200),
        ),
        max_size=40,
    )
)
def test_no_address_is_ever_bound_twice(steps: list[tuple[MessageType, int, int, int]]) -> None:
    """Whatever clients send, two live bound leases never share an address and every
    bound address is the server's to give."""
    config = pool(first=2, last=6, reservations={"02:00:00:00:00:06": ip(100)})
    table, now = LeaseTable(), NOW
    for kind, n, last, dt in steps:
        now += dt
        address = ip(last) if last else None
        request = msg(
            kind,
            n,
            requested=address,
            server=SERVER if n % 2 else None,
            ciaddr=address or ZERO if kind is not MessageType.DISCOVER else ZERO,
        )
        table = handle(config, table, request, now).leases
        live = [
            x for x in table.leases.values() if x.active(now) and x.state is not LeaseState.DECLINED
        ]
        assert len({x.address for x in live}) == len(live)
        assert len({x.client_id for x in live}) == len(live)
        for x in live:
            assert x.address != SERVER
            owner = config.reserved_for(x.address)
            assert owner in (None, x.mac)


def test_reply_destinations_rfc2131() -> None:
    from peerwork.agents.gateway.dhcp_server import reply_destination

    config = pool()
    offer = handle(config, LeaseTable(), msg(MessageType.DISCOVER), NOW).reply
    assert offer is not None
    assert reply_destination(msg(MessageType.DISCOVER), offer, 68) == ("255.255.255.255", 68)
    renew = msg(MessageType.REQUEST, ciaddr=ip(9))
    ack = handle(config, LeaseTable(), renew, NOW).reply
    assert ack is not None and reply_destination(renew, ack, 68) == ("192.168.0.9", 68)
    relayed = DhcpPacket(Op.REQUEST, 1, mac(1), msg(MessageType.DISCOVER).options, giaddr=ip(254))
    assert reply_destination(relayed, offer, 68) == ("192.168.0.254", 67)
    nak = handle(
        config, LeaseTable(), msg(MessageType.REQUEST, ciaddr=IPv4Address("10.0.0.9")), NOW
    )
    assert nak.reply is not None and nak.reply.message_type is MessageType.NAK
    assert reply_destination(renew, nak.reply, 68) == ("255.255.255.255", 68)
