"""The Printers screen's queue and cancel against a real agent: a job the real
``peerwork print`` sent waits (the printer's folder does not exist yet), the screen
shows that printer's queue and cancels the job after asking; ``peerwork jobs`` agrees.
"""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import DataTable, Static

from peerwork.tui.app import make_app
from peerwork.tui.screens.dialogs import ConfirmDialog
from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.ipp import TINY_PDF, printer_home
from tests.helpers.tui import table_rows, wait_for

CANCELED = 7


async def test_queue_of_a_printer_and_cancel_a_job(tmp_path: Path) -> None:
    home = tmp_path / "home"
    printer_home(home, tmp_path / "not-yet")  # jobs wait until the folder exists
    pdf = tmp_path / "budget.pdf"
    pdf.write_bytes(TINY_PDF)
    with AgentProcess(home):
        sent = peerwork(home, "print", str(pdf), "--printer", "office")
        job = sent.stdout.split()[1]
        app = make_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("6")
            jobs = app.screen.query_one("#jobs", DataTable)
            await wait_for(pilot, lambda: jobs.row_count == 1, what="the job listed")
            info = app.screen.query_one("#printers", Static)
            await pilot.press("f")  # the first printer's queue: office
            await wait_for(pilot, lambda: "Queue of office" in str(info.render()))
            assert [r[:3] for r in table_rows(jobs)] == [[job, "office", "pending"]]
            await pilot.press("f")  # back to every printer's queue
            await wait_for(pilot, lambda: "Queue of every printer" in str(info.render()))
            jobs.focus()
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: [r[2] for r in table_rows(jobs)] == ["canceled"],
                what=lambda: str(table_rows(jobs)),
            )
        listed = json.loads(peerwork(home, "jobs", "--json").stdout)["jobs"]
        assert [(str(j["id"]), j["state"]) for j in listed] == [(job, CANCELED)]
