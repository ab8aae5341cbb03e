"""This PC's own records, built from the :class:`AdvertBoard`: the signed peer record
and each service's DNS-SD registrations (zeroconf ``ServiceInfo`` objects).

The peer record gets a new sequence number whenever anything it signs changes
(addresses, ports, roles, a service's extra keys), not on every re-announcement.
A service whose extra keys do not fit, or whose record is invalid, is left out
and named in :attr:`RecordSigner.problems`; the others are announced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from zeroconf.asyncio import AsyncServiceInfo

from peerwork import PROTOCOL_VERSION
from peerwork.identity import Identity
from peerwork.proto.peer_record import (
    TXT_BUDGET,
    PeerAnnouncement,
    PeerRecordError,
    build_txt,
    encode_txt_rdata,
)

from .adverts import AdvertBoard, DnsSdRecord
from .record_seq import SequenceCounter

log = logging.getLogger("peerwork.agents.discovery")

_SEQ_SIZER = 10**18  # as many digits as a real sequence number, for size checks
MakeInfo = Callable[[str, int, dict[str, str | None], str | None], AsyncServiceInfo]


class RecordSigner:
    def __init__(self, identity: Identity, workgroup: str, counter: SequenceCounter) -> None:
        self._identity = identity
        self._workgroup = workgroup
        self._counter = counter
        self._signed: tuple[object, ...] | None = None  # what ``seq`` was taken for
        self.seq = 0
        self.problems: dict[str, str] = {}  # service -> why its advert is not announced

    def forget(self) -> None:
        """After the sockets went: the next record gets a new sequence number."""
        self._signed = None

    def announcement(self, instance: str, **fields: Any) -> PeerAnnouncement:
        return PeerAnnouncement(
            instance=instance,
            peer_id=self._identity.peer_id,
            public_key=self._identity.public_raw,
            workgroup=self._workgroup,
            version=PROTOCOL_VERSION,
            seq=fields.pop("seq", self.seq),
            **fields,
        )

    def peer_txt(
        self, instance: str, addresses: list[str], board: AdvertBoard
    ) -> dict[str, str | None]:
        """Our signed record with every service's extra keys that fit."""
        base: dict[str, Any] = {
            "addresses": tuple(addresses),
            "ports": board.ports(),
            "roles": tuple(board.roles()),
        }
        extra: dict[str, str | None] = {}
        self.problems = {}
        # Smallest first: when the budget is tight, a short key that decides trust (a
        # membership certificate) goes in before a long list that is only informative.
        by_size = sorted(board.adverts().items(), key=lambda item: _extra_size(item[1].extra))
        for service, advert in by_size:
            trial = extra | dict(advert.extra)
            try:
                sized = self.announcement(instance, seq=_SEQ_SIZER, **base, extra=trial)
                build_txt(sized, _no_signature)
            except PeerRecordError as exc:
                self.problems[service] = exc.message
                log.warning(
                    "discovery: %s's advert is not announced in full: %s", service, exc.message
                )
                continue
            extra = trial
        try:
            return self._signed_txt(instance, base | {"extra": extra})
        except PeerRecordError as exc:  # a port name itself is unusable
            self.problems["discovery"] = exc.message
            return self._signed_txt(instance, base | {"extra": {}, "ports": {}})

    def _signed_txt(self, instance: str, fields: dict[str, Any]) -> dict[str, str | None]:
        content = (instance, *sorted((k, repr(v)) for k, v in fields.items()))
        if content != self._signed:
            self.seq = self._counter.next()
            self._signed = content
        return build_txt(self.announcement(instance, **fields), self._identity.sign)


def record_infos(record: DnsSdRecord, make: MakeInfo) -> list[AsyncServiceInfo]:
    """The service itself, then one registration per subtype; ValueError for a bad record.

    zeroconf registers one type per name; a subtype registration answers
    ``<sub>._sub.<type>`` PTR queries for the same instance (its SRV and TXT are
    the instance's own), kept apart in the registry by its own key.
    """
    type_ = fqdn(record.service_type)
    if not 0 <= record.port <= 65535:
        raise ValueError(f"port {record.port} is not 0-65535")
    if record.instance is not None and not 0 < len(record.instance.encode()) <= 63:
        raise ValueError("an instance name has 1 to 63 bytes (RFC 6763 §4.1.1)")
    txt: dict[str, str | None] = dict(record.txt)
    if len(encode_txt_rdata(txt)) > TXT_BUDGET:  # raises for a string over 255 bytes
        raise ValueError(f"the TXT record is longer than {TXT_BUDGET} bytes")
    main = make(type_, record.port, txt, record.instance)
    out = [main]
    for subtype in record.subtypes:
        sub = fqdn(subtype)
        if not sub.lower().endswith("._sub." + type_.lower()):
            raise ValueError(f"subtype {subtype!r} is not <name>._sub.{type_}")
        extra = make(sub, record.port, txt, record.instance)
        extra.name = main.name  # the instance of the base type, listed under the subtype
        extra.key = f"{main.key}|{sub.lower()}"
        out.append(extra)
    return out


def fqdn(name: str) -> str:
    """``_smb._tcp`` and ``_smb._tcp.local.`` both mean ``_smb._tcp.local.``."""
    bare = name.rstrip(".")
    return (bare if bare.lower().endswith(".local") else bare + ".local") + "."


def _extra_size(extra: Mapping[str, str]) -> int:
    return sum(len(k) + len(v.encode()) + 2 for k, v in extra.items())


def _no_signature(data: bytes) -> bytes:
    """For a size check only: a signature's length without the signing."""
    del data
    return bytes(64)
