"""Network-namespace labs for multi-PC tests: a LAN bridge plus N "PC" namespaces.

Usage (in a test module)::

    from tests.helpers.netns import lab_factory  # noqa: F401  (pytest fixture)

    @pytest.mark.root
    def test_two_pcs(lab_factory):
        lab = lab_factory(2)
        pc1, pc2 = lab.pcs
        lab.run(pc1, ["ping", "-c1", "-W1", pc2.address])
        proc = lab.popen(pc2, [sys.executable, "-m", "http.server"])

or as a plain context manager: ``with NetnsLab(2) as lab: ...``.

Layout: namespace ``<prefix>br`` holds bridge ``br0``; each PC namespace
``<prefix>pc<i>`` has ``lo`` up and ``eth0`` (a veth whose peer ``pc<i>`` sits
on the bridge) with address ``10.77.<k>.<i>/24``, ``<k>`` distinct per lab in
this process, multicast on and a route for 224.0.0.0/4, so mDNS works. The
veth pairs are created inside the bridge namespace and moved straight into
the PC namespace: nothing is ever created in the host's own namespace.
Namespace names start with ``pw<pid>x<n>`` so parallel runs never collide.

Teardown (also when the test fails) stops every process started through
``popen`` by PID (SIGTERM, then SIGKILL after a grace period; each is started
in its own session so its children go too), kills anything still running
inside the lab's namespaces, and deletes the namespaces, which removes their
links. Without root or with ``ip netns`` forbidden, the fixture skips with
the reason.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

_counter = itertools.count(1)
SUBNET_FIRST_OCTETS = "10.77"


@dataclass(frozen=True, slots=True)
class PC:
    ns: str  # namespace name
    index: int  # 1-based
    address: str  # e.g. 10.77.3.1
    prefix: int = 24
    ifname: str = "eth0"

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefix}"


class NetnsUnavailable(RuntimeError):
    """Root or `ip netns` is missing: the caller should skip."""


class NetnsLab:
    def __init__(self, pcs: int, *, multicast_lo: bool = False, addressed: bool = True) -> None:
        """``addressed=False``: the PCs' eth0 comes up without an address (DHCP tests)."""
        if os.geteuid() != 0:
            raise NetnsUnavailable("network namespace tests need root")
        n = next(_counter)
        self.prefix = f"pw{os.getpid()}x{n}"
        self.subnet = f"{SUBNET_FIRST_OCTETS}.{(os.getpid() + n) % 250 + 1}"
        self.bridge_ns = f"{self.prefix}br"
        self.pcs: list[PC] = [
            PC(f"{self.prefix}pc{i}", i, f"{self.subnet}.{i}") for i in range(1, pcs + 1)
        ]
        self._namespaces: list[str] = []
        self._procs: list[subprocess.Popen[Any]] = []
        self._multicast_lo = multicast_lo
        self._addressed = addressed

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> NetnsLab:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        try:
            self._ip("netns", "add", self.bridge_ns)
        except subprocess.CalledProcessError as exc:
            raise NetnsUnavailable(f"'ip netns add' is not permitted here: {exc.stderr}") from None
        self._namespaces.append(self.bridge_ns)
        br = self.bridge_ns
        self._ip("-n", br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        self._ip("-n", br, "link", "set", "br0", "up")
        self._ip("-n", br, "link", "set", "lo", "up")
        for pc in self.pcs:
            self._ip("netns", "add", pc.ns)
            self._namespaces.append(pc.ns)
            port = f"pc{pc.index}"
            self._ip(
                "-n", br, "link", "add", port, "type", "veth", "peer", "name", pc.ifname,
                "netns", pc.ns,
            )  # fmt: skip
            self._ip("-n", br, "link", "set", port, "master", "br0")
            self._ip("-n", br, "link", "set", port, "up")
            self._ip("-n", pc.ns, "link", "set", "lo", "up")
            if self._multicast_lo:
                self._ip("-n", pc.ns, "link", "set", "lo", "multicast", "on")
            self._ip("-n", pc.ns, "link", "set", pc.ifname, "multicast", "on", "up")
            if self._addressed:
                self._ip("-n", pc.ns, "addr", "add", pc.cidr, "dev", pc.ifname)
                self._ip("-n", pc.ns, "route", "add", "224.0.0.0/4", "dev", pc.ifname)
        self._wait_links_up()

    def _wait_links_up(self) -> None:
        # A veth reports carrier a moment after both ends are up; multicast sent
        # before that is lost, which would make the first mDNS probe vanish.
        deadline = time.monotonic() + 5
        for pc in self.pcs:
            while time.monotonic() < deadline:
                out = self.run(pc, ["ip", "-br", "link", "show", pc.ifname]).stdout
                if " UP " in out:
                    break
                time.sleep(0.05)

    def close(self) -> None:
        for proc in reversed(self._procs):
            _stop(proc)
        self._procs.clear()
        for ns in reversed(self._namespaces):
            self._kill_leftovers(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self._namespaces.clear()

    def _kill_leftovers(self, ns: str) -> None:
        # Only processes inside a namespace this lab created: tests started them.
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
        for pid in (int(p) for p in out.stdout.split() if p.isdigit()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # -- more namespaces (a gateway, a wan) ------------------------------------------------
    def add_namespace(self, suffix: str) -> str:
        """A further namespace of this lab (``lo`` up), torn down with it."""
        ns = f"{self.prefix}{suffix}"
        self._ip("netns", "add", ns)
        self._namespaces.append(ns)
        self._ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def plug(self, ns: str, ifname: str) -> None:
        """A leg of ``ns`` on the LAN bridge: veth ``ifname`` in ``ns``, up, no address."""
        port = f"p{ifname}{len(self._namespaces)}"[:15]
        self._ip(
            "-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", ifname,
            "netns", ns,
        )  # fmt: skip
        self._ip("-n", self.bridge_ns, "link", "set", port, "master", "br0")
        self._ip("-n", self.bridge_ns, "link", "set", port, "up")
        self._ip("-n", ns, "link", "set", ifname, "up")

    def link(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        """A veth pair between two of this lab's namespaces, both ends up."""
        self._ip(
            "-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b
        )
        self._ip("-n", ns_a, "link", "set", if_a, "up")
        self._ip("-n", ns_b, "link", "set", if_b, "up")

    # -- running things inside -----------------------------------------------------------
    def argv(self, ns: str | PC, argv: Sequence[str]) -> list[str]:
        name = ns.ns if isinstance(ns, PC) else ns
        return ["ip", "netns", "exec", name, *argv]

    def run(
        self, ns: str | PC, argv: Sequence[str], *, check: bool = True, timeout: float = 30,
        **kw: Any,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run to completion inside ``ns``; text output captured unless overridden."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(ns, argv), check=check, timeout=timeout, **kw)

    def popen(self, ns: str | PC, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start inside ``ns`` in its own session; stopped by PID at teardown."""
        kw.setdefault("start_new_session", True)
        proc = subprocess.Popen(self.argv(ns, argv), **kw)
        self._procs.append(proc)
        return proc

    def pc(self, index: int) -> PC:
        return self.pcs[index - 1]

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=15)


def _stop(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: pgid == pid
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(grace)
    else:
        # The leader exited; children it left in its group are still ours.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


@contextlib.contextmanager
def netns_lab(pcs: int, **kw: Any) -> Iterator[NetnsLab]:
    """Context manager that skips the running test when namespaces are unavailable."""
    try:
        lab = NetnsLab(pcs, **kw).__enter__()
    except NetnsUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def lab_factory() -> Iterator[Callable[..., NetnsLab]]:
    """``lab_factory(n, multicast_lo=False) -> NetnsLab``; all labs torn down after the test."""
    with contextlib.ExitStack() as stack:

        def make(pcs: int, **kw: Any) -> NetnsLab:
            return stack.enter_context(netns_lab(pcs, **kw))

        yield make
