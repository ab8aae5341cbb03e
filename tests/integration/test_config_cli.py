"""``peerwork config show|get|set`` with the real CLI: on a hand-edited file with no agent,
through a running agent (live apply or restart-needed, per section), and a bad value
refused with the file unchanged. Real clients: the ``peerwork`` command; in a network
namespace, a real agent whose discovery takes ``address_check`` live.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import tomlkit

from peerwork.agents.agent import Agent
from peerwork.agents.wiring import SERVICES
from peerwork.control_async import AsyncControlClient
from peerwork.errors import ConfigError
from tests.helpers.agent import (
    PEERWORK,
    AgentProcess,
    agent_in_process,
    init_home,
    lab_agent,
    peerwork,
)
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)
from tests.integration.test_extra_service import EchoService, set_echo

HAND = """
# --- added by hand ---
[myplugin]   # some other tool's section
colour = "blue"
"""


def hand_edited_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    init_home(home)
    cfg = home / "peerwork.toml"
    text = cfg.read_text().replace(
        "require_signing = false", 'require_signing = false\nfuture_key = "x"  # a newer key'
    )
    cfg.write_text(text + HAND)
    return home


def test_set_get_show_without_an_agent_keep_the_hand_edits(tmp_path: Path) -> None:
    home = hand_edited_home(tmp_path)
    cfg = home / "peerwork.toml"
    res = peerwork(home, "config", "set", "files.max_connections", "100")
    assert "files.max_connections = 100" in res.stdout
    assert peerwork(home, "config", "get", "files.max_connections").stdout == "100\n"
    assert peerwork(home, "config", "get", "files.idle_timeout").stdout == "900.0\n"  # default
    peerwork(home, "config", "set", "discovery.interfaces", '["eth0", "eth1"]')
    peerwork(home, "config", "set", "peer.owner", "bob")
    text = cfg.read_text()
    for kept in ('future_key = "x"  # a newer key', "# --- added by hand ---", 'colour = "blue"'):
        assert kept in text
    assert "# every PC of the office uses the same workgroup" in text  # init's comments
    doc = tomlkit.parse(text)
    assert doc["files"]["max_connections"] == 100  # type: ignore[index]
    assert doc["discovery"]["interfaces"] == ["eth0", "eth1"]  # type: ignore[index]
    assert doc["peer"]["owner"] == "bob"  # type: ignore[index]
    shown = peerwork(home, "config", "show", "files").stdout
    assert "[files]\n" in shown and "max_connections = 100\n" in shown
    assert "stall_timeout = 60.0" in shown  # defaults filled in
    assert peerwork(home, "config", "get", "myplugin.colour").stdout == '"blue"\n'


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("files.max_connections", "0", "files.max_connections must be a whole number"),
        ("files.max_connections", "-3", "files.max_connections must be a whole number"),
        ("files.port", "70000", "files.port must be 0-65535"),
        ("files.require_signing", "yes", "files.require_signing must be true or false"),
        ("channel.handshake_timeout", "soon", "channel.handshake_timeout must be a positive"),
        ("peer.name", "two words", "PC name"),
        ("files.max_conections", "5", "has no key 'max_conections'"),
        ("nosuch.key", "1", "no section [nosuch]"),
        ("files", "1", "write SECTION.KEY"),
    ],
)
def test_a_bad_value_is_refused_and_changes_nothing(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    home = hand_edited_home(tmp_path)
    cfg = home / "peerwork.toml"
    before = cfg.read_bytes()
    res = peerwork(home, "config", "set", key, value, check=False)
    assert res.returncode == 1, res
    assert message in res.stderr
    assert cfg.read_bytes() == before


def test_a_running_agent_saves_and_says_restart_needed(tmp_path: Path) -> None:
    home = hand_edited_home(tmp_path)
    cfg = home / "peerwork.toml"
    with AgentProcess(home) as agent:
        res = peerwork(home, "config", "set", "files.max_connections", "100")
        assert "files.max_connections = 100" in res.stdout
        assert "[files] changed: restart the agent to apply it" in res.stderr
        assert "# --- added by hand ---" in cfg.read_text()
        res = peerwork(home, "config", "set", "peer.owner", "bob")
        assert "[peer] changed: restart the agent to apply it" in res.stderr
        # refused by the agent's reader: nothing written, the agent keeps serving
        before = cfg.read_bytes()
        res = peerwork(home, "config", "set", "files.queue_mib", "0", check=False)
        assert res.returncode == 1 and "files.queue_mib must be" in res.stderr
        assert cfg.read_bytes() == before
        assert agent.service("files")["state"] == "running"
        # the same value again: still not what the agent runs, still a restart
        res = peerwork(home, "config", "set", "files.max_connections", "100")
        assert "[files] changed: restart the agent to apply it" in res.stderr
        # the channel takes a new handshake timeout live: a caller that sends nothing
        # is now dropped after 1 s instead of 10
        res = peerwork(home, "config", "set", "channel.handshake_timeout", "1")
        assert "[channel] applied" in res.stdout, res
        port = agent.service("channel")["ports"]["ctl"]
        with socket.create_connection(("127.0.0.1", port), timeout=8) as silent:
            began = time.monotonic()
            assert silent.recv(1) == b""
            assert time.monotonic() - began < 6
        # `peerwork reload` reports the same sections, [peer] included
        res = peerwork(home, "reload")
        assert "[files] changed" in res.stderr and "[peer] changed" in res.stderr


async def _cli(home: Path, *args: str) -> tuple[int, str, str]:
    # Async: the agent runs on this test's own loop, so the CLI must not block it.
    proc = await asyncio.create_subprocess_exec(
        *PEERWORK,
        "--home",
        str(home),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def echo_agent(tmp_path: Path) -> AsyncIterator[Agent]:
    home = hand_edited_home(tmp_path)
    set_echo(home, '# the greeting\ngreeting = "hello"\nport = 0')
    async with agent_in_process(home, (*SERVICES, EchoService)) as agent:
        yield agent


async def test_a_service_section_applies_live_through_config_set(echo_agent: Agent) -> None:
    """The echo service is not in the config package's list: its own reader checks the
    value, and it applies a new greeting live; a new port needs a restart."""
    home = echo_agent.paths.root
    cfg = home / "peerwork.toml"
    rc, out, err = await _cli(home, "config", "set", "echo.greeting", "good morning")
    assert rc == 0, err
    assert 'echo.greeting = "good morning"' in out and "[echo] applied" in out
    async with AsyncControlClient(echo_agent.paths.socket) as client:
        assert await client.get("/echo/greeting") == {"greeting": "good morning"}
    assert "# the greeting" in cfg.read_text()
    rc, out, err = await _cli(home, "config", "get", "echo.greeting")
    assert (rc, out) == (0, '"good morning"\n')
    # refused by EchoService's own reader: nothing written, still the old greeting
    before = cfg.read_bytes()
    rc, out, err = await _cli(home, "config", "set", "echo.greeting", "5")
    assert rc == 1 and "[echo] greeting must be a string" in err
    assert cfg.read_bytes() == before
    rc, out, err = await _cli(home, "config", "set", "echo.port", "1")
    assert rc == 0 and "[echo] changed: restart the agent to apply it" in err
    # the control route itself, as the TUI will use it
    async with AsyncControlClient(echo_agent.paths.socket) as client:
        report = await client.post(
            "/config", {"section": "echo", "values": {"greeting": "hi", "port": 0}}
        )
        assert report["applied"] == ["echo"] and report["restart_needed"] == []
        with pytest.raises(ConfigError, match=r"files\.max_open_files"):
            await client.post("/config", {"section": "files", "values": {"max_open_files": -1}})
    rc, out, err = await _cli(home, "config", "set", "echo.greeting", "hi")
    assert rc == 0 and "[echo] unchanged: it already had that value" in out


Lab = Callable[..., NetnsLab]


@pytest.mark.root
@pytest.mark.timeout(120)
def test_discovery_takes_address_check_live(
    lab_factory: Lab,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab = lab_factory(1)
    agent, home = lab_agent(lab, 1, tmp_path, {"alice": "secret"})
    with agent:
        assert agent.service("discovery")["state"] == "running"
        res = peerwork(home, "config", "set", "discovery.address_check", "2")
        assert "[discovery] applied" in res.stdout, res
        assert peerwork(home, "config", "get", "discovery.address_check").stdout == "2.0\n"
        res = peerwork(home, "config", "set", "discovery.interfaces", '["eth9"]')
        assert "[discovery] changed: restart the agent to apply it" in res.stderr
        assert agent.service("discovery")["state"] == "running"
