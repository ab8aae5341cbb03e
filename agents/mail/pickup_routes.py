"""``GET /v1/mail/home/{account}``: where a mail client reaches an account's mailbox.

The CLI's ``mail send|inbox|read`` log on as the account over SMTP and IMAP,
with the account's own password, at the account's home PC — the same path
Thunderbird takes, so the commands keep working when a mailbox lives on
another PC. The home book (:mod:`.home_book`) says which PC that is: this
one, or a peer, whose address and ``smtp``/``imap`` ports come from its
signed discovery record. The client pins the home PC's peer id: its mail
certificate is self-signed with its peer key, so the TLS handshake proves the
server holds the key that id names.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from peerwork.accounts import AccountStore
from peerwork.channel_cert import peer_id_of_certificate
from peerwork.errors import NotFound, ServiceError
from peerwork.identity import CERT_FILE
from peerwork.models import Peer

from ..service import Route
from .homes import Home, HomeKind
from .settings import MailSettings

_ANY = ("", "0.0.0.0", "::")
_PICKUP = ("smtp", "imap")


def dial_address(addresses: Sequence[str]) -> str:
    """The address of a peer's record to dial: IPv4 first (link-local IPv6 needs a
    scope the record does not carry), then the rest in the record's order."""
    usable = []
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if not (ip.is_link_local or ip.is_unspecified or ip.is_multicast):
            usable.append(ip)
    if not usable:
        raise ServiceError("its record names no address this PC can dial")
    return str(sorted(usable, key=lambda ip: ip.version)[0])


def remote_home(home: Home, peers: Sequence[Peer]) -> dict[str, Any]:
    """Where to reach ``home`` (a peer): its address, pickup ports and peer id, as its
    verified record says. ServiceError naming the PC when it is not reachable now."""
    found = next((p for p in peers if p.peer_id == home.peer_id and p.verified), None)
    if found is None:
        raise ServiceError(f"the mailbox is on {home.name}, which is not on the LAN now")
    if any(k not in found.ports for k in _PICKUP):
        raise ServiceError(f"the mailbox is on {home.name}, whose post office is not running")
    try:
        host = dial_address(found.addresses)
    except ServiceError as exc:
        raise ServiceError(f"the mailbox is on {home.name}, but {exc.message}") from None
    return {
        "host": host,
        "ports": {k: found.ports[k] for k in _PICKUP},
        "peer_id": found.peer_id,
        "pc": found.name,
        "local": False,
    }


def pickup_routes(
    settings: MailSettings,
    accounts: AccountStore,
    ports: Callable[[], dict[str, int]],
    identity_folder: Path | None,
    locate: Callable[[str], Home],
    peers: Callable[[], Sequence[Peer]],
) -> list[Route]:
    def local_home(home: Home) -> dict[str, Any]:
        bound = ports()
        if not bound:
            raise ServiceError("the mail service is not running on this PC")
        if identity_folder is None:
            raise ServiceError("mail on this PC has no TLS certificate: no logons possible")
        der = ssl.PEM_cert_to_DER_cert((identity_folder / CERT_FILE).read_text("ascii"))
        return {
            "host": "127.0.0.1" if settings.bind in _ANY else settings.bind,
            "ports": {k: bound[k] for k in _PICKUP if k in bound},
            "peer_id": peer_id_of_certificate(der),
            "pc": home.name,
            "local": True,
        }

    async def home(request: web.Request) -> web.Response:
        account = request.match_info["account"].lower()
        if accounts.get(account) is None:
            raise NotFound(f"no account {account!r}")
        found = locate(account)
        where = local_home(found) if found.kind is HomeKind.LOCAL else remote_home(found, peers())
        return web.json_response(
            {
                "account": account,
                "address": f"{account}@{settings.domain}",
                "domain": settings.domain,
                **where,
            }
        )

    return [Route("GET", "/home/{account}", home)]
