"""The Gateway screen against a real agent in the gateway namespace lab
(:mod:`tests.helpers.gateway_lab`): the plan changes nothing, enable (after the plan
and a yes) makes the gateway, a real DHCP client (udhcpc) gets a lease the screen
lists, and disable leaves no trace.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from peerwork.tui.app import make_app
from peerwork.tui.screens.dialogs import ConfirmDialog, FormDialog
from tests.helpers.gateway_lab import build, client_script, lease_of, udhcpc
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)
from tests.helpers.tui import table_rows, type_into, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]


def shown(app: object, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def test_plan_enable_lease_disable(
    lab_factory: type[NetnsLab],  # noqa: F811
    tmp_path: Path,
) -> None:
    lab: NetnsLab = lab_factory(1, addressed=False)  # type: ignore[operator]
    gw = build(lab, tmp_path)
    with gw.agent:
        before = gw.trace()
        app = make_app(gw.home)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("8")
            await wait_for(pilot, lambda: app.current_mode == "gateway")
            await wait_for(
                pilot, lambda: "Idle: no uplink set" in shown(app, "#gateway"), what="idle"
            )

            async def options() -> None:
                await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="form")
                await type_into(pilot, "#field-uplink", "wan0")
                await type_into(pilot, "#field-lan", "lan0")
                await pilot.press("enter")

            await pilot.press("p")
            await options()
            await wait_for(
                pilot, lambda: "Nothing was changed." in shown(app, "#gateway-plan"), what="plan"
            )
            plan = shown(app, "#gateway-plan")
            assert "ip addr add 192.168.0.1/24 dev lan0" in plan and "masquerade" in plan
            assert gw.trace() == before, "the plan changed something"

            # Enable: the plan again, then a question; "no" changes nothing.
            await pilot.press("e")
            await options()
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
            await pilot.press("n")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
            assert gw.trace() == before, "answering no changed something"
            await pilot.press("e")
            await options()
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: "This PC is the LAN's gateway" in shown(app, "#gateway"),
                within=30,
                what=lambda: shown(app, "#gateway"),
            )
            assert gw.trace()["ip_forward"].strip() == "1"

            script = client_script(tmp_path, "udhcpc")
            udhcpc(lab, lab.pcs[0], script, "pc1")
            got = lease_of(script)
            leases = app.screen.query_one("#leases", DataTable)

            for _ in range(40):  # the screen reads leases on r
                await pilot.press("r")
                await pilot.pause(0.25)
                if any(r[0] == got["ip"] and r[2] == "pc1" for r in table_rows(leases)):
                    break
            assert any(r[0] == got["ip"] and r[2] == "pc1" for r in table_rows(leases)), table_rows(
                leases
            )

            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
            await pilot.press("y")
            await wait_for(
                pilot, lambda: "Idle" in shown(app, "#gateway"), within=30, what="disabled"
            )
        assert gw.trace() == before, "disable left a trace"
