"""The two whole steps a mail client takes, shared by ``peerwork mail`` and the terminal
UI: send a :class:`Draft`, and fetch one message (optionally saving its attachments).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from peerwork.client.mail import Mailbox, MailHome, Progress, no_progress, submit
from peerwork.client.mail_compose import Composition, Draft
from peerwork.client.mail_message import Reading, read_message, save_attachment


@dataclass(frozen=True, slots=True)
class Sent:
    size: int
    accepted: tuple[str, ...]
    refused: tuple[str, ...]  # "address: the post office's reason"


def send(home: MailHome, password: str, draft: Draft, progress: Progress = no_progress) -> Sent:
    """Submit ``draft`` as ``home.account``; raises when no recipient was accepted."""
    message = Composition(draft, home.domain)
    refused = submit(
        home, password, draft.sender, draft.recipients, message, message.size, progress
    )
    accepted = tuple(
        r for r in draft.recipients if not any(line.startswith(r + ":") for line in refused)
    )
    return Sent(message.size, accepted, tuple(refused))


def fetch(
    home: MailHome,
    password: str,
    uid: int,
    save_to: Path | None = None,
    progress: Progress = no_progress,
) -> tuple[Reading, list[Path]]:
    """Message ``uid`` of the inbox (marked read), and the attachment files written to
    ``save_to`` when given. The download lives in a scratch file removed on return."""
    with tempfile.TemporaryDirectory(prefix="peerwork-mail-") as scratch:
        path = Path(scratch) / "message.eml"
        with Mailbox(home, password) as box, path.open("wb") as out:
            box.download(uid, out, progress)
        reading = read_message(path)
        saved = (
            [save_attachment(path, a, save_to) for a in reading.attachments]
            if save_to is not None
            else []
        )
    return reading, saved
