"""The terminal UI shows whatever other PCs announce without breaking: markup, control
characters and very long names in peer records (they come off the network)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from peerwork.models import Peer, PeerTrust
from peerwork.tui.app import make_app
from tests.helpers.canned_agent import canned_agent
from tests.helpers.tui import screen_text, table_rows, wait_for

HOSTILE = (
    Peer(
        name="[/]EVIL\x1b[31m",
        peer_id="id-evil",
        workgroup="OFFICE",
        addresses=("[bold]10.0.0.66",),
        roles=("[/b]", "files"),
        shares=("[link=http://x]Payroll", "x" * 500),
        state=PeerTrust.UNVERIFIED,
        problem="[red]unsigned[/red]\x07",
    ),
    Peer(name="L" * 300, peer_id="id-long", roles=("files",) * 50, state=PeerTrust.VERIFIED),
)


async def test_hostile_peer_records_render_as_text(tmp_path: Path) -> None:
    with canned_agent(tmp_path / "home", peers=HOSTILE):
        app = make_app(tmp_path / "home")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("2")
            table = app.screen.query_one("#peers", DataTable)
            await wait_for(pilot, lambda: table.row_count == 2)
            names = [r[0] for r in table_rows(table)]
            assert "[/]EVIL" in names[0] and "\x1b" not in names[0]
            table.move_cursor(row=0)
            await wait_for(pilot, lambda: "[link=http://x]Payroll" in screen_text(pilot))
            for size in ((40, 12), (200, 50), (80, 24)):
                await pilot.resize_terminal(*size)
                await pilot.pause(0.1)
            table.move_cursor(row=1)
            await pilot.press("enter")  # browse it: the location shows the name, nothing runs
            await wait_for(pilot, lambda: app.current_mode == "browse")
