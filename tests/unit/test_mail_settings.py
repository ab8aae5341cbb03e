"""[mail] in peerwork.toml: defaults from the workgroup and root, bad values refused
(an empty ``domain`` means the default, ``<workgroup>.lan``)."""

from __future__ import annotations

from typing import Any

import pytest
import tomlkit

from peerwork.agents.mail.service import MailService
from peerwork.agents.mail.settings import MB, MailSettings, mail_settings
from peerwork.config import Config, parse_config, privileged, render_new_config
from peerwork.errors import ConfigError


def _config() -> Config:
    return parse_config(tomlkit.parse(render_new_config("PC1", "OFFICE", "alice")))


def _settings(raw: Any) -> MailSettings:
    """What the running service gets: its section as read, the domain filled in."""
    config = _config()
    return mail_settings(MailService.read_settings(config, raw), config)


def test_template_section_reads_as_defaults() -> None:
    doc = tomlkit.parse(render_new_config("PC1", "OFFICE", "alice"))
    settings = _settings(doc["mail"])
    assert settings.enabled is False  # opt-in: an SMTP listener is a decision
    assert settings.domain == "office.lan"
    assert settings.max_size == 100 * MB
    assert (settings.smtp_port, settings.pop3_port) == ((25, 110) if privileged() else (2525, 1110))
    assert settings.imap_port == (143 if privileged() else 1143)


def test_values() -> None:
    raw = {"enabled": True, "domain": "Example.COM", "port": 0, "imap_port": 993}
    settings = _settings(raw | {"aliases": {"Info": "alice"}})
    assert settings.domain == "example.com" and settings.smtp_port == 0
    assert settings.imap_port == 993
    assert settings.aliases == {"info": "alice"}


@pytest.mark.parametrize(
    "raw",
    [
        {"port": 70000},
        {"port": "25"},
        {"enabled": "yes"},
        {"max_size": 0},
        {"max_size": True},
        {"domain": "a b"},
        {"aliases": {"info": "not a name!"}},
        {"aliases": ["info"]},
        {"idle_timeout": -1},
    ],
)
def test_bad_values_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"mail\.(port|enabled|max_size|domain|aliases|idle)"):
        _settings(raw)
