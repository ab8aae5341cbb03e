"""Who may relay to other domains (a logged-on account on the LAN, with a smarthost),
what the LAN is, and the smarthost settings."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from aiosmtpd.smtp import Envelope, Session
from hypothesis import given
from hypothesis import strategies as st

from peerwork.accounts import AccountStore
from peerwork.agents.mail.lan import LanCheck, lan_networks, on_lan
from peerwork.agents.mail.outbound import SmarthostError, read_password
from peerwork.agents.mail.queue_state import Timing
from peerwork.agents.mail.service import MailService
from peerwork.agents.mail.settings import MailSettings, Smarthost, mail_settings
from peerwork.agents.mail.smtp import MailHandler
from peerwork.agents.mail.spool import Spool
from peerwork.config import parse_config, render_new_config
from peerwork.errors import ConfigError
from peerwork.netif import IfFlag, Interface
from peerwork.password_logon import PasswordLogon

LAN = (ipaddress.ip_network("192.168.1.0/24"), ipaddress.ip_network("127.0.0.0/8"))
ETH0 = Interface(
    "eth0", 2, IfFlag.UP, (ipaddress.IPv4Interface("192.168.1.10/24"),),
    (ipaddress.IPv6Interface("fd00::10/64"),),
)  # fmt: skip
DOWN = Interface("eth1", 3, IfFlag(0), (ipaddress.IPv4Interface("10.9.0.1/16"),))


def handler(tmp_path: Path, smarthost: Smarthost | None) -> MailHandler:
    accounts = AccountStore(tmp_path / "accounts.toml")
    accounts.add("bob", "pw")
    settings = MailSettings(domain="office.lan", smarthost=smarthost)
    return MailHandler(
        settings,
        accounts,
        Spool(tmp_path / "q"),
        lambda e: None,
        PasswordLogon(accounts),
        lan=lambda address: on_lan(address, LAN),
    )


def session(peer: str, authenticated: bool) -> Session:
    s = Session(loop=None)  # type: ignore[arg-type]
    s.peer = (peer, 40000)
    s.authenticated = authenticated
    return s


@pytest.mark.parametrize(
    ("smarthost", "peer", "logged_on", "reply"),
    [
        (None, "192.168.1.20", True, "550 5.7.1"),  # no smarthost: refused whoever asks
        (Smarthost("isp", 587), "192.168.1.20", False, "554 5.7.1"),  # not logged on
        (Smarthost("isp", 587), "203.0.113.9", True, "554 5.7.1"),  # outside the LAN
        (Smarthost("isp", 587), "192.168.1.20", True, "250 "),
        (Smarthost("isp", 587), "127.0.0.1", True, "250 "),  # this PC itself
    ],
)
async def test_relay_rules(
    tmp_path: Path, smarthost: Smarthost | None, peer: str, logged_on: bool, reply: str
) -> None:
    h = handler(tmp_path, smarthost)
    envelope = Envelope()
    answer = await h.handle_RCPT(None, session(peer, logged_on), envelope, "carol@example.com", [])  # type: ignore[arg-type]
    assert answer.startswith(reply), answer
    assert envelope.rcpt_tos == (["carol@example.com"] if reply == "250 " else [])
    if "outside the LAN" in answer or "AUTH" in answer:
        assert "relay access denied" in answer
    # Workgroup mail needs neither a logon nor the LAN.
    local = await h.handle_RCPT(
        None, session("203.0.113.9", False), Envelope(), "bob@office.lan", []
    )  # type: ignore[arg-type]
    assert local.startswith("250 ")


def test_lan_is_the_subnets_of_interfaces_that_are_up() -> None:
    networks = lan_networks([ETH0, DOWN])
    assert on_lan("192.168.1.77", networks) and on_lan("fd00::1", networks)
    assert not on_lan("10.9.0.5", networks)  # eth1 is down
    assert not on_lan("192.168.2.1", networks)
    assert on_lan("::ffff:192.168.1.5", networks)  # IPv4-mapped, as a dual-stack socket says
    check = LanCheck(interfaces=lambda: [ETH0], clock=lambda: 0.0)
    assert check("192.168.1.1") and not check("8.8.8.8")


@given(st.text(max_size=60))
def test_any_peer_address_is_judged_without_error(address: str) -> None:
    assert on_lan(address, LAN) in (True, False)


def _settings(raw: dict[str, Any]) -> MailSettings:
    config = parse_config(tomlkit.parse(render_new_config("PC1", "OFFICE", "alice")))
    return mail_settings(MailService.read_settings(config, raw), config)


def test_smarthost_settings() -> None:
    assert _settings({}).smarthost is None
    settings = _settings(
        {"smarthost": "mail.isp.example:465", "smarthost_tls": "tls", "smarthost_user": "o",
         "retry_first": 5, "expire_after": 60, "mailboxes": ["Bob", "alice", "bob"]}
    )  # fmt: skip
    assert settings.smarthost == Smarthost("mail.isp.example", 465, "tls", "o", "")
    assert settings.timing == Timing(5.0, 3600.0, 60.0)
    assert settings.mailboxes == ("bob", "alice")
    assert _settings({"smarthost": "[fd00::1]:25"}).smarthost == Smarthost("fd00::1", 25)


@pytest.mark.parametrize(
    "raw",
    [
        {"smarthost": "mail.isp.example"},
        {"smarthost": "mail.isp.example:0"},
        {"smarthost": ":25"},
        {"smarthost": "a b:25"},
        {"smarthost_tls": "ssl"},
        {"mailboxes": ["not a name!"]},
        {"mailboxes": "bob"},
        {"retry_first": 0},
    ],
)
def test_bad_smarthost_settings_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"mail\.(smarthost|mailboxes|retry)"):
        _settings(raw)


def test_password_file_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "smarthost.secret"
    with pytest.raises(SmarthostError, match="holds no password"):
        read_password(secret)
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    with pytest.raises(SmarthostError, match="chmod 600"):
        read_password(secret)
    secret.chmod(0o600)
    assert read_password(secret) == "s3cret"
