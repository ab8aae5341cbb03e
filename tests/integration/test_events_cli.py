"""``peerwork events [--json]``: the real CLI watching a real agent's event stream."""

from __future__ import annotations

import json
import subprocess
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
