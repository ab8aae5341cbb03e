"""Workgroup trust on the Workgroup screen, against real agents in namespaces (the
agents of tests/integration/test_trust_join.py): the screen shouts NOT A MEMBER, its
invite shows a code the real ``peerwork join`` accepts, its join takes a code the
real ``peerwork invite`` printed, and remove (asked first) makes the PC REVOKED.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from peerwork.tui.app import make_app
from peerwork.tui.screens.dialogs import ConfirmDialog, FormDialog, NoticeDialog
from peerwork.tui.screens.this_pc import render_status
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)
from tests.helpers.tui import table_rows, type_into, wait_for
from tests.integration.test_trust_join import _agent, _cli, _invite, _wait_states

pytestmark = pytest.mark.root


def this_pc(app: Any) -> str:
    """The This PC screen's text as it renders the app's view of the agent's status."""
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(render_status(app.view.snapshot.status))
    return console.export_text()


def trust_of(app: Any, name: str) -> str:
    rows = table_rows(app.screen.query_one("#peers", DataTable))
    return next((r[3] for r in rows if r[0] == name), "")


async def test_invite_join_remove_from_the_workgroup_screen(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab: NetnsLab = lab_factory(3)
    pc1 = _agent(lab, 1, tmp_path, create=True)
    pc2, pc3 = _agent(lab, 2, tmp_path), _agent(lab, 3, tmp_path)
    with pc1, pc2, pc3:
        app = make_app(pc1.home)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("2")
            await wait_for(
                pilot,
                lambda: trust_of(app, "PC2") == "NOT A MEMBER",
                within=40,
                what=lambda: str(table_rows(app.screen.query_one("#peers", DataTable))),
            )
            # Invite: the code shown is one the real CLI joins with.
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, NoticeDialog), what="code")
            notice = str(app.screen.query_one("#notice", Static).render())
            code = re.search(r"Join code:\s+(\S+)", notice)
            assert code, notice
            await pilot.press("escape")
            res = _cli(pc2, "join", code.group(1), check=False)
            assert res.returncode == 0, res.stderr
            assert "Joined workgroup OFFICE through PC1" in res.stdout
            await wait_for(pilot, lambda: trust_of(app, "PC2") == "member", within=40)
            # This PC: account replication with the new member, as the agent reports it.
            await pilot.press("1")
            await wait_for(
                pilot,
                lambda: re.search(r"Account replication\n  PC2: (in-sync|behind)", this_pc(app)),
                within=40,
                what=lambda: this_pc(app),
            )
            await pilot.press("2")

            # Remove PC2 (asked first; "no" keeps it).
            table = app.screen.query_one("#peers", DataTable)
            row = next(i for i, r in enumerate(table_rows(table)) if r[0] == "PC2")
            table.move_cursor(row=row)
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
            await pilot.press("n")
            await pilot.pause(0.5)
            assert trust_of(app, "PC2") == "member"
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
            await pilot.press("y")
            await wait_for(pilot, lambda: trust_of(app, "PC2") == "REVOKED", within=40)
            details = str(app.screen.query_one("#peer-details", Static).render())
            assert "removed from the workgroup" in details

        # Join from PC3's screen with a code the real CLI printed on PC1.
        app3 = make_app(pc3.home)
        async with app3.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app3.connected)
            await pilot.press("2")
            await pilot.press("j")
            await wait_for(pilot, lambda: isinstance(app3.screen, FormDialog), what="form")
            await type_into(pilot, "#field-code", _invite(pc1))
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: not isinstance(app3.screen, FormDialog), within=40, what="joined"
            )
        _wait_states(pc1, {"PC3": "member"}, timeout=40)
