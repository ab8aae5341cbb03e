"""The mail service's control routes under ``/v1/mail``: the queue and the mailboxes.

They read the queue and Maildirs on disk, so they answer while the service is
stopped too. Only this PC's owner (and root) reach the control socket; a
mailbox's owner fetches mail over POP3 with their own password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiohttp import web

from peerwork.accounts import AccountStore
from peerwork.errors import NotFound

from ..service import Route
from .imap_store import flags_of
from .maildir import StoredMessage, mailbox_of
from .spool import Spool

HEADER_BYTES = 64 * 1024  # enough for any sane header block; a larger one is cut


def _summary(message: StoredMessage) -> dict[str, Any]:
    with message.path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    end = head.find(b"\r\n\r\n")
    headers = BytesHeaderParser(policy=default).parsebytes(head[: end + 2] if end >= 0 else head)
    return {
        "id": message.uid,
        "size": message.size,
        "from": str(headers.get("From", "")),
        "to": str(headers.get("To", "")),
        "subject": str(headers.get("Subject", "")),
        "date": str(headers.get("Date", "")),
        "seen": "\\Seen" in flags_of(message.path.name),
    }


def mail_routes(
    spool: Spool, mail_root: Path, accounts: AccountStore, retry: Callable[[], None]
) -> list[Route]:
    def entries() -> list[dict[str, Any]]:
        return [
            entry.to_json() | {"size": _size(spool.data_path(entry.id))}
            for entry in spool.entries()
        ]

    async def queue(request: web.Request) -> web.Response:
        found = await asyncio.to_thread(entries) if spool.env.is_dir() else []
        return web.json_response({"entries": found})

    async def retry_now(request: web.Request) -> web.Response:
        retry()
        return web.json_response({"retrying": True})

    async def inbox(request: web.Request) -> web.Response:
        account = request.match_info["account"].lower()
        if accounts.get(account) is None:
            raise NotFound(f"no account {account!r}")
        box = mailbox_of(mail_root, account)
        messages = await asyncio.to_thread(lambda: [_summary(m) for m in box.messages()])
        return web.json_response({"account": account, "messages": messages})

    return [
        Route("GET", "/queue", queue),
        Route("POST", "/retry", retry_now),
        Route("GET", "/inbox/{account}", inbox),
    ]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
