"""What the mail service runs with: ``[mail]`` as read, the domain filled in from the workgroup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from peerwork.config import Config
from peerwork.config.mail import MB, MailSection


@dataclass(frozen=True, slots=True)
class MailSettings:
    """``aliases``: extra local parts, each delivered to an account (``info = "alice"``)."""

    enabled: bool = False
    bind: str = "0.0.0.0"
    smtp_port: int = 2525
    pop3_port: int = 1110
    domain: str = "workgroup.lan"
    max_size: int = 100 * MB
    max_recipients: int = 100
    max_connections: int = 200
    idle_timeout: float = 300.0
    aliases: Mapping[str, str] = field(default_factory=dict)
    mailboxes: tuple[str, ...] = ()


def mail_settings(section: MailSection, config: Config) -> MailSettings:
    """The ``[mail]`` section as read, with the domain defaulting to the workgroup's
    (``office.lan``)."""
    return MailSettings(
        enabled=section.enabled,
        bind=section.bind,
        smtp_port=section.port,
        pop3_port=section.pop3_port,
        domain=section.domain or f"{config.peer.workgroup.lower()}.lan",
        max_size=section.max_size,
        max_recipients=section.max_recipients,
        max_connections=section.max_connections,
        idle_timeout=section.idle_timeout,
        aliases=dict(section.aliases),
        mailboxes=section.mailboxes,
    )
