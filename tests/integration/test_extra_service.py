"""A service the agent was never told about by name: its own config section, advert, route and
status fields, added by passing one more class in the agent's list (issue 13, items 3-5).

Nothing in agents/agent.py, agents/control_server.py or agents/discovery.py names it: the
agent runs it, supervises it, mounts its routes, and reload hands it its section.
Real clients: the async control client over the agent's Unix socket, and a TCP socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from peerwork.agents.adverts import DnsSdRecord, ServiceAdvert
from peerwork.agents.agent import Agent
from peerwork.agents.context import ServiceContext
from peerwork.agents.service import Route, Service
from peerwork.agents.wiring import SERVICES
from peerwork.config import Config
from peerwork.control_async import AsyncControlClient
from peerwork.errors import ConfigError
from peerwork.models import AgentEvent, ServiceState
from tests.helpers.agent import PEERWORK, agent_in_process, init_home


@dataclass(frozen=True, slots=True)
class EchoSettings:
    enabled: bool = True
    greeting: str = "hello"
    port: int = 0


class EchoService(Service):
    """Greets, then echoes one line, on its own TCP port."""

    name = "echo"

    @classmethod
    def read_settings(cls, config: Config, raw: Mapping[str, Any]) -> EchoSettings:
        greeting, port = raw.get("greeting", "hello"), raw.get("port", 0)
        if not isinstance(greeting, str):
            raise ConfigError(f"[echo] greeting must be a string, not {greeting!r}")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < 65536:
            raise ConfigError(f"[echo] port must be a port number, not {port!r}")
        return EchoSettings(bool(raw.get("enabled", True)), greeting, port)

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> EchoService:
        return cls(ctx.settings, ctx)

    def __init__(self, settings: EchoSettings, ctx: ServiceContext) -> None:
        super().__init__(ctx.emit)
        self.settings = settings
        self.ctx = ctx
        self._server: asyncio.Server | None = None
        self.served = 0

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._greet, "127.0.0.1", self.settings.port)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _greet(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"{self.settings.greeting} from {self.ctx.peer.name}\n".encode())
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        self.served += 1

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def ports(self) -> dict[str, int]:
        return {"echo": self.port} if self._server else {}

    def details(self) -> dict[str, Any]:
        return {"greeting": self.settings.greeting, "served": self.served}

    def summary(self) -> str:
        return f"says {self.settings.greeting!r}"

    def notes(self) -> list[str]:
        return [f"served {self.served} connection(s)"]

    def warnings(self) -> list[str]:
        return ["greets everyone the same"] if self.served else []

    def advert(self) -> ServiceAdvert:
        return ServiceAdvert(
            roles=("echo",),
            ports={"echo": self.port},
            records=(DnsSdRecord("_echo._tcp.local.", self.port, {"g": self.settings.greeting}),),
        )

    def routes(self) -> Sequence[Route]:
        async def greeting(request: web.Request) -> web.Response:
            return web.json_response({"greeting": self.settings.greeting})

        return [Route("GET", "/greeting", greeting)]

    async def apply(self, settings: Any) -> bool:
        # The greeting applies live; a new port needs the listener rebuilt: a restart.
        if settings.port != self.settings.port or settings.enabled != self.settings.enabled:
            return False
        self.settings = settings
        self.publish()
        return True


def set_echo(home: Path, body: str) -> None:
    cfg = home / "peerwork.toml"
    text = cfg.read_text().split("\n[echo]\n")[0]
    cfg.write_text(f"{text}\n[echo]\n{body}\n")


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    home = tmp_path / "home"
    init_home(home)  # files on 127.0.0.1, discovery disabled: nothing announced on the host
    set_echo(home, 'greeting = "hello"\nport = 0')
    async with agent_in_process(home, (*SERVICES, EchoService)) as agent:
        yield agent


async def echo_once(port: int) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping\n")
    await writer.drain()
    lines = [await reader.readline(), await reader.readline()]
    writer.close()
    return lines


async def test_a_listed_service_runs_publishes_and_answers_its_routes(agent: Agent) -> None:
    async with AsyncControlClient(agent.paths.socket) as client:
        status = await client.status()
        echo = status.service("echo")
        assert echo is not None and echo.state is ServiceState.RUNNING
        port = echo.ports["echo"]
        assert echo.details["greeting"] == "hello" and echo.summary == "says 'hello'"
        assert status.service("files") is not None
        names = [s.name for s in status.services]
        assert names == [*(c.name for c in SERVICES), "echo"]  # the list's order
        assert await client.get("/echo") == echo.to_json()
        assert await client.get("/echo/greeting") == {"greeting": "hello"}
        # its advert is on the board discovery reads: role, signed port, DNS-SD record
        assert "echo" in agent.board.roles() and "files" in agent.board.roles()
        assert agent.board.ports()["echo"] == port
        (record,) = agent.board.adverts()["echo"].records
        assert (record.service_type, record.port, dict(record.txt)) == (
            "_echo._tcp.local.",
            port,
            {"g": "hello"},
        )
        assert await echo_once(port) == [b"hello from PC1\n", b"ping\n"]
        assert (await client.get("/echo"))["details"]["served"] == 1
    # the real CLI renders it from the typed status, knowing nothing about it
    cli = await asyncio.create_subprocess_exec(
        *PEERWORK,
        "--home",
        str(agent.paths.root),
        "status",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await cli.communicate()
    text = out.decode()
    assert f"  echo       running  echo:{port}  says 'hello'\n    served 1 connection(s)" in text
    assert "warning: echo: greets everyone the same" in err.decode()


async def test_reload_gives_the_service_its_section(agent: Agent) -> None:
    home = agent.paths.root
    async with AsyncControlClient(agent.paths.socket) as client:
        port = (await client.get("/echo"))["ports"]["echo"]
        set_echo(home, 'greeting = "good morning"\nport = 0')
        report = await client.post("/reload")
        assert report["applied"] == ["echo"] and report["restart_needed"] == []
        assert await client.get("/echo/greeting") == {"greeting": "good morning"}
        assert (await echo_once(port))[0] == b"good morning from PC1\n"
        assert dict(agent.board.adverts()["echo"].records[0].txt) == {"g": "good morning"}
        # a new port cannot apply live: the service says so and keeps serving the old one
        set_echo(home, 'greeting = "good morning"\nport = 1')
        report = await client.post("/reload")
        assert report["restart_needed"] == ["echo"] and report["applied"] == []
        assert (await client.get("/echo"))["ports"]["echo"] == port
        # switching it off is a restart too (a running service is not stopped by reload)
        set_echo(home, 'greeting = "good morning"\nport = 0\nenabled = false')
        assert (await client.post("/reload"))["restart_needed"] == ["echo"]
        assert (await client.get("/echo"))["state"] == "running"
        # a section of the wrong type refuses the reload and changes nothing
        set_echo(home, "greeting = 5")
        with pytest.raises(ConfigError, match=r"\[echo\] greeting must be a string"):
            await client.post("/reload")
        assert await client.get("/echo/greeting") == {"greeting": "good morning"}


async def test_share_routes_live_under_files_and_at_the_old_path(
    agent: Agent, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "pics").mkdir()
    async with AsyncControlClient(agent.paths.socket) as client:
        events: list[AgentEvent] = []

        async def listen() -> None:
            async for event in client.watch():
                events.append(event)
                if event.kind == "share-removed":
                    return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.2)  # subscribed before the changes
        await client.post("/files/shares", {"path": str(tmp_path / "docs")})
        await client.post("/shares", {"path": str(tmp_path / "pics")})
        names = [s["name"] for s in (await client.get("/files/shares"))["shares"]]
        assert names == [s["name"] for s in (await client.get("/shares"))["shares"]]
        assert names == ["docs", "pics"]
        await client.delete("/files/shares/pics")
        async with asyncio.timeout(10):
            await listener
    kinds = [e.kind for e in events]
    assert kinds == ["share-added", "share-added", "share-removed"], events
    assert events[0].payload["name"] == "docs" and events[0].seq < events[1].seq
