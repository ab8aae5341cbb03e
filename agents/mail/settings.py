"""What the mail service runs with: ``[mail]`` as read, the domain filled in from the workgroup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from peerwork.config import Config
from peerwork.config.mail import MB, MailSection, smarthost_address

from .queue_state import DEFAULT_TIMING, Timing


@dataclass(frozen=True, slots=True)
class Smarthost:
    """Where mail for other domains goes: ``tls`` is starttls, tls (implicit) or none;
    ``ca``: a PEM file of CAs to trust (empty: the system's). The password is not
    here: it is read from its secrets file when needed."""

    host: str
    port: int
    tls: str = "starttls"
    user: str = ""
    ca: str = ""


@dataclass(frozen=True, slots=True)
class MailSettings:
    """``aliases``: extra local parts, each delivered to an account (``info = "alice"``)."""

    enabled: bool = False
    bind: str = "0.0.0.0"
    smtp_port: int = 2525
    pop3_port: int = 1110
    imap_port: int = 1143
    domain: str = "workgroup.lan"
    max_size: int = 100 * MB
    max_recipients: int = 100
    max_connections: int = 200
    idle_timeout: float = 300.0
    aliases: Mapping[str, str] = field(default_factory=dict)
    mailboxes: tuple[str, ...] = ()
    smarthost: Smarthost | None = None
    timing: Timing = DEFAULT_TIMING


def mail_settings(section: MailSection, config: Config) -> MailSettings:
    """The ``[mail]`` section as read, with the domain defaulting to the workgroup's
    (``office.lan``)."""
    return MailSettings(
        enabled=section.enabled,
        bind=section.bind,
        smtp_port=section.port,
        pop3_port=section.pop3_port,
        imap_port=section.imap_port,
        domain=section.domain or f"{config.peer.workgroup.lower()}.lan",
        max_size=section.max_size,
        max_recipients=section.max_recipients,
        max_connections=section.max_connections,
        idle_timeout=section.idle_timeout,
        aliases=dict(section.aliases),
        mailboxes=section.mailboxes,
        smarthost=_smarthost(section),
        timing=Timing(section.retry_first, section.retry_max, section.expire_after),
    )


def _smarthost(section: MailSection) -> Smarthost | None:
    if not section.smarthost:
        return None
    host, port = smarthost_address(section.smarthost)
    return Smarthost(
        host, port, section.smarthost_tls, section.smarthost_user, section.smarthost_ca
    )
