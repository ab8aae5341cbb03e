"""**Workgroup**: the live list of PCs; the highlighted one's shares and printers below."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from peerwork.models import Peer, PeerTrust
from peerwork.text import printable

from ..view import peer_key
from ..widgets.tables import cell, selected_key
from .base import PeerworkScreen
from .dialogs import ConfirmDialog, Field, FormDialog, NoticeDialog

TRUST_STYLE = {
    PeerTrust.VERIFIED: "green",
    PeerTrust.UNVERIFIED: "yellow",
    PeerTrust.IMPOSTOR: "bold red",
    PeerTrust.MEMBER: "green",
    PeerTrust.NOT_A_MEMBER: "bold yellow",
    PeerTrust.REVOKED: "bold red",
}
# The states a person must not miss are shouted; the rest read as they are.
TRUST_LABEL = {
    PeerTrust.NOT_A_MEMBER: "NOT A MEMBER",
    PeerTrust.REVOKED: "REVOKED",
    PeerTrust.IMPOSTOR: "IMPOSTOR",
}
TRUST_WARNING = {
    PeerTrust.IMPOSTOR: "Never used: it claims a known name with a different key. If that PC "
    "was reinstalled: peerwork peers --forget NAME",
    PeerTrust.NOT_A_MEMBER: "Not used: it claims this workgroup's name but holds no certificate "
    "of its key. To admit it: i here prints a code, then join with it on that PC.",
    PeerTrust.REVOKED: "Never used: it was removed from the workgroup. To admit it again it "
    "must join with a new code.",
}


def trust_label(state: PeerTrust) -> Text:
    return Text(TRUST_LABEL.get(state, state.value), style=TRUST_STYLE[state])


def address(peer: Peer) -> str:
    first = printable(peer.addresses[0], limit=40) if peer.addresses else "-"
    return f"{first}:{peer.smb_port}" if peer.smb_port and peer.smb_port != 445 else first


def peer_details(peer: Peer) -> Text:
    text = Text()
    text.append(printable(peer.name, limit=80), style="bold")
    text.append("  ")
    text.append(trust_label(peer.state))
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
    if peer.state in TRUST_WARNING:
        text.append(f"\n{TRUST_WARNING[peer.state]}", style="red")
    elif peer.shares:
        text.append("\nenter or b: browse its shares", style="dim")
    return text


class WorkgroupScreen(PeerworkScreen):
    MODE = "workgroup"
    BINDINGS = [
        Binding("b", "browse", "Browse PC"),
        Binding("i", "invite", "Invite"),
        Binding("j", "join", "Join"),
        Binding("x", "remove", "Remove PC"),
    ]

    def body(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="peers", cursor_type="row", zebra_stripes=True)
        table.add_column("PC", key="name", width=16)
        table.add_column("Address", key="address", width=19)
        table.add_column("Roles", key="roles", width=16)
        table.add_column("Trust", key="trust", width=12)
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
                trust_label(peer.state),
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
        if peer.state in TRUST_WARNING:
            label = TRUST_LABEL[peer.state]
            self.pw.notify(f"{printable(peer.name)} is {label}: never used", severity="error")
            return
        self.pw.open_browse(peer.name)

    @work(exclusive=True, group="trust")
    async def action_invite(self) -> None:
        reply = await self.pw.attempt(self.pw.api.invite())
        if reply is None:
            return
        left = max(0, int(float(reply.get("expires", 0)) - self.pw.clock()))
        text = (
            f"Join code:\n\n  {printable(reply.get('code', ''), limit=200)}\n\n"
            f"On the new PC (its agent running, on this LAN): Workgroup screen, j, and this "
            f"code; or 'peerwork join CODE'. It names {printable(reply.get('issuer', ''))}, "
            f"works once and expires in {left // 60} min."
        )
        await self.app.push_screen_wait(NoticeDialog(text, id="invite-code"))

    def action_join(self) -> None:
        async def submit(values: dict[str, str]) -> str:
            reply, problem = await self.pw.ask(self.pw.api.join(values["code"].strip()))
            if not problem:
                self.pw.notify(
                    f"Joined workgroup {printable(reply.get('workgroup', ''))} through "
                    f"{printable(reply.get('through', ''))}: this PC is a member now."
                )
            return problem

        self.app.push_screen(
            FormDialog(
                "Join the workgroup",
                [Field("code", "Join code (from 'invite' on a member)")],
                ok="Join",
                submit=submit,
            )
        )

    @work(exclusive=True, group="trust")
    async def action_remove(self) -> None:
        peer = self.selected()
        if peer is None:
            return
        name = printable(peer.name)
        question = (
            f"Remove {name} from the workgroup? It is revoked everywhere and the other "
            "members get a new workgroup key; it can only come back with a new code."
        )
        if not await self.app.push_screen_wait(ConfirmDialog(question, yes="Remove")):
            return
        reply = await self.pw.attempt(self.pw.api.remove_peer(peer.name))
        if reply is None:
            return
        rekeyed = ", ".join(map(printable, reply.get("rekeyed") or [])) or "nobody"
        self.pw.notify(f"Removed {name}; new workgroup key handed to: {rekeyed}.")
        unreachable = reply.get("unreachable") or []
        if unreachable:
            self.pw.notify(
                "Not reached (they must join again with a new code): "
                + ", ".join(map(printable, unreachable)),
                severity="warning",
                timeout=15,
            )

    def palette(self) -> list[tuple[str, str, str]]:
        return [
            ("Browse the selected PC", "open its shares on the Browse screen", "browse"),
            ("Invite a PC", "show a single-use code that admits one PC", "invite"),
            ("Join the workgroup", "with a code from a member", "join"),
            ("Remove the selected PC from the workgroup", "asks first", "remove"),
        ]
