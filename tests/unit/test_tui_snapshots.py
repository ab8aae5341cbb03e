"""Snapshots (pytest-textual-snapshot) of every screen of the terminal UI at 80x24.

The data is fixed (tests/helpers/canned_agent.py: the real models' JSON over a real
Unix socket) and so is the clock, so each picture is the same on every run. After an
intended change of a screen: ``pytest tests/unit/test_tui_snapshots.py
--snapshot-update`` and look at the new SVGs before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from peerwork.tui.app import LIGHT, PeerworkApp, make_app
from tests.helpers.canned_agent import canned_agent
from tests.helpers.tui import wait_for

NEW_YEAR = 1767225600.0  # 2026-01-01 00:00 UTC: the "since" of every peer
SIZE = (80, 24)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[PeerworkApp]:
    with canned_agent(tmp_path / "home"):
        yield make_app(tmp_path / "home", clock=lambda: NEW_YEAR)


def after(*keys: str) -> Callable[[Pilot[Any]], Any]:
    """Wait for the agent's answers, press ``keys``, let the screen settle."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, PeerworkApp)
        await wait_for(pilot, lambda: app.connected, what="connected to the canned agent")
        # The failed mail service raises a toast: let it arrive, then clear it, so the
        # pictures show the screens themselves.
        await wait_for(pilot, lambda: app.screen.query("Toast"), what="the failed-service toast")
        app.clear_notifications()
        await wait_for(pilot, lambda: not app.screen.query("Toast"), what="toast gone")
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        # A blinking cursor is on or off depending on timing: hold it on.
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.3)
        await pilot.wait_for_scheduled_animations()
        assert not app.screen.query("Toast"), "a notification would make the picture vary"

    return run


@pytest.mark.parametrize(
    "keys",
    [
        ("1",),
        ("2",),
        ("2", "down"),
        ("2", "down", "down", "down"),
        ("2", "i"),
        ("3",),
        ("3", "a"),
        ("3", "e"),
        ("3", "d"),
        ("4",),
        ("4", "a"),
        ("5",),
        ("6",),
        ("6", "p"),
        ("7",),
        ("8",),
        ("8", "p"),
        ("8", "p", "enter"),
        ("question_mark",),
    ],
    ids=lambda keys: "-".join(keys),
)
def test_screen(app: PeerworkApp, snap_compare: Any, keys: tuple[str, ...]) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=after(*keys))


def test_light_theme(tmp_path: Path, snap_compare: Any) -> None:
    with canned_agent(tmp_path / "home"):
        app = make_app(tmp_path / "home", clock=lambda: NEW_YEAR, theme=LIGHT)
        assert snap_compare(app, terminal_size=SIZE, run_before=after("2"))


def test_agent_not_running(snap_compare: Any) -> None:
    # A fixed home that has no agent: the screen shows the path, so it must not vary.
    app = make_app(Path("/nonexistent/peerwork-home"), retry=60)

    async def run(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: pilot.app.current_mode == "offline")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_small_terminal(app: PeerworkApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(40, 12), run_before=after("1"))


def test_this_pc_account_replication(app: PeerworkApp, snap_compare: Any) -> None:
    """The bottom of This PC: replication with each member and a settled conflict."""

    async def run(pilot: Pilot[Any]) -> None:
        await after("1")(pilot)
        pilot.app.screen.query_one("#this-pc").scroll_end(animate=False)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def _logged_on(app: PeerworkApp) -> None:
    """The Mail screen's session logon, as ``l`` leaves it (no post office is asked)."""
    from peerwork.client.mail import MailHome
    from peerwork.tui.mail_client import MailLogon

    home = MailHome("alice", "alice@office.lan", "office.lan", "127.0.0.1", 587, 143, "")
    app.mail_logon = MailLogon(home, "pw")


def test_mail_compose(app: PeerworkApp, snap_compare: Any) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        _logged_on(pilot.app)  # type: ignore[arg-type]
        await after("7", "c")(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_mail_message(app: PeerworkApp, snap_compare: Any) -> None:
    from peerwork.client.mail_message import Attachment, Reading
    from peerwork.proto.mime_scan import MimePart
    from peerwork.tui.screens.mail_dialogs import MessageView

    part = MimePart("application", "pdf", (), None, None, "base64", None, 0, 0, 78_000, 1000, b"")
    reading = Reading(
        headers=(
            ("From", "bob@office.lan"),
            ("To", "alice@office.lan"),
            ("Date", "Thu, 01 Jan 2026 09:00:00 +0000"),
            ("Subject", "Minutes of Monday"),
        ),
        text="Hi Alice,\n\nthe minutes are attached.\n\tBob\n",
        attachments=(Attachment(1, "minutes.pdf", "application/pdf", 78_000, part),),
    )

    async def save(folder: Path) -> str:
        return ""

    async def run(pilot: Pilot[Any]) -> None:
        await after("7")(pilot)
        await pilot.app.push_screen(MessageView(reading, save, "/home/alice"))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)
