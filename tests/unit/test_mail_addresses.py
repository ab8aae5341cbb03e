"""Recipient addresses at RCPT: only name@domain of an account (or alias) is ours."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.accounts import AccountStore
from peerwork.agents.mail.settings import MailSettings
from peerwork.agents.mail.smtp import MailHandler
from peerwork.agents.mail.spool import Spool
from peerwork.password_logon import PasswordLogon


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory) -> MailHandler:
    root = tmp_path_factory.mktemp("mail")
    accounts = AccountStore(root / "accounts.toml")
    accounts.add("bob", "pw")
    settings = MailSettings(domain="office.lan", aliases={"info": "bob", "ghost": "nobody"})
    return MailHandler(
        settings, accounts, Spool(root / "q"), lambda e: None, PasswordLogon(accounts)
    )


def test_ours(handler: MailHandler) -> None:
    for address in ("bob@office.lan", "BOB@Office.LAN", "info@office.lan"):
        assert handler.in_domain(address) and handler.local_account(address) == "bob"
    assert handler.local_account("ghost@office.lan") is None  # alias to no account
    assert handler.local_account("nobody@office.lan") is None
    for address in ("bob@office.lan.evil", "bob@evil.com", "bob", "bob@", "@office.lan"):
        assert not handler.in_domain(address) or handler.local_account(address) is None


@given(st.text(max_size=60))
def test_any_address_is_classified_without_error(handler: MailHandler, address: str) -> None:
    if handler.in_domain(address):
        assert address.lower().endswith("@office.lan")
        assert handler.local_account(address) in (None, "bob")
    if handler.local_account(address) == "bob" and handler.in_domain(address):
        assert address.rsplit("@", 1)[0].lower() in ("bob", "info")
