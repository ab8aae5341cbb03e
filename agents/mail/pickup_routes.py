"""``GET /v1/mail/home/{account}``: where a mail client reaches an account's mailbox.

The CLI's ``mail send|inbox|read`` log on as the account over SMTP and IMAP,
with the account's own password, at the account's home PC — the same path
Thunderbird takes, so the commands keep working when a mailbox lives on
another PC. Today every account's home is this PC: the answer names this
agent's listening address and ports, and the certificate to pin for STARTTLS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from peerwork.accounts import AccountStore
from peerwork.errors import NotFound, ServiceError
from peerwork.identity import CERT_FILE

from ..service import Route
from .settings import MailSettings

_ANY = ("", "0.0.0.0", "::")


def pickup_routes(
    settings: MailSettings,
    accounts: AccountStore,
    ports: Callable[[], dict[str, int]],
    identity_folder: Path | None,
) -> list[Route]:
    async def home(request: web.Request) -> web.Response:
        account = request.match_info["account"].lower()
        if accounts.get(account) is None:
            raise NotFound(f"no account {account!r}")
        bound = ports()
        if not bound:
            raise ServiceError("the mail service is not running on this PC")
        if identity_folder is None:
            raise ServiceError("mail on this PC has no TLS certificate: no logons possible")
        certificate = (identity_folder / CERT_FILE).read_text("ascii")
        host = "127.0.0.1" if settings.bind in _ANY else settings.bind
        return web.json_response(
            {
                "account": account,
                "address": f"{account}@{settings.domain}",
                "domain": settings.domain,
                "host": host,
                "ports": {k: bound[k] for k in ("smtp", "imap") if k in bound},
                "certificate": certificate,
                "local": True,
            }
        )

    return [Route("GET", "/home/{account}", home)]
