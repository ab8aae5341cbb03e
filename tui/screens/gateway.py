"""**Gateway**: the gateway service (NAT, DHCP, DNS) has not landed yet; say so plainly."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from .base import PeerworkScreen

NOT_YET = (
    "The gateway service is not there yet.\n\n"
    "When it lands, this screen shows who gives the LAN its Internet connection, "
    "the plan before anything changes, enable/disable, the DHCP leases, DNS names "
    "and the doctor's checks.\n\n"
    "Until then this PC does not hand out addresses or share its Internet connection, "
    "and nothing here pretends it does."
)


class GatewayScreen(PeerworkScreen):
    MODE = "gateway"

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(NOT_YET, id="gateway", classes="missing")
