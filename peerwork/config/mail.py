"""``[mail]``: the workgroup post office (SMTP in, Maildir, POP3 and IMAP pickup)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from peerwork.accounts import validate_account_name
from peerwork.errors import ConfigError, InvalidInput

from .files import privileged
from .read import as_port, plain, setting_factory
from .section import ConfigSection

MB = 1_000_000


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


@dataclass(frozen=True, slots=True)
class MailSection:
    """``domain``: empty means ``<workgroup>.lan``; ``aliases``: extra local parts,
    each delivered to an account (``info = "alice"``)."""

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


def _finish(section: MailSection) -> MailSection:
    domain = section.domain.lower()
    if " " in domain or "@" in domain:
        raise ConfigError(f"mail.domain {section.domain!r} is not a mail domain")
    return replace(section, domain=domain)


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
""",
    _finish,
)
