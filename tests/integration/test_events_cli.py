"""``peerwork events [--json]``: the real CLI watching a real agent's event stream."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.agent import PEERWORK, AgentProcess, init_home, peerwork


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    init_home(home)
    return home


def first_event_while_sharing(home: Path, tmp_path: Path, *options: str) -> tuple[str, set[str]]:
    """Start ``peerwork events --count 1``, then add shares until it has printed one
    (its subscription races the first add: each try adds a new share); its output."""
    watcher = subprocess.Popen(
        [*PEERWORK, "--home", str(home), "events", "--count", "1", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    added: set[str] = set()
    try:
        for i in range(10):
            folder = tmp_path / f"docs{i}"
            folder.mkdir()
            peerwork(home, "share", str(folder))
            added.add(folder.name)
            try:
                out, err = watcher.communicate(timeout=2)
            except subprocess.TimeoutExpired:
                continue
            assert watcher.returncode == 0, err
            return out, added
        raise AssertionError("peerwork events printed nothing while 10 shares were added")
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(5)


def test_events_json_prints_the_share_added_event(home: Path, tmp_path: Path) -> None:
    with AgentProcess(home):
        out, added = first_event_while_sharing(home, tmp_path, "--json")
    (line,) = out.splitlines()
    event = json.loads(line)
    assert event["kind"] == "share-added"
    assert event["payload"]["name"] in added
    assert event["payload"]["path"].startswith(str(tmp_path))
    assert isinstance(event["seq"], int) and event["seq"] > 0
    assert isinstance(event["at"], float)


def test_events_text_names_the_kind_and_the_share(home: Path, tmp_path: Path) -> None:
    with AgentProcess(home):
        out, added = first_event_while_sharing(home, tmp_path)
    (line,) = out.splitlines()
    assert "share-added" in line
    assert any(f"name={name}" in line for name in added), line


def test_events_without_an_agent_says_so(home: Path) -> None:
    res = peerwork(home, "events", check=False)
    assert res.returncode == 1
    assert "no peerwork agent is running" in res.stderr


def test_an_open_event_stream_does_not_hold_up_sigterm(home: Path, tmp_path: Path) -> None:
    """A watcher (``peerwork events``, later the TUI) must not keep a stopping agent
    alive: aiohttp used to wait 60 s twice for the stream's handler."""
    agent = AgentProcess(home)
    agent.start()
    watcher = subprocess.Popen(
        [*PEERWORK, "--home", str(home), "events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert watcher.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(watcher.stdout or ()), daemon=True)
    reader.start()
    try:
        # Subscribed once a share added now is reported (the first adds may race it).
        for i in range(20):
            folder = tmp_path / f"docs{i}"
            folder.mkdir()
            peerwork(home, "share", str(folder))
            time.sleep(0.3)
            if any("share-added" in line for line in lines):
                break
        assert any("share-added" in line for line in lines), lines
        started = time.monotonic()
        assert agent.stop(timeout=15) == 0
        assert time.monotonic() - started < 8
        watcher.wait(10)
        reader.join(5)
        err = watcher.stderr.read() if watcher.stderr else ""
    finally:
        agent.stop()
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(5)
    assert watcher.returncode == 1
    assert "the agent closed the event stream (it stopped)" in err
    assert "Traceback" not in err
    assert any("state=stopping" in line for line in lines), lines
