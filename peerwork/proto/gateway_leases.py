"""``gateway.leases`` v1: the active gateway's DHCP lease table, pushed to a standby.

The gateway sends its whole table of kept leases (bound, released, declined;
never offers) after every change and whenever it (re)connects to a standby,
so a standby that missed pushes is whole again with the next one. The reply
says how many leases the standby now keeps. A table is at most
:data:`MAX_LEASES` entries — one channel frame, far beyond a /24 office pool.

A standby that takes over serves from the same table, so every PC renews to
the address it had. Every field is checked before a handler sees it: a lease
that does not fit is refused with the whole push, never half-stored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address
from typing import Any

from .channel_body import BodyError, RequestKind, integer, text

MAX_LEASES = 2048
MAX_CLIENT_ID = 255  # DHCP option 61 is at most 255 bytes
STATES = ("bound", "released", "declined")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_HOSTNAME = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$")
_HEX = re.compile(r"^([0-9a-f]{2})*$")
_LATEST = 2**40  # an expiry beyond this (year ~36812) is garbage, not a long lease


@dataclass(frozen=True, slots=True)
class LeaseEntry:
    """One kept lease as it travels: the fields of the gateway's own lease record."""

    address: IPv4Address
    client_id: bytes
    mac: str  # lower-case aa:bb:cc:dd:ee:ff
    state: str  # one of STATES
    expires: float  # epoch seconds
    hostname: str = ""  # a DNS label, or ""

    def to_body(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "client_id": self.client_id.hex(),
            "mac": self.mac,
            "state": self.state,
            "expires": self.expires,
            "hostname": self.hostname,
        }

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> LeaseEntry:
        try:
            address = IPv4Address(text(body, "address", max_len=15))
        except AddressValueError:
            raise BodyError("field 'address' is not an IPv4 address") from None
        client_id = text(body, "client_id", max_len=2 * MAX_CLIENT_ID)
        if not _HEX.match(client_id):
            raise BodyError("field 'client_id' is not lower-case hex")
        mac = text(body, "mac", max_len=17)
        if not _MAC.match(mac):
            raise BodyError("field 'mac' is not a MAC address")
        state = text(body, "state", max_len=16)
        if state not in STATES:
            raise BodyError(f"field 'state' must be one of {', '.join(STATES)}")
        expires = body.get("expires")
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise BodyError("field 'expires' must be a number")
        if not math.isfinite(expires) or not 0 <= expires < _LATEST:
            raise BodyError("field 'expires' is out of range")
        hostname = text(body, "hostname", max_len=63)
        if not _HOSTNAME.match(hostname):
            raise BodyError("field 'hostname' is not a DNS label")
        return cls(address, bytes.fromhex(client_id), mac, state, float(expires), hostname)


@dataclass(frozen=True, slots=True)
class LeasePush:
    leases: tuple[LeaseEntry, ...]

    def to_body(self) -> dict[str, Any]:
        return {"leases": [x.to_body() for x in self.leases]}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> LeasePush:
        raw = body.get("leases")
        if not isinstance(raw, list) or len(raw) > MAX_LEASES:
            raise BodyError(f"field 'leases' must be a list of at most {MAX_LEASES} leases")
        entries: dict[IPv4Address, LeaseEntry] = {}
        for item in raw:
            if not isinstance(item, Mapping):
                raise BodyError("field 'leases' must hold objects")
            entry = LeaseEntry.parse(item)
            if entry.address in entries:
                raise BodyError(f"address {entry.address} is leased twice")
            entries[entry.address] = entry
        return cls(tuple(entries.values()))


@dataclass(frozen=True, slots=True)
class LeasePushReply:
    kept: int  # leases the standby keeps now

    def to_body(self) -> dict[str, Any]:
        return {"kept": self.kept}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> LeasePushReply:
        return cls(integer(body, "kept", low=0, high=MAX_LEASES))


LEASES: RequestKind[LeasePush, LeasePushReply] = RequestKind(
    "gateway.leases", 1, LeasePush.parse, LeasePushReply.parse
)
# A push from a peer this standby does not take for the gateway (ErrorCode: services 100+).
NOT_THE_GATEWAY = 130
