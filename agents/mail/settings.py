"""The ``[mail]`` section of ``peerwork.toml``, read and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peerwork.accounts import validate_account_name
from peerwork.config import Config, privileged
from peerwork.errors import ConfigError, InvalidInput

MB = 1_000_000


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


def _get(raw: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = raw.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"[mail] {key} must be {kind.__name__}, not {value!r}")
    return value


def _port(raw: Mapping[str, Any], key: str, default: int) -> int:
    port = int(_get(raw, key, int, default))
    if not 0 <= port <= 65535:
        raise ConfigError(f"[mail] {key} must be 0-65535 (0 picks a free port), not {port}")
    return port


def _positive(raw: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = _get(raw, key, kind, default)
    if value <= 0:
        raise ConfigError(f"[mail] {key} must be positive, not {value!r}")
    return value


def read_mail_settings(config: Config, raw: Mapping[str, Any]) -> MailSettings:
    """``raw`` is the ``[mail]`` table as written; defaults follow root or not (25/110 vs
    2525/1110) and the workgroup (``office.lan``)."""
    root = privileged()
    domain = str(_get(raw, "domain", str, f"{config.peer.workgroup.lower()}.lan")).lower()
    if not domain or " " in domain or "@" in domain:
        raise ConfigError(f"[mail] domain {domain!r} is not a mail domain")
    aliases_raw = _get(raw, "aliases", Mapping, {})
    aliases: dict[str, str] = {}
    for alias, account in aliases_raw.items():
        try:
            aliases[validate_account_name(str(alias))] = validate_account_name(str(account))
        except InvalidInput as exc:
            raise ConfigError(f"[mail] aliases: {exc.message}") from None
    return MailSettings(
        enabled=bool(_get(raw, "enabled", bool, False)),
        bind=str(_get(raw, "bind", str, "0.0.0.0")),
        smtp_port=_port(raw, "port", 25 if root else 2525),
        pop3_port=_port(raw, "pop3_port", 110 if root else 1110),
        domain=domain,
        max_size=int(_positive(raw, "max_size", int, 100 * MB)),
        max_recipients=int(_positive(raw, "max_recipients", int, 100)),
        max_connections=int(_positive(raw, "max_connections", int, 200)),
        idle_timeout=float(_positive(raw, "idle_timeout", float, 300.0)),
        aliases=aliases,
    )
