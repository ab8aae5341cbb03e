"""What every screen of the app shares: the navigation bar, the footer, and being told
when the app's view of the agent changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from ..messages import ViewChanged
from ..widgets.navbar import NavBar

if TYPE_CHECKING:
    from ..app import PeerworkApp


class PeerworkScreen(Screen[None]):
    """A screen of the app. Subclasses compose ``body()`` and redraw in ``show(what)``."""

    MODE = ""

    @property
    def pw(self) -> PeerworkApp:
        return cast("PeerworkApp", self.app)

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.pw.subscribe(self)
        self.show("all")

    async def on_unmount(self) -> None:
        self.pw.unsubscribe(self)

    def on_view_changed(self, message: ViewChanged) -> None:
        self.show(message.what)

    def show(self, what: str) -> None:
        """Redraw from ``self.pw.view`` (``what``: the part that changed, or "all")."""

    def palette(self) -> list[tuple[str, str, str]]:
        """(title, help, action) of this screen's actions, for the command palette."""
        return []
