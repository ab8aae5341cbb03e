"""Hostile input to the control API: any body gets a JSON error or a valid change, never a crash."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerwork.agents.agent import Agent
from peerwork.agents.control_server import ControlServer
from tests.helpers.agent import init_home

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(["path", "name", "comment", "grants", "password", "x"])
bodies = st.dictionaries(keys, json_values, max_size=5) | json_values


class Api:
    def __init__(self, agent: Agent) -> None:
        self.loop = asyncio.new_event_loop()
        app = ControlServer(agent, agent.paths.socket).app()

        async def start() -> TestClient[Any, Any]:
            client: TestClient[Any, Any] = TestClient(TestServer(app))
            await client.start_server()
            return client

        self.client = self.loop.run_until_complete(start())

    def call(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        async def go() -> tuple[int, Any]:
            resp = await self.client.request(
                method, path, data=raw, headers={"Content-Type": "application/json"}
            )
            return resp.status, await resp.json()

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Path]]:
    home = tmp_path_factory.mktemp("api") / "home"
    init_home(home)
    (home.parent / "docs").mkdir()
    agent = Agent(home)
    api = Api(agent)
    try:
        yield api, home
    finally:
        api.close()
        agent.lock.release()


ROUTES = [
    ("POST", "/v1/shares"),
    ("PATCH", "/v1/shares/docs"),
    ("POST", "/v1/files/shares"),
    ("PATCH", "/v1/files/shares/docs"),
    ("POST", "/v1/accounts"),
    ("PUT", "/v1/accounts/alice/password"),
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_any_json_body_is_handled(api: tuple[Api, Path], route: tuple[str, str], body: Any) -> None:
    client, home = api
    status, data = client.call(*route, json.dumps(body).encode())
    assert status in (200, 201, 400, 403, 404, 409), (status, data)
    if status >= 400:
        assert set(data) == {"error", "message"} and data["message"], data
    # whatever happened, the config on disk still parses
    from peerwork.config import ConfigFile

    ConfigFile(home / "peerwork.toml")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_non_json_bodies_are_refused(api: tuple[Api, Path], raw: bytes) -> None:
    client, home = api
    before = (home / "peerwork.toml").read_bytes()
    status, data = client.call("POST", "/v1/shares", raw)
    if status >= 400:
        assert data["error"] in ("invalid", "not-found", "exists", "path-escape"), data
        assert (home / "peerwork.toml").read_bytes() == before
