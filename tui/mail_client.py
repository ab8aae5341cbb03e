"""The mail client the Mail screen drives: ``peerwork mail``'s own code
(:mod:`peerwork.client.mail`, :mod:`~peerwork.client.mail_session`), logged on as an
account with its password for this session only, run off the UI's event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from peerwork.client.mail import Mailbox, MailHome, Summary
from peerwork.client.mail_compose import Draft, recipient
from peerwork.client.mail_message import Reading
from peerwork.client.mail_session import Sent, fetch, send
from peerwork.control_async import AsyncControlClient
from peerwork.errors import InvalidInput


def _inbox(home: MailHome, password: str) -> list[Summary]:
    with Mailbox(home, password) as box:
        return box.inbox()


@dataclass(frozen=True, slots=True)
class MailLogon:
    """An account's home post office and its password (kept in memory, never saved)."""

    home: MailHome
    password: str

    @classmethod
    async def open(cls, client: AsyncControlClient, account: str, password: str) -> MailLogon:
        """Where the account's mailbox is (the agent says), and a logon there that works:
        a wrong password is refused now, not at the first read."""
        account = account.strip().lower()
        if not account:
            raise InvalidInput("which account?")
        data = await client.get(f"/mail/home/{quote(account, safe='')}")
        logon = cls(MailHome.from_json(dict(data)), password)
        await logon.inbox()
        return logon

    async def inbox(self) -> list[Summary]:
        return await asyncio.to_thread(_inbox, self.home, self.password)

    async def read(self, uid: int, save_to: Path | None = None) -> tuple[Reading, list[Path]]:
        return await asyncio.to_thread(fetch, self.home, self.password, uid, save_to)

    def draft(self, to: str, cc: str, subject: str, body: str, attachments: list[Path]) -> Draft:
        """A draft from the compose form: comma-separated names or addresses."""
        to_list = [recipient(t, self.home.domain) for t in to.split(",") if t.strip()]
        if not to_list:
            raise InvalidInput("to whom? give at least one recipient")
        for path in attachments:
            if not path.is_file():
                raise InvalidInput(f"no such file to attach: {path}")
        return Draft(
            sender=self.home.address,
            to=tuple(to_list),
            cc=tuple(recipient(c, self.home.domain) for c in cc.split(",") if c.strip()),
            subject=subject,
            body=body,
            attachments=tuple(attachments),
        )

    async def send(self, draft: Draft) -> Sent:
        return await asyncio.to_thread(send, self.home, self.password, draft)
