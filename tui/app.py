"""The textual App: screens by mode, the agent watcher, notifications, theme.

``make_app(home)`` is what ``peerwork tui`` runs and what tests drive with Pilot.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from peerwork.control_async import AsyncControlClient
from peerwork.errors import PeerworkError
from peerwork.home import HomePaths
from peerwork.models import ServiceState, ServiceStatus
from peerwork.text import printable

from .agent_api import AgentApi
from .mail_client import MailLogon
from .messages import AgentDown, AgentEventArrived, AgentUp, Refreshed, ViewChanged
from .nav import OFFLINE, PLACES
from .remote import Credentials
from .screens.accounts import AccountsScreen
from .screens.base import PeerworkScreen
from .screens.browse import BrowseScreen
from .screens.gateway import GatewayScreen
from .screens.help import HelpScreen
from .screens.mail import MailScreen
from .screens.offline import OfflineScreen
from .screens.printers import PrintersScreen
from .screens.shares import SharesScreen
from .screens.this_pc import ThisPcScreen
from .screens.workgroup import WorkgroupScreen
from .view import AgentView
from .watcher import AgentWatcher

DARK, LIGHT = "textual-dark", "textual-light"


class PeerworkApp(App[None]):
    CSS_PATH = "peerwork.tcss"
    TITLE = "peerwork"
    MODES = {
        "this-pc": ThisPcScreen,
        "workgroup": WorkgroupScreen,
        "shares": SharesScreen,
        "accounts": AccountsScreen,
        "browse": BrowseScreen,
        "printers": PrintersScreen,
        "mail": MailScreen,
        "gateway": GatewayScreen,
        OFFLINE: OfflineScreen,
    }
    BINDINGS = [
        *(Binding(p.key, f"go('{p.mode}')", p.label, show=False) for p in PLACES),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        home: Path,
        *,
        retry: float = 1.0,
        clock: Callable[[], float] = time.time,
        theme: str = DARK,
    ) -> None:
        super().__init__()
        self.home = home
        self.paths = HomePaths(home)
        self.api = AgentApi(AsyncControlClient(self.paths.socket))
        self.view = AgentView()
        self.clock = clock
        self.retry = retry
        self.connected = False
        self.ever_connected = False
        self.down_reason = ""
        self.attempts = 0
        self._wanted_mode = "this-pc"
        self._screens: set[PeerworkScreen] = set()
        # Logons to other PCs' shares, by "host[:port]": for this session only, never saved.
        self.credentials: dict[str, Credentials] = {}
        self.browse_request = ""
        # The Mail screen's logon (account's home, password): this session only.
        self.mail_logon: MailLogon | None = None
        self.theme = theme

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """As textual's, but plain text by default: messages quote names and paths that
        may hold "[" (and the agent's own reasons cite peerwork.toml's [sections])."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # -- lifecycle -----------------------------------------------------------

    def on_mount(self) -> None:
        self.switch_mode("this-pc")
        watcher = AgentWatcher(self.api, self.post_message, retry=self.retry)
        self.run_worker(watcher.run(), name="agent-watcher", group="watcher", exclusive=True)

    def subscribe(self, screen: PeerworkScreen) -> None:
        self._screens.add(screen)

    def unsubscribe(self, screen: PeerworkScreen) -> None:
        self._screens.discard(screen)

    def broadcast(self, what: str) -> None:
        for screen in list(self._screens):
            screen.post_message(ViewChanged(what))

    # -- the watcher's messages ------------------------------------------------

    def on_agent_up(self, message: AgentUp) -> None:
        self.view.replace(message.snapshot, self.clock())
        if not self.connected and self.ever_connected:
            self.notify("Connected to the agent again.", title="agent")
        self.connected = self.ever_connected = True
        self.attempts = 0
        if self.current_mode == OFFLINE:
            self.switch_mode(self._wanted_mode)
        self.broadcast("all")
        status = message.snapshot.status
        for svc in status.services if status else ():
            if svc.state is ServiceState.FAILED:
                self._service_failed(svc)

    def on_agent_down(self, message: AgentDown) -> None:
        if self.connected:
            self.notify(
                f"Lost the agent: {message.reason}. Reconnecting…",
                title="agent",
                severity="error",
            )
        self.connected = False
        self.down_reason = message.reason
        self.attempts += 1
        if self.current_mode != OFFLINE:
            self._wanted_mode = self.current_mode
            self.switch_mode(OFFLINE)
        self.broadcast("connection")

    def on_agent_event_arrived(self, message: AgentEventArrived) -> None:
        event = message.event
        if self.view.apply_peer_event(event, self.clock()):
            self.broadcast("peers")
            return
        payload = event.payload
        if event.kind == "service":
            try:
                svc = ServiceStatus.from_json(payload)
            except PeerworkError:
                return
            if svc.state is ServiceState.FAILED:
                self._service_failed(svc)
        elif event.kind in ("name-conflict", "peer-impostor"):
            text = payload.get("message") or payload.get("problem") or event.kind
            self.notify(printable(text, limit=300), title="workgroup", severity="warning")
        elif event.kind == "dropped":
            self.notify("Missed some of the agent's events; reading everything again.")

    def on_refreshed(self, message: Refreshed) -> None:
        self.view.replace(message.snapshot, self.clock())
        self.broadcast(message.what)

    def _service_failed(self, svc: ServiceStatus) -> None:
        self.notify(
            f"{svc.name} failed: {printable(svc.reason, limit=300)}",
            title="agent",
            severity="error",
            timeout=10,
        )

    # -- asking the agent to act ----------------------------------------------

    async def ask(self, action: Awaitable[Any]) -> tuple[Any, str]:
        """Run one agent call: (its answer, "") or (None, the message to show)."""
        try:
            return await action, ""
        except PeerworkError as exc:
            return None, exc.message
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return None, f"could not reach the agent: {exc}"

    async def attempt(self, action: Awaitable[Any], done: str = "") -> Any | None:
        """Run one agent call; show ``done`` on success and the agent's message on failure
        (returns None then). Nothing a screen asks can crash the app."""
        result, problem = await self.ask(action)
        if problem:
            self.notify(printable(problem, limit=400), title="agent", severity="error", timeout=10)
            return None
        if done:
            self.notify(done)
        return result if result is not None else True

    # -- actions --------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if not self.connected:
            self._wanted_mode = mode
            self.notify("The agent is not running yet; that screen opens once it is.")
            return
        if self.current_mode != mode:
            self.switch_mode(mode)

    def open_browse(self, peer: str) -> None:
        """Switch to Browse and open ``peer``'s list of shares."""
        self.browse_request = peer
        self.action_go("browse")
        self.broadcast("browse")

    def credentials_user(self, where: str) -> str:
        creds = self.credentials.get(where.casefold())
        return (creds.user or "anonymous") if creds else "?"

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for place in PLACES:
            yield SystemCommand(
                f"Go to {place.label}", place.about, lambda m=place.mode: self.action_go(m)
            )
        yield SystemCommand("Help", "Keys and screens", self.action_help)
        yield SystemCommand("Toggle dark/light", "Switch the theme", self.action_toggle_theme)
        if isinstance(screen, PeerworkScreen):
            for title, about, action in screen.palette():
                yield SystemCommand(
                    title,
                    about,
                    lambda a=action, s=screen: s.run_action(a),
                )


def make_app(home: Path, **options: Any) -> PeerworkApp:
    """The app for the agent of ``home`` (options: ``retry``, ``clock``, ``theme``)."""
    return PeerworkApp(home, **options)
