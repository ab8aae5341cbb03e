"""The DHCP server's decisions, as a pure function: (config, leases, request, now) → decision.

No sockets, no clock: :func:`handle` takes the lease table and a parsed
request and returns the reply to send (if any), the new table, and a line
saying what happened. RFC 2131 §4.3 in short:

- DISCOVER: the client's reservation, else its current or last address, else
  the address it asks for if free, else the first never-used address of the
  pool, else the longest-expired one. The offer is held for ``offer_time`` so
  concurrent DISCOVERs get different addresses; the server probes it for a
  conflict before sending (see :func:`mark_conflict`).
- REQUEST: SELECTING (server id given) binds our offer, or drops it when the
  client chose another server; INIT-REBOOT, RENEWING and REBINDING are ACKed
  when the address is the client's or free for it (so PCs keep their address
  after the gateway changes), NAKed otherwise, also when the pool is exhausted.
- DECLINE and RELEASE count only from the client that holds the lease: a
  DECLINE naming someone else's address is ignored (spoofing).
- INFORM: configuration only, no lease.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from peerwork.errors import InvalidInput
from peerwork.proto.dhcp import (
    ZERO,
    DhcpPacket,
    MessageType,
    Op,
    Opt,
    encode_addresses,
    encode_domain_search,
    encode_u32,
    message_type_option,
)

_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class LeaseState(enum.Enum):
    OFFERED = "offered"  # held for a client between OFFER and REQUEST
    BOUND = "bound"
    RELEASED = "released"  # free, remembered so the client gets it back next time
    DECLINED = "declined"  # someone else answers on it: quarantined until ``expires``


@dataclass(frozen=True, slots=True)
class Lease:
    address: IPv4Address
    client_id: bytes
    mac: str
    state: LeaseState
    expires: float  # epoch seconds
    hostname: str = ""

    def active(self, now: float) -> bool:
        """Does this entry keep the address from other clients at ``now``?"""
        if self.state is LeaseState.RELEASED:
            return False
        return self.expires > now

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "client_id": self.client_id.hex(),
            "mac": self.mac,
            "state": self.state.value,
            "expires": self.expires,
            "hostname": self.hostname,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Lease:
        try:
            return cls(
                address=IPv4Address(data["address"]),
                client_id=bytes.fromhex(data["client_id"]),
                mac=str(data["mac"]),
                state=LeaseState(data["state"]),
                expires=float(data["expires"]),
                hostname=clean_hostname(str(data.get("hostname", ""))),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not a lease: {exc}") from None


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """What the server hands out. ``server``: our LAN address (server id, router, DNS)."""

    server: IPv4Address
    network: IPv4Network
    first: IPv4Address
    last: IPv4Address
    domain: str = "workgroup.lan"
    lease_time: int = 86400
    offer_time: int = 60
    decline_time: int = 600
    reservations: Mapping[str, IPv4Address] = field(default_factory=dict)  # mac → address
    router: IPv4Address | None = None  # None: ``server``
    dns: tuple[IPv4Address, ...] = ()  # empty: ``server``

    def __post_init__(self) -> None:
        if not (self.first in self.network and self.last in self.network):
            raise InvalidInput(f"pool {self.first}-{self.last} is not inside {self.network}")
        if int(self.last) < int(self.first):
            raise InvalidInput(f"pool {self.first}-{self.last} ends before it starts")
        for mac, address in self.reservations.items():
            if address not in self.network or address == self.server:
                raise InvalidInput(f"reservation {mac} → {address} is not usable in {self.network}")

    def in_pool(self, address: IPv4Address) -> bool:
        return int(self.first) <= int(address) <= int(self.last) and address != self.server

    def reserved_for(self, address: IPv4Address) -> str | None:
        return next((mac for mac, a in self.reservations.items() if a == address), None)


@dataclass(frozen=True, slots=True)
class LeaseTable:
    leases: Mapping[IPv4Address, Lease] = field(default_factory=dict)

    def of_client(self, client_id: bytes) -> Lease | None:
        return next((x for x in self.leases.values() if x.client_id == client_id), None)

    def with_lease(self, lease: Lease) -> LeaseTable:
        kept = {a: x for a, x in self.leases.items() if x.client_id != lease.client_id}
        kept[lease.address] = lease
        return LeaseTable(kept)

    def without(self, address: IPv4Address) -> LeaseTable:
        return LeaseTable({a: x for a, x in self.leases.items() if a != address})

    def bound(self, now: float) -> list[Lease]:
        return [x for x in self.leases.values() if x.state is LeaseState.BOUND and x.active(now)]


@dataclass(frozen=True, slots=True)
class Decision:
    reply: DhcpPacket | None
    leases: LeaseTable
    note: str  # what happened, for the log ("ACK 192.168.0.7 to 02:..:cc (pc1)")
    probe: IPv4Address | None = None  # an OFFER's address: check it is not in use first
    warning: bool = False  # the note is a problem worth a warning (exhaustion, spoofing)


def clean_hostname(name: str) -> str:
    """A client's hostname option as a DNS label ("" if it can't be one)."""
    label = name.strip().lower().split(".", 1)[0]
    return label if _HOSTNAME.fullmatch(label) else ""


def handle(config: PoolConfig, table: LeaseTable, request: DhcpPacket, now: float) -> Decision:
    """What to answer to ``request`` and how the lease table changes."""
    kind = request.message_type
    if request.op is not Op.REQUEST or kind is None:
        return Decision(None, table, f"ignored: not a DHCP client message from {request.mac}")
    if kind is MessageType.DISCOVER:
        return _discover(config, table, request, now)
    if kind is MessageType.REQUEST:
        return _request(config, table, request, now)
    if kind is MessageType.DECLINE:
        return _decline(config, table, request, now)
    if kind is MessageType.RELEASE:
        return _release(config, table, request, now)
    if kind is MessageType.INFORM:
        reply = _reply(config, request, MessageType.ACK, ZERO, lease=False)
        return Decision(reply, table, f"INFORM from {request.ciaddr} ({request.mac})")
    return Decision(None, table, f"ignored: {kind.name} is a server's message")


def mark_conflict(
    config: PoolConfig, table: LeaseTable, address: IPv4Address, now: float
) -> LeaseTable:
    """``address`` answered a probe: keep it from every client for ``decline_time``."""
    quarantine = Lease(address, b"", "", LeaseState.DECLINED, now + config.decline_time)
    return LeaseTable({**table.without(address).leases, address: quarantine})


# -- the message kinds ------------------------------------------------------------------
def _discover(config: PoolConfig, table: LeaseTable, request: DhcpPacket, now: float) -> Decision:
    address = _choose(config, table, request, now)
    who = _who(request)
    if address is None:
        return Decision(None, table, f"pool exhausted: no address to offer {who}", warning=True)
    current = table.leases.get(address)
    own = current is not None and current.client_id == request.client_id and current.active(now)
    if own and current is not None and current.state is LeaseState.BOUND:
        # Its own live lease: nothing changes, and a probe would find the client itself.
        reply = _reply(config, request, MessageType.OFFER, address)
        return Decision(reply, table, f"OFFER {address} to {who} (its lease)")
    if own:
        new_table = table
    else:
        offer = Lease(
            address,
            request.client_id,
            request.mac,
            LeaseState.OFFERED,
            now + config.offer_time,
            clean_hostname(request.hostname),
        )
        new_table = table.with_lease(offer)
    reply = _reply(config, request, MessageType.OFFER, address)
    return Decision(reply, new_table, f"OFFER {address} to {who}", probe=address)


def _request(config: PoolConfig, table: LeaseTable, request: DhcpPacket, now: float) -> Decision:
    who = _who(request)
    server_id = request.server_id
    if server_id is not None:  # SELECTING
        mine = table.of_client(request.client_id)
        if server_id != config.server:
            if mine is not None and mine.state is LeaseState.OFFERED:
                table = table.without(mine.address)
            return Decision(None, table, f"{who} chose server {server_id}")
        chosen = request.requested_ip or request.ciaddr
        if mine is None or mine.address != chosen or not mine.active(now):
            return _nak(config, request, table, f"NAK {chosen} to {who}: not what we offered")
        return _ack(config, table, request, chosen, now)
    wanted = request.requested_ip if request.ciaddr == ZERO else request.ciaddr
    if wanted is None:
        return _nak(config, request, table, f"NAK to {who}: REQUEST names no address")
    why = _unavailable(config, table, request, wanted, now)
    if why:
        return _nak(config, request, table, f"NAK {wanted} to {who}: {why}", warning=True)
    return _ack(config, table, request, wanted, now)


def _decline(config: PoolConfig, table: LeaseTable, request: DhcpPacket, now: float) -> Decision:
    address = request.requested_ip
    lease = table.leases.get(address) if address is not None else None
    who = _who(request)
    if request.server_id != config.server or lease is None:
        return Decision(None, table, f"DECLINE from {who} ignored: not our lease")
    if lease.client_id != request.client_id:
        note = f"DECLINE of {address} from {who} ignored: leased to {lease.mac} (spoofed?)"
        return Decision(None, table, note, warning=True)
    note = f"DECLINE {address} from {who}: in use by someone else, quarantined"
    return Decision(None, mark_conflict(config, table, lease.address, now), note, warning=True)


def _release(config: PoolConfig, table: LeaseTable, request: DhcpPacket, now: float) -> Decision:
    lease = table.leases.get(request.ciaddr)
    who = _who(request)
    if request.server_id not in (None, config.server) or lease is None:
        return Decision(None, table, f"RELEASE from {who} ignored: not our lease")
    if lease.client_id != request.client_id:
        note = f"RELEASE of {request.ciaddr} from {who} ignored: leased to {lease.mac}"
        return Decision(None, table, note, warning=True)
    released = replace(lease, state=LeaseState.RELEASED, expires=now)
    return Decision(None, table.with_lease(released), f"RELEASE {lease.address} from {who}")


# -- helpers ----------------------------------------------------------------------------
def _ack(
    config: PoolConfig, table: LeaseTable, request: DhcpPacket, address: IPv4Address, now: float
) -> Decision:
    previous = table.leases.get(address)
    hostname = clean_hostname(request.hostname) or (previous.hostname if previous else "")
    lease = Lease(
        address,
        request.client_id,
        request.mac,
        LeaseState.BOUND,
        now + config.lease_time,
        hostname,
    )
    reply = _reply(config, request, MessageType.ACK, address)
    return Decision(reply, table.with_lease(lease), f"ACK {address} to {_who(request)}")


def _nak(
    config: PoolConfig, request: DhcpPacket, table: LeaseTable, note: str, warning: bool = False
) -> Decision:
    reply = DhcpPacket(
        Op.REPLY,
        request.xid,
        request.chaddr,
        {
            Opt.MESSAGE_TYPE: message_type_option(MessageType.NAK),
            Opt.SERVER_ID: config.server.packed,
            Opt.MESSAGE: note.split(": ", 1)[-1].encode("ascii", "replace")[:200],
        },
        htype=request.htype,
        flags=request.flags,
        giaddr=request.giaddr,
    )
    return Decision(reply, table, note, warning=warning)


def _unavailable(
    config: PoolConfig, table: LeaseTable, request: DhcpPacket, address: IPv4Address, now: float
) -> str:
    """Why ``address`` can't be this client's ("" if it can)."""
    if address not in config.network or address == config.server:
        return f"not an address of {config.network}"
    reserved = config.reservations.get(request.mac)
    if reserved is not None and reserved != address:
        return f"{request.mac} is reserved {reserved}"
    owner = config.reserved_for(address)
    if owner is not None and owner != request.mac:
        return f"reserved for {owner}"
    if owner is None and not config.in_pool(address):
        return "outside the pool"
    held = table.leases.get(address)
    if held is not None and held.active(now) and held.client_id != request.client_id:
        if held.state is LeaseState.DECLINED:
            return "quarantined after a conflict"
        return f"leased to {held.mac}"
    return ""


def _choose(
    config: PoolConfig, table: LeaseTable, request: DhcpPacket, now: float
) -> IPv4Address | None:
    reserved = config.reservations.get(request.mac)
    if reserved is not None:
        return reserved if not _unavailable(config, table, request, reserved, now) else None
    for candidate in (
        (x.address for x in [table.of_client(request.client_id)] if x is not None),
        (a for a in [request.requested_ip] if a is not None),
    ):
        for address in candidate:
            if not _unavailable(config, table, request, address, now):
                return address
    return next(free_addresses(config, table, now), None)


def free_addresses(config: PoolConfig, table: LeaseTable, now: float) -> Iterator[IPv4Address]:
    """The pool's free addresses in the order they are handed out: never-used ones first,
    then the longest-expired (its old owner is least likely to come back)."""
    expired: list[Lease] = []
    for number in range(int(config.first), int(config.last) + 1):
        address = IPv4Address(number)
        if address == config.server or config.reserved_for(address) is not None:
            continue
        held = table.leases.get(address)
        if held is None:
            yield address
        elif not held.active(now):
            expired.append(held)
    yield from (x.address for x in sorted(expired, key=lambda x: x.expires))


def _reply(
    config: PoolConfig,
    request: DhcpPacket,
    kind: MessageType,
    address: IPv4Address,
    *,
    lease: bool = True,
) -> DhcpPacket:
    options: dict[int, bytes] = {
        Opt.MESSAGE_TYPE: message_type_option(kind),
        Opt.SERVER_ID: config.server.packed,
    }
    if lease:
        options[Opt.LEASE_TIME] = encode_u32(config.lease_time)
        options[Opt.RENEWAL_TIME] = encode_u32(config.lease_time // 2)
        options[Opt.REBINDING_TIME] = encode_u32(config.lease_time * 7 // 8)
    options[Opt.SUBNET_MASK] = config.network.netmask.packed
    options[Opt.BROADCAST] = config.network.broadcast_address.packed
    options[Opt.ROUTER] = (config.router or config.server).packed
    options[Opt.DNS_SERVERS] = encode_addresses(config.dns or (config.server,))
    options[Opt.DOMAIN_NAME] = config.domain.encode("ascii")
    if Opt.DOMAIN_SEARCH in request.parameter_list:
        options[Opt.DOMAIN_SEARCH] = encode_domain_search([config.domain])
    return DhcpPacket(
        Op.REPLY,
        request.xid,
        request.chaddr,
        options,
        htype=request.htype,
        flags=request.flags,
        ciaddr=request.ciaddr if kind is MessageType.ACK else ZERO,
        yiaddr=address,
        siaddr=ZERO,
        giaddr=request.giaddr,
    )


def _who(request: DhcpPacket) -> str:
    name = clean_hostname(request.hostname)
    return f"{request.mac} ({name})" if name else request.mac
