"""The terminal UI with two PCs on a LAN (network namespaces on a bridge, real agents
announcing by mDNS): a PC that appears on the LAN appears on the Workgroup screen
(Pilot), and the "done when" path as a person types it in tmux at 80x24: see PC2,
browse its share, copy a file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from peerwork.tui.app import make_app
from tests.helpers.agent import PEERWORK, lab_agent, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)
from tests.helpers.tmux import Tmux
from tests.helpers.tui import table_rows, wait_for

pytestmark = pytest.mark.root

USERS = {"alice": "al1ce-pw", "bob": "b0b-pw"}


async def test_a_pc_that_appears_on_the_lan_appears_in_workgroup(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab: NetnsLab = lab_factory(2)
    agent1, home1 = lab_agent(lab, 1, tmp_path, USERS)
    agent2, home2 = lab_agent(lab, 2, tmp_path, USERS)
    docs = tmp_path / "docs"
    docs.mkdir()
    with agent1:
        app = make_app(home1)  # the UI reaches PC1's agent through its control socket
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("2")
            table = app.screen.query_one("#peers", DataTable)
            assert table.row_count == 0
            try:
                agent2.start()
                started = time.monotonic()
                await wait_for(
                    pilot,
                    lambda: any(r[0] == "PC2" for r in table_rows(table)),
                    what=lambda: f"PC2 listed; screen rows {table_rows(table)}",
                )
                elapsed = time.monotonic() - started
                print(f"PC2 on the Workgroup screen {elapsed:.2f}s after its agent was up")
                assert elapsed < 3.0, elapsed  # mDNS announces at once; margin for load
                row = next(r for r in table_rows(table) if r[0] == "PC2")
                assert row[1] == lab.pc(2).address and row[3] == "verified"
                assert "files" in row[2]
                # PC2 shares a folder: its details show it, live.
                peerwork(home2, "share", str(docs), "--name", "docs")
                details = app.screen.query_one("#peer-details")
                await wait_for(
                    pilot,
                    lambda: "docs" in str(details.render()),
                    what=lambda: str(details.render()),
                )
                agent2.stop()
                await wait_for(pilot, lambda: table.row_count == 0, what="PC2 gone (goodbye)")
            finally:
                agent2.stop()


def test_tmux_see_pc2_browse_and_copy(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab: NetnsLab = lab_factory(2)
    agent1, home1 = lab_agent(lab, 1, tmp_path, USERS)
    agent2, home2 = lab_agent(lab, 2, tmp_path, USERS)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "minutes.txt").write_text("minutes of the meeting\n")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with agent1, agent2, Tmux() as term:
        peerwork(home2, "share", str(docs), "--name", "docs", "--grant", "everyone=read")
        term.start(
            lab.argv(lab.pc(1), [*PEERWORK, "--home", str(home1), "tui"]),
            cwd=downloads,
            env={"TERM": "xterm-256color"},
        )
        term.wait_for("This PC")
        term.wait_for("Workgroup  OFFICE")
        term.send("2")
        term.wait_for("PC2")
        term.wait_for("verified")
        term.wait_for("Shares: docs")
        term.send("Enter")  # browse the highlighted PC
        term.wait_for("Log on to PC2")  # the account is filled in: the PC's owner
        term.type(USERS["alice"])
        term.send("Enter")
        term.wait_for("docs/")
        term.send("Enter")  # open the share
        term.wait_for("minutes.txt")
        term.send("Down")
        term.send("g")
        term.wait_for("Into the local folder")
        term.send("Enter")  # the folder the TUI was started in
        term.wait_for("Copied")
        assert (downloads / "minutes.txt").read_text() == "minutes of the meeting\n"
        # Small terminal: still drawn, no crash; back to 80x24.
        term.resize(40, 12)
        time.sleep(0.5)
        term.resize(80, 24)
        term.send("1")
        term.wait_for("Workgroup  OFFICE")
        term.send("q")
        term.wait_for("EXITED 0")
