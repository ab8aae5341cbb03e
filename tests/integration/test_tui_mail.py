"""The Mail screen against a real agent with ``[mail] enabled``: it logs on with the
account's password, sends with an attachment through SMTP submission (the Maildir
proves it), and reads the message back over IMAP, saving the attachment.
"""

from __future__ import annotations

import email
import email.policy
import os
from pathlib import Path

from textual.widgets import DataTable, Static, TextArea

from peerwork.tui.app import make_app
from peerwork.tui.screens.dialogs import FormDialog
from peerwork.tui.screens.mail_dialogs import ComposeDialog, MessageView
from tests.helpers.mail import mail_home, maildir_files, wait_until
from tests.helpers.tui import table_rows, type_into, wait_for

USERS = {"alice": "al1ce-pw", "bob": "b0b-pw"}


async def _log_on(pilot, app, account: str, password: str) -> None:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="logon form")
    await type_into(pilot, "#field-account", account)
    await type_into(pilot, "#field-password", password)
    await pilot.press("enter")


async def test_compose_with_attachment_then_read_it_back(tmp_path: Path) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + os.urandom(200_000))
    agent = mail_home(tmp_path / "home", USERS)  # alice owns the PC
    with agent:
        app = make_app(agent.home)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("7")
            await wait_for(pilot, lambda: app.current_mode == "mail")
            await pilot.press("c")
            # A wrong password is refused in the form, which stays open.
            await _log_on(pilot, app, "alice", "not-it")
            error = app.screen.query_one("#form-error", Static)
            await wait_for(pilot, lambda: "wrong password" in str(error.render()), what="refused")
            await type_into(pilot, "#field-password", USERS["alice"])
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ComposeDialog), what="compose")
            assert app.mail_logon is not None and app.mail_logon.home.account == "alice"
            await type_into(pilot, "#field-to", "bob")
            await type_into(pilot, "#field-subject", "The scan [draft]")
            app.screen.query_one("#body", TextArea).text = "Hi Bob,\nhere it is.\n"
            app.screen.query_one("#attach", TextArea).text = f"{scan}\n"
            await pilot.press("ctrl+s")
            await wait_for(
                pilot, lambda: not isinstance(app.screen, ComposeDialog), within=30, what="sent"
            )
            wait_until(lambda: maildir_files(agent.home, "bob"))
            [stored] = maildir_files(agent.home, "bob")
            msg = email.message_from_bytes(stored.read_bytes(), policy=email.policy.default)
            assert msg["Subject"] == "The scan [draft]" and msg["From"] == "alice@office.lan"
            parts = list(msg.iter_attachments())
            assert [p.get_filename() for p in parts] == ["scan.pdf"]
            assert parts[0].get_content() == scan.read_bytes()

            # Bob logs on in the same session and reads it; the attachment is saved.
            await pilot.press("l")
            await _log_on(pilot, app, "bob", USERS["bob"])
            await wait_for(pilot, lambda: not isinstance(app.screen, FormDialog), what="on")
            inbox = app.screen.query_one("#inbox", DataTable)
            await wait_for(
                pilot,
                lambda: (
                    [r[:2] for r in table_rows(inbox)] == [["alice@office.lan", "The scan [draft]"]]
                ),
                what=lambda: f"bob's inbox over IMAP: {table_rows(inbox)}",
            )
            inbox.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MessageView), what="message")
            shown = str(app.screen.query_one("#message", Static).render())
            assert "Subject: The scan [draft]" in shown and "here it is." in shown
            assert "[1] scan.pdf  application/pdf" in shown
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="folder")
            saved = tmp_path / "saved"
            await type_into(pilot, "#field-folder", str(saved))
            await pilot.press("enter")
            await wait_for(pilot, lambda: (saved / "scan.pdf").exists(), what="saved")
            assert (saved / "scan.pdf").read_bytes() == scan.read_bytes()
