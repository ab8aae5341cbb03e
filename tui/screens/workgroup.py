"""**Workgroup**: the live list of PCs; the highlighted one's shares and printers below."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from peerwork.models import Peer, PeerTrust
from peerwork.text import printable

from ..view import peer_key
from ..widgets.tables import cell, selected_key
from .base import PeerworkScreen

TRUST_STYLE = {
    PeerTrust.VERIFIED: "green",
    PeerTrust.UNVERIFIED: "yellow",
    PeerTrust.IMPOSTOR: "bold red",
}


def address(peer: Peer) -> str:
    first = printable(peer.addresses[0], limit=40) if peer.addresses else "-"
    return f"{first}:{peer.smb_port}" if peer.smb_port and peer.smb_port != 445 else first


def peer_details(peer: Peer) -> Text:
    text = Text()
    text.append(printable(peer.name, limit=80), style="bold")
    text.append(f"  {peer.state.value}", style=TRUST_STYLE[peer.state])
    if peer.problem:
        text.append(f" — {printable(peer.problem, limit=200)}", style="red")
    shares = ", ".join(printable(s, limit=80) for s in peer.shares) or "none announced"
    if peer.shares_truncated:
        shares += ", …"
    text.append(f"\nShares: {shares}")
    ipp = peer.ports.get("ipp")
    if "printers" in peer.roles and ipp:
        text.append(f"\nPrinters: shared over IPP on port {ipp}")
    else:
        text.append("\nPrinters: none shared")
    if peer.state is PeerTrust.IMPOSTOR:
        text.append(
            "\nNever used: it claims a known name with a different key. If that PC was "
            "reinstalled: peerwork peers --forget NAME",
            style="red",
        )
    elif peer.shares:
        text.append("\nenter or b: browse its shares", style="dim")
    return text


class WorkgroupScreen(PeerworkScreen):
    MODE = "workgroup"
    BINDINGS = [Binding("b", "browse", "Browse PC")]

    def body(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="peers", cursor_type="row", zebra_stripes=True)
        table.add_column("PC", key="name", width=16)
        table.add_column("Address", key="address", width=21)
        table.add_column("Roles", key="roles", width=16)
        table.add_column("Trust", key="trust", width=10)
        table.add_column("Since", key="since", width=8)
        yield table
        yield Static(id="peer-details", classes="details")

    def show(self, what: str) -> None:
        if what not in ("all", "peers"):
            return
        table = self.query_one("#peers", DataTable)
        view = self.pw.view
        peers = view.sorted_peers()
        keep = table.cursor_row
        table.clear()
        for peer in peers:
            key = peer_key(peer)
            seen = view.first_seen.get(key, 0.0)
            table.add_row(
                Text(printable(peer.name, limit=80), overflow="ellipsis", no_wrap=True),
                cell(address(peer)),
                cell(",".join(peer.roles) or "-"),
                Text(peer.state.value, style=TRUST_STYLE[peer.state]),
                cell(time.strftime("%H:%M:%S", time.localtime(seen)) if seen else "-"),
                key=key,
            )
        if peers:
            table.move_cursor(row=min(keep, len(peers) - 1))
        self._details()

    def selected(self) -> Peer | None:
        key = selected_key(self.query_one("#peers", DataTable))
        return self.pw.view.peers.get(key or "")

    def _details(self) -> None:
        peer = self.selected()
        details = self.query_one("#peer-details", Static)
        if peer is None:
            details.update(
                "No other PC of the workgroup seen yet. PCs appear here as soon as their "
                "agent announces itself on the LAN."
            )
        else:
            details.update(peer_details(peer))

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._details()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_browse()

    def action_browse(self) -> None:
        peer = self.selected()
        if peer is None:
            return
        if peer.state is PeerTrust.IMPOSTOR:
            self.pw.notify(f"{printable(peer.name)} is an impostor: never used", severity="error")
            return
        self.pw.open_browse(peer.name)

    def palette(self) -> list[tuple[str, str, str]]:
        return [("Browse the selected PC", "open its shares on the Browse screen", "browse")]
