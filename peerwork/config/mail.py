"""``[mail]``: the workgroup post office (SMTP in, Maildir, POP3 and IMAP pickup)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from peerwork.accounts import validate_account_name
from peerwork.errors import ConfigError, InvalidInput

from .files import privileged
from .read import as_port, as_str_list, plain, setting, setting_factory
from .section import ConfigSection

MB = 1_000_000
SMARTHOST_TLS = ("starttls", "tls", "none")


def _smtp_port() -> int:
    return 25 if privileged() else 2525


def _pop3_port() -> int:
    return 110 if privileged() else 1110


def _imap_port() -> int:
    return 143 if privileged() else 1143


def as_aliases(table: Mapping[str, Any], key: str, where: str, default: Any) -> dict[str, str]:
    """A table of ``alias = "account"`` (both account names, lower-cased)."""
    value = plain(table.get(key, default))
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}.{key} must be a table of alias = account, not {value!r}")
    aliases: dict[str, str] = {}
    for alias, account in value.items():
        if not isinstance(account, str):
            raise ConfigError(
                f"{where}.{key} entries must name an account, not {alias} = {account!r}"
            )
        try:
            aliases[validate_account_name(str(alias))] = validate_account_name(account)
        except InvalidInput as exc:
            raise ConfigError(f"{where}.{key} entry {alias!r}: {exc.message}") from None
    return aliases


def as_mailboxes(table: Mapping[str, Any], key: str, where: str, default: Any) -> tuple[str, ...]:
    """A list of account names (lower-cased, each once, in the order given)."""
    names: dict[str, None] = {}
    for name in as_str_list(table, key, where, default):
        try:
            names[validate_account_name(name)] = None
        except InvalidInput as exc:
            raise ConfigError(f"{where}.{key} entry {name!r}: {exc.message}") from None
    return tuple(names)


@dataclass(frozen=True, slots=True)
class MailSection:
    """``domain``: empty means ``<workgroup>.lan``; ``aliases``: extra local parts,
    each delivered to an account (``info = "alice"``); ``mailboxes``: the accounts whose
    mailbox lives on this PC (their home PC), announced to the workgroup."""

    enabled: bool = False
    bind: str = "0.0.0.0"
    port: int = setting_factory(_smtp_port, as_port)
    pop3_port: int = setting_factory(_pop3_port, as_port)
    imap_port: int = setting_factory(_imap_port, as_port)
    domain: str = ""
    max_size: int = 100 * MB
    max_recipients: int = 100
    max_connections: int = 200
    idle_timeout: float = 300.0
    aliases: Mapping[str, str] = setting_factory(dict, as_aliases)
    mailboxes: tuple[str, ...] = setting((), as_mailboxes)
    smarthost: str = ""
    smarthost_tls: str = "starttls"
    smarthost_user: str = ""
    smarthost_ca: str = ""
    retry_first: float = 30.0
    retry_max: float = 3600.0
    expire_after: float = 5 * 24 * 3600.0


def _finish(section: MailSection) -> MailSection:
    domain = section.domain.lower()
    if " " in domain or "@" in domain:
        raise ConfigError(f"mail.domain {section.domain!r} is not a mail domain")
    if section.smarthost:
        smarthost_address(section.smarthost)  # raises for a bad one
    if section.smarthost_tls not in SMARTHOST_TLS:
        raise ConfigError(
            f"mail.smarthost_tls must be one of {', '.join(SMARTHOST_TLS)},"
            f" not {section.smarthost_tls!r}"
        )
    return replace(section, domain=domain)


def smarthost_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for an IPv6 address) as a pair; ConfigError if not one."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or " " in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"mail.smarthost must be host:port, not {value!r}")
    return host, int(port)


MAIL = ConfigSection(
    "mail",
    MailSection,
    """\
[mail]                    # the workgroup post office: SMTP in, Maildir, POP3/IMAP pickup
enabled = false           # true: accept mail for name@domain of every account
bind = "0.0.0.0"
# port = 25               # SMTP; default: 25 as root, 2525 otherwise
# pop3_port = 110         # default: 110 as root, 1110 otherwise
# imap_port = 143         # default: 143 as root, 1143 otherwise
# domain = "office.lan"   # default: <workgroup>.lan
# max_size = 100000000    # bytes; announced (SIZE) and enforced while receiving
# aliases = {{ info = "alice" }}
# mailboxes = ["alice"]   # accounts whose home PC this is; mail to them is handed here
# smarthost = "mail.isp.example:587"   # mail to other domains goes out through it
# smarthost_tls = "starttls"           # or "tls" (implicit, port 465) or "none"
# smarthost_user = "office@isp.example"  # password: mail/smarthost.secret (0600)
# smarthost_ca = ""       # a PEM file of CAs to trust instead of the system's
# retry_first = 30        # seconds before the first retry, doubling up to retry_max
# retry_max = 3600
# expire_after = 432000   # seconds a message may wait before it bounces (5 days)
""",
    _finish,
)
