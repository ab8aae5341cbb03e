"""What services publish about themselves, and the board discovery reads it from.

A service never talks to zeroconf. It hands the agent's :class:`AdvertBoard`
its :class:`ServiceAdvert` (the roles it gives this PC, the ports peers act on,
and the DNS-SD records other systems browse) whenever that changes; discovery
subscribes to the board and re-announces. So discovery knows no service by
name, and adding a service never edits discovery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DnsSdRecord:
    """One DNS-SD service instance, e.g. ``_smb._tcp.local.`` on port 445.

    ``instance`` defaults to the PC's announced name; ``subtypes`` are full
    subtype names such as ``_universal._sub._ipp._tcp.local.``.
    """

    service_type: str
    port: int
    txt: Mapping[str, str] = field(default_factory=dict)
    subtypes: tuple[str, ...] = ()
    instance: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceAdvert:
    """Everything one service announces.

    ``roles``: entries for the ``_peerwork._tcp`` record's ``roles`` key
    (``files``, ``printers``, ``mail``, ``gateway-capable``, ``gateway``).
    ``ports``: ports a peer acts on, signed into the ``_peerwork._tcp`` record
    (``{"smb": 445}``, ``{"ctl": 7445}``); keys are short TXT-safe names.
    ``records``: standard DNS-SD records for other systems' browsers.
    ``extra``: further signed ``_peerwork._tcp`` keys (e.g. share names).
    """

    roles: tuple[str, ...] = ()
    ports: Mapping[str, int] = field(default_factory=dict)
    records: tuple[DnsSdRecord, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


Listener = Callable[[], None]


class AdvertBoard:
    """The agent's one board: each service's current advert, by service name.

    Services ``set`` (whole replacement) and ``clear`` their own entry; a
    service that stops or fails clears it, so its role and records disappear.
    Listeners (discovery) are called after every change; a listener that
    raises is logged and never disturbs the publishing service.
    """

    def __init__(self) -> None:
        self._adverts: dict[str, ServiceAdvert] = {}
        self._listeners: list[Listener] = []

    def set(self, service: str, advert: ServiceAdvert) -> None:
        if self._adverts.get(service) == advert:
            return
        self._adverts[service] = advert
        self._changed()

    def clear(self, service: str) -> None:
        if self._adverts.pop(service, None) is not None:
            self._changed()

    def adverts(self) -> dict[str, ServiceAdvert]:
        return dict(self._adverts)

    def roles(self) -> list[str]:
        """Every published role, once each, in publishing order."""
        seen: dict[str, None] = {}
        for advert in self._adverts.values():
            for role in advert.roles:
                seen.setdefault(role, None)
        return list(seen)

    def ports(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for advert in self._adverts.values():
            merged.update(advert.ports)
        return merged

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after each change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("advert listener failed")
