"""Run one DiscoveryService (or a plain zeroconf browser) and print what it sees as JSON lines.

Meant to run inside a test's network namespace::

    ip netns exec NS python tests/helpers/discovery_runner.py --name PC1 --iface eth0 \
        --shares docs,scans --roles files --smb-port 4445

Lines on stdout (one JSON object each): ``{"event": "starting"}`` just before
``DiscoveryService.start()`` (interpreter start-up excluded from timings);
``{"event": "ready", "details": {...}, "peer_id": "..."}`` once announced;
``{"event": KIND, "payload": {...}, "peers": [...]}`` for every service event
(peer-added, peer-updated, peer-removed, name-conflict, service);
``{"event": "failed", "reason": "..."}`` if the service cannot start;
``{"event": "stopped"}`` after SIGTERM, once the goodbyes are sent.

The announced roles, SMB port and shares are put on an :class:`AdvertBoard`
as the file service would (``files_advert``); SIGUSR1 adds a share
``late<N>`` to it. ``--advert TYPE:PORT[:SUBTYPE][:key=value]`` publishes a test-only
service's own DNS-SD record through the board. ``--state DIR`` keeps pinned
keys and the sequence number there (as an agent's home does).

``--forge`` announces a record whose id and public key are one key's but whose
signature is made by another (an impersonation a receiver must flag).
``--browse TYPE[,TYPE]`` announces nothing and prints each resolved service of
those types as ``{"event": "service-found", ...}`` (the third-party view).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from peerwork.agents.adverts import AdvertBoard, DnsSdRecord, ServiceAdvert
from peerwork.agents.discovery import DiscoveryService
from peerwork.agents.files import files_advert
from peerwork.config import DiscoverySection, PeerSection
from peerwork.identity import Identity
from peerwork.netif import list_interfaces, select_interfaces

if TYPE_CHECKING:
    from tests.helpers.netns import PC, NetnsLab


def out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


@dataclass(frozen=True, slots=True)
class ForgedIdentity(Identity):
    """Claims ``key``'s id and public key but signs with ``forger``."""

    forger: Ed25519PrivateKey | None = None

    def sign(self, data: bytes) -> bytes:
        assert self.forger is not None
        return self.forger.sign(data)


async def run_service(args: argparse.Namespace) -> int:
    identity = Identity.generate(args.name)
    if args.state:
        try:
            identity = Identity.load(Path(args.state) / "identity")
        except Exception:
            identity.save(Path(args.state) / "identity")
    if args.forge:
        identity = ForgedIdentity(identity.key, identity.cert_pem, Ed25519PrivateKey.generate())
    shares = [n for n in args.shares.split(",") if n]
    roles = tuple(r for r in args.roles.split(",") if r)
    board = AdvertBoard()
    board.set("roles", ServiceAdvert(roles=roles))
    if args.smb_port or shares:
        board.set("files", files_advert(args.smb_port, shares))
    if args.advert:
        # TYPE:PORT[:SUBTYPE][:key=value...]
        type_, port, *rest = args.advert.split(":")
        subtypes = tuple(r for r in rest if "=" not in r)
        txt = dict(r.split("=", 1) for r in rest if "=" in r)
        record = DnsSdRecord(type_, int(port), txt, subtypes)
        board.set("test", ServiceAdvert(roles=("test",), ports={"test": int(port)},
                                         records=(record,)))  # fmt: skip
    service: DiscoveryService

    def emit(kind: str, payload: dict[str, Any]) -> None:
        out({"event": kind, "payload": payload, "peers": [p.to_json() for p in service.peers()]})

    service = DiscoveryService(
        identity=identity,
        peer=PeerSection(args.name, args.workgroup),
        settings=DiscoverySection(True, tuple(i for i in args.iface.split(",") if i)),
        board=board,
        state_dir=Path(args.state) / "discovery" if args.state else None,
        emit=emit,
    )
    out({"event": "starting"})
    try:
        await service.start()
    except Exception:
        out({"event": "failed", "reason": service.reason})
        return 1
    out({"event": "ready", "details": service.details(), "peer_id": identity.peer_id})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def add_share() -> None:
        # SIGUSR1: a share appears while running, as 'peerwork share' would add one.
        shares.append(f"late{len(shares)}")
        board.set("files", files_advert(args.smb_port, shares))

    loop.add_signal_handler(signal.SIGUSR1, add_share)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.lifetime)
    except TimeoutError:
        out({"event": "lifetime-over"})
    await service.stop()
    out({"event": "stopped"})
    return 0


async def run_browser(args: argparse.Namespace) -> int:
    sel = select_interfaces(list_interfaces(), [i for i in args.iface.split(",") if i])
    azc = AsyncZeroconf(interfaces=list(sel.ipv4_addresses), ip_version=IPVersion.V4Only)
    types = [t if t.endswith(".") else t + ".local." for t in args.browse.split(",")]
    tasks: set[asyncio.Task[None]] = set()

    async def resolve(type_: str, name: str) -> None:
        info = AsyncServiceInfo(type_, name)
        if await info.async_request(azc.zeroconf, 2000):
            out(
                {
                    "event": "service-found",
                    "type": type_,
                    "name": name,
                    "server": info.server,
                    "port": info.port,
                    "addresses": info.parsed_addresses(IPVersion.V4Only),
                    "txt": {k: v for k, v in info.decoded_properties.items()},
                }
            )

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            task = asyncio.get_running_loop().create_task(resolve(service_type, name))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    browser = AsyncServiceBrowser(azc.zeroconf, types, handlers=[on_change])
    out({"event": "ready"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=args.lifetime)
    await browser.async_cancel()
    await azc.async_close()
    out({"event": "stopped"})
    return 0


class Runner:
    """A runner process started in a lab namespace, with its JSON lines collected by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.put(json.loads(line) | {"_t": time.monotonic()})

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float, what: str = "event"
    ) -> dict[str, Any]:
        """The first event (already seen or arriving within ``timeout`` s) that matches."""
        for event in self.seen:
            if match(event):
                return event
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(event)
            if match(event):
                return event
        raise AssertionError(
            f"no {what} within {timeout} s; events: {self.seen!r}; stderr: {self.stderr[-20:]!r}"
        )

    def peer(self, name: str, timeout: float) -> dict[str, Any]:
        """The table entry for ``name`` once it appears."""
        event = self.wait_for(
            lambda e: any(p["name"] == name for p in e.get("peers", [])), timeout, f"peer {name}"
        )
        return next(p for p in event["peers"] if p["name"] == name)


def start_runner(lab: NetnsLab, pc: PC | str, *args: str) -> Runner:
    """Start this script inside ``pc``'s namespace (stopped by the lab at teardown)."""
    proc = lab.popen(
        pc,
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    return Runner(proc)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="PC")
    parser.add_argument("--workgroup", default="OFFICE")
    parser.add_argument("--iface", default="eth0", help="comma list; empty: the default choice")
    parser.add_argument("--shares", default="")
    parser.add_argument("--roles", default="files")
    parser.add_argument("--smb-port", type=int, default=None)
    parser.add_argument("--forge", action="store_true")
    parser.add_argument("--browse", default="")
    parser.add_argument("--advert", default="", help="TYPE:PORT[:SUBTYPE...][:key=value...]")
    parser.add_argument("--state", default="", help="folder for identity, pins, seq")
    parser.add_argument("--lifetime", type=float, default=120, help="exit after this many s")
    args = parser.parse_args()
    return asyncio.run(run_browser(args) if args.browse else run_service(args))


if __name__ == "__main__":
    sys.exit(main())
