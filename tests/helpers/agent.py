"""Run real ``peerwork`` commands and agents for tests: temp homes, unprivileged ports, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit

from peerwork.control import ControlClient
from peerwork.errors import AgentNotRunning

if TYPE_CHECKING:
    from peerwork.agents.agent import Agent
    from peerwork.agents.service import Service
    from tests.helpers.netns import NetnsLab

PEERWORK = [sys.executable, "-m", "peerwork.cli.main"]
# Seconds an in-process agent gets to come up, and to stop.
AGENT_START_STOP = 20


def peerwork(
    home: Path,
    *args: str,
    input: str | None = None,
    prefix: Sequence[str] = (),
    check: bool = True,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``peerwork --home HOME ARGS`` (optionally inside ``prefix``, e.g. ip netns exec)."""
    proc = subprocess.run(
        [*prefix, *PEERWORK, "--home", str(home), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"peerwork {' '.join(args)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return proc


def init_home(
    home: Path,
    *,
    name: str = "PC1",
    workgroup: str = "OFFICE",
    owner: str = "alice",
    smb_port: int | None = 0,
    channel_port: int | None = 0,
    bind: str = "127.0.0.1",
    discovery: bool = False,
    interfaces: Sequence[str] = (),
    prefix: Sequence[str] = (),
    init_args: Sequence[str] = (),
    create: bool = False,
) -> None:
    """``create``: make the workgroup's key here (plain ``peerwork init``); by default
    ``init --join-later``, a PC without a key that trusts on first use (tests not about
    trust). ``init_args``: further options of ``peerwork init`` (``--invite``; the
    hidden ``--create`` means ``create``)."""
    create = create or "--create" in init_args or "--invite" in init_args
    peerwork(
        home,
        "init",
        "--workgroup",
        workgroup,
        "--name",
        name,
        "--owner",
        owner,
        *(() if create else ("--join-later",)),
        *init_args,
        prefix=prefix,
    )
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    if smb_port is not None:  # None: the built-in default (445 as root, 4445 otherwise)
        doc["files"]["port"] = smb_port  # type: ignore[index]
    doc["files"]["bind"] = bind  # type: ignore[index]
    if channel_port is not None:  # None: the built-in default, 7445
        doc["channel"]["port"] = channel_port  # type: ignore[index]
    doc["channel"]["bind"] = bind  # type: ignore[index]
    doc["discovery"]["enabled"] = discovery  # type: ignore[index]
    doc["discovery"]["interfaces"] = list(interfaces)  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))


def lab_agent(
    lab: NetnsLab, index: int, tmp_path: Path, users: dict[str, str]
) -> tuple[AgentProcess, Path]:
    """An office PC in ``lab``'s PC ``index``: name ``PC<index>``, SMB on 445, mDNS on eth0,
    ``users`` (name -> password) added. Returns the (not yet started) agent and its home."""
    pc = lab.pc(index)
    home = tmp_path / f"pc{index}"
    prefix = lab.argv(pc, [])
    init_home(
        home,
        name=f"PC{index}",
        owner=next(iter(users), "alice"),
        smb_port=None,  # as on a real office PC: root's default, 445
        bind="0.0.0.0",
        discovery=True,
        interfaces=["eth0"],
        prefix=prefix,
    )
    for user, pw in users.items():
        peerwork(home, "user", "add", user, "--password-stdin", input=f"{pw}\n")
    return AgentProcess(home, prefix=prefix), home


def join_by_code(member: AgentProcess, joiner: AgentProcess, timeout: float = 40) -> dict[str, Any]:
    """The user's way in: ``peerwork invite`` on ``member``, ``peerwork join CODE`` on
    ``joiner`` (both agents running, on one LAN); the join's JSON answer."""
    code = json.loads(
        peerwork(member.home, "invite", "--json", prefix=member.prefix, timeout=timeout).stdout
    )["code"]
    # The joiner may not have seen the member's record yet right after starting.
    deadline = time.monotonic() + timeout
    while True:
        proc = peerwork(
            joiner.home, "join", "--json", code, prefix=joiner.prefix, check=False, timeout=timeout
        )
        if proc.returncode == 0:
            return dict(json.loads(proc.stdout))
        if "no PC on the LAN matches" not in proc.stderr or time.monotonic() > deadline:
            raise AssertionError(f"join failed: {proc.stderr}\n{joiner.log_text()}")
        time.sleep(0.5)


class AgentProcess:
    """``peerwork agent`` as a child process; ``stop()`` sends SIGTERM and waits."""

    def __init__(
        self,
        home: Path,
        prefix: Sequence[str] = (),
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.prefix = list(prefix)
        self.args = list(args)  # extra options of `peerwork agent`
        self.env = {**os.environ, **env} if env else None  # more environment variables
        self.log = home / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> dict[str, Any]:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, *PEERWORK, "--home", str(self.home), "agent", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                status = self.status()
            except AgentNotRunning:
                status = None
            # The control API answers while services still start: wait for them.
            if status and not {svc["state"] for svc in status["services"]} & {
                "stopped",
                "starting",
            }:
                return status
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"agent did not come up in {timeout}s:\n{self.log_text()}")

    def status(self) -> dict[str, Any]:
        # The control socket is a file, reachable from outside the agent's namespace too.
        return dict(ControlClient(self.home / "agent.sock").get("/status"))

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.status()["services"] if s["name"] == name)

    def smb_port(self) -> int:
        return int(self.service("files")["ports"]["smb"])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 15) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(
                f"agent ignored SIGTERM for {timeout}s:\n{self.log_text()}"
            ) from None

    def __enter__(self) -> AgentProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def agent_in_process(
    home: Path, services: Sequence[type[Service]] | None = None
) -> AsyncIterator[Agent]:
    """``Agent(home).run()`` as a task of this event loop, until the block ends; for
    tests that reach into the agent (a test-only service, its objects)."""
    from peerwork.agents.agent import Agent

    agent = Agent(home) if services is None else Agent(home, services=services)
    ready = asyncio.Event()
    task = asyncio.create_task(agent.run(on_ready=lambda _: ready.set()))
    async with asyncio.timeout(AGENT_START_STOP):
        await ready.wait()
    try:
        yield agent
    finally:
        agent.request_stop()
        async with asyncio.timeout(AGENT_START_STOP):
            await task
