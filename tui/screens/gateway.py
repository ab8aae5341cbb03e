"""**Gateway**: who gives the LAN its Internet connection; the plan first, then
enable/disable (asked first); the DHCP leases. Everything is the agent's (``/v1/gateway``)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from peerwork.gateway.plan_text import plan_lines
from peerwork.text import printable

from ..shape import as_dict, as_list, dicts
from ..widgets.tables import cell
from .base import PeerworkScreen
from .dialogs import ConfirmDialog, Field, FormDialog

HINT = "p shows the plan (changes nothing) · e enables after the plan · d disables · r reloads"


def describe(status: dict[str, Any]) -> Text:
    """The service's state in words: recognised router / this PC is the gateway /
    standing down / idle, and why."""
    text = Text()
    if status.get("state") != "running":
        text.append(f"Gateway service: {printable(status.get('state', '?'))}", style="bold")
        if status.get("reason"):
            text.append(f" — {printable(status['reason'], limit=300)}")
        return text
    details = as_dict(status.get("details"))
    mode = details.get("mode", "idle")
    recognised = [printable(r, limit=100) for r in as_list(details.get("recognised"))]
    plan = as_dict(details.get("plan"))
    if mode == "active":
        text.append("This PC is the LAN's gateway", style="bold green")
        text.append(
            f": LAN {printable(plan.get('lan'))} {printable(plan.get('lan_address'))}, "
            f"uplink {printable(plan.get('uplink'))}, domain {printable(details.get('domain'))}, "
            f"{printable(details.get('leases', 0))} lease(s)"
        )
    elif mode == "standing-down":
        text.append("Standing by: the LAN already has a gateway", style="bold")
        text.append(f" ({', '.join(recognised) or 'recognised'}); this PC changes nothing.")
    else:
        configured = as_dict(details.get("configured"))
        text.append("Idle", style="bold")
        if recognised:
            text.append(f": the LAN's gateway is {', '.join(recognised)}.")
        elif not configured.get("uplink"):
            text.append(": no uplink set ([gateway] uplink); p plans with one you name.")
        else:
            text.append(": not enabled; e enables it after showing the plan.")
    for rogue in dicts(details.get("rogue")):
        who = rogue.get("server_id") or rogue.get("source")
        text.append(
            f"\nWARNING: another DHCP server on the LAN: {printable(who)} "
            f"(offered {printable(rogue.get('offered'))})",
            style="bold red",
        )
    return text


class GatewayScreen(PeerworkScreen):
    MODE = "gateway"
    BINDINGS = [
        Binding("p", "plan", "Plan"),
        Binding("e", "enable", "Enable"),
        Binding("d", "disable", "Disable"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.configured: dict[str, str] = {}

    def body(self) -> ComposeResult:
        yield Static(id="gateway")
        with VerticalScroll(id="gateway-plan-box"):
            yield Static(HINT, id="gateway-plan", classes="missing")
        leases: DataTable[Text] = DataTable(id="leases", cursor_type="row")
        leases.add_column("Address", key="address", width=16)
        leases.add_column("MAC", key="mac", width=18)
        leases.add_column("Name", key="hostname")
        leases.add_column("State", key="state", width=9)
        leases.add_column("Left", key="left", width=8)
        yield leases

    def palette(self) -> list[tuple[str, str, str]]:
        return [
            ("Gateway plan", "every change enabling would make; changes nothing", "plan"),
            ("Enable the gateway", "shows the plan and asks first", "enable"),
            ("Disable the gateway", "undoes every change; asks first", "disable"),
        ]

    def show(self, what: str) -> None:
        if what in ("all", "status"):
            self.action_reload()

    @work(exclusive=True, group="gateway")
    async def action_reload(self) -> None:
        status = await self.pw.attempt(self.pw.api.gateway())
        if status is None:
            return
        self.query_one("#gateway", Static).update(describe(status))
        details = as_dict(status.get("details"))
        configured = as_dict(details.get("configured"))
        self.configured = {k: str(v) for k, v in configured.items() if isinstance(v, str) and v}
        leases = self.query_one("#leases", DataTable)
        rows = await self.pw.attempt(self.pw.api.leases()) if details else None
        leases.display = bool(rows)
        leases.clear()
        now = self.pw.clock()
        for row in rows if isinstance(rows, list) else []:
            expires = row.get("expires")
            left = max(0, int(expires - now)) if isinstance(expires, int | float) else 0
            leases.add_row(
                cell(row.get("address", "")),
                cell(row.get("mac", "")),
                cell(row.get("hostname") or "-"),
                cell(row.get("state", "")),
                cell(f"{left}s"),
            )

    async def _options(self, title: str, ok: str) -> dict[str, str] | None:
        values = await self.app.push_screen_wait(
            FormDialog(
                title,
                [
                    Field(
                        "uplink", "Uplink (the Internet side)", self.configured.get("uplink", "")
                    ),
                    Field("lan", "LAN interface (the office side)", self.configured.get("lan", "")),
                    Field("lan_address", "LAN address", placeholder="192.168.0.1/24 (default)"),
                    Field("pool", "DHCP pool FIRST-LAST", placeholder="the rest of the LAN"),
                ],
                ok=ok,
            )
        )
        if values is None:
            return None
        return {k: v.strip() for k, v in values.items() if v.strip()}

    async def _plan(self, options: dict[str, str]) -> dict[str, Any] | None:
        plan = await self.pw.attempt(self.pw.api.gateway_plan(options))
        if plan is None:
            return None
        text = Text("\n".join(printable(line, limit=500) for line in plan_lines(plan)))
        text.append("\nNothing was changed." + ("" if plan.get("ok") else " Enable would refuse."))
        self.query_one("#gateway-plan", Static).update(text)
        return dict(plan)

    @work(exclusive=True, group="gateway-act")
    async def action_plan(self) -> None:
        options = await self._options("Plan the gateway (changes nothing)", "Plan")
        if options is not None:
            await self._plan(options)

    @work(exclusive=True, group="gateway-act")
    async def action_enable(self) -> None:
        options = await self._options("Enable the gateway: the plan comes first", "Plan")
        if options is None:
            return
        plan = await self._plan(options)
        if plan is None:
            return
        if not plan.get("ok"):
            self.pw.notify("The plan has problems; enabling would refuse.", severity="warning")
            return
        steps = len(plan.get("steps") or [])
        question = (
            f"Enable the gateway on {printable(plan.get('lan'))}? This makes the {steps} "
            "change(s) shown in the plan and serves DHCP and DNS on the LAN."
        )
        if not await self.app.push_screen_wait(ConfirmDialog(question, yes="Enable")):
            return
        done = await self.pw.attempt(self.pw.api.gateway_enable(options))
        if done is not None:
            self.pw.notify(f"Gateway enabled on {printable(done.get('lan'))}.")
        self.action_reload()

    @work(exclusive=True, group="gateway-act")
    async def action_disable(self) -> None:
        question = "Disable the gateway? Every change enabling made is undone."
        if not await self.app.push_screen_wait(ConfirmDialog(question, yes="Disable")):
            return
        done = await self.pw.attempt(self.pw.api.gateway_disable())
        if done is not None:
            failures = [printable(f, limit=200) for f in done.get("failures") or []]
            if failures:
                self.pw.notify("Could not undo: " + "; ".join(failures), severity="error")
            else:
                self.pw.notify("Gateway disabled: every change is undone.")
        self.action_reload()
