"""A control API with fixed answers, for snapshot tests of the terminal UI only.

Screens must render the same picture on every run, so the answers cannot come from a
live agent (random ports, uptimes, timestamps). Every answer is built with the real
models' ``to_json`` (what the agent itself sends) and served over a real Unix socket
by aiohttp, so the UI's client, decoding and watcher run unchanged. Behaviour tests
use the real agent (tests/integration/test_tui*.py); this never stands in for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from peerwork.models import AgentStatus, Peer, PeerIdentity, PeerTrust, ServiceState, ServiceStatus
from peerwork.shares import Access, Share

RUNNING, DISABLED, FAILED = ServiceState.RUNNING, ServiceState.DISABLED, ServiceState.FAILED

SERVICES = (
    ServiceStatus(
        "files", RUNNING, ports={"smb": 445}, details={"bind": "0.0.0.0"},
        notes=("anonymous (no logon): none — anonymous logons are refused",),
    ),
    ServiceStatus(
        "printers", RUNNING, ports={"ipp": 631},
        details={"printers": [{"name": "Laser", "backend": "file:/var/spool/pdf",
                               "jobs_waiting": 1, "uri": "ipp://10.0.0.1:631/ipp/print/Laser"}]},
    ),
    ServiceStatus("channel", RUNNING, ports={"ctl": 7445}),
    ServiceStatus(
        "mail", FAILED,
        reason="port 25 is taken by another program (address already in use)",
    ),
    ServiceStatus(
        "discovery", RUNNING, ports={"mdns": 5353},
        details={"interfaces": [{"name": "eth0", "ipv4": ["10.0.0.1"]}]},
        warnings=("another PC on the LAN is already called FRONTDESK; this PC is announced "
                  "as FRONTDESK-2. Give it a unique name in peerwork.toml ([peer] name).",),
    ),
    ServiceStatus("wsdiscovery", DISABLED, reason="off in peerwork.toml"),
    ServiceStatus(
        "account_sync", RUNNING, summary="1 in-sync, 1 unreachable",
        details={"accounts": 3, "interval": 60, "refused": 0, "peers": [
            {"peer_id": "id-cash", "name": "CASHDESK", "state": "in-sync", "behind": 0,
             "last_sync": None, "error": ""},
            {"peer_id": "id-accounts", "name": "ACCOUNTS", "state": "unreachable", "behind": 2,
             "last_sync": None, "error": "connection refused"},
        ], "conflicts": [
            {"name": "bob", "kind": "password", "kept": {"origin": "id-cash"},
             "lost": {"origin": "id-accounts"}},
        ]},
    ),
)  # fmt: skip

STATUS = AgentStatus(
    peer=PeerIdentity("FRONTDESK", "OFFICE", "aaaabbbbccccddddeeeeffffgggghhhh", "alice"),
    version="0.1.0",
    protocol=1,
    pid=1234,
    home="/var/lib/peerwork",
    uptime=60.0,
    services=SERVICES,
    shares=2,
    peers=2,
)

PEERS = (
    Peer(
        "ACCOUNTS", "id-accounts", "OFFICE", ("10.0.0.12",), 445, {"smb": 445, "ipp": 631},
        ("files", "printers"), ("Invoices", "Scans"), state=PeerTrust.VERIFIED,
    ),
    Peer(
        "BACKOFFICE", "id-back", "OFFICE", ("10.0.0.13",), 445, {"smb": 445}, ("files",),
        ("Archive",), state=PeerTrust.IMPOSTOR,
        problem="claims BACKOFFICE with a different key",
    ),
    Peer(
        "CASHDESK", "id-cash", "OFFICE", ("10.0.0.14",), 445, {"smb": 445}, ("files",),
        ("Till",), state=PeerTrust.MEMBER,
    ),
    Peer(
        "LAPTOP", "id-laptop", "OFFICE", ("10.0.0.15",), 445, {"smb": 445}, ("files",),
        (), state=PeerTrust.NOT_A_MEMBER,
    ),
    Peer(
        "OLDPC", "id-old", "OFFICE", ("10.0.0.16",), 445, {"smb": 445}, ("files",),
        (), state=PeerTrust.REVOKED,
    ),
)  # fmt: skip

SHARES = (
    Share(
        "Documents", Path("/home/alice/Documents"), "Office papers",
        {"alice": Access.FULL, "everyone": Access.READ},
    ),
    Share("Scans", Path("/srv/scans"), "", {"bob": Access.CHANGE, "anonymous": Access.READ}),
)  # fmt: skip

ACCOUNTS = ("alice", "bob", "carol")
JOBS = (
    {"id": 7, "printer": "Laser", "state": 3, "user": "bob", "name": "invoice.pdf", "message": ""},
)
INBOX = (
    {"id": "1", "size": 2048, "from": "bob@office.lan", "to": "alice@office.lan",
     "subject": "Minutes of Monday", "date": "", "seen": False},
)  # fmt: skip

GATEWAY_PLAN = {
    "uplink": "wan0",
    "lan": "lan0",
    "lan_address": "192.168.0.1/24",
    "pool": ["192.168.0.2", "192.168.0.254"],
    "upstreams": ["10.0.0.254"],
    "steps": [
        {
            "kind": "address",
            "text": "give lan0 the address 192.168.0.1/24",
            "apply": [["ip", "addr", "add", "192.168.0.1/24", "dev", "lan0"]],
            "undo": [["ip", "addr", "del", "192.168.0.1/24", "dev", "lan0"]],
            "stdin": "",
        },
        {
            "kind": "forward",
            "text": "forward IPv4 between interfaces",
            "apply": [["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]],
            "undo": [["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]],
            "stdin": "",
        },
    ],
    "problems": [],
    "notes": [],
    "ok": True,
}
GATEWAY = {
    "name": "gateway",
    "state": "running",
    "reason": "",
    "ports": {"dns": 53, "dhcp": 67},
    "details": {
        "mode": "active",
        "configured": {"uplink": "wan0", "lan": "lan0"},
        "recognised": [],
        "rogue": [
            {"server_id": "192.168.0.250", "source": "192.168.0.250", "offered": "192.168.0.77"}
        ],
        "plan": GATEWAY_PLAN,
        "domain": "office.lan",
        "dhcp": None,
        "dns": None,
        "leases": 1,
    },
}
LEASES = (
    {"address": "192.168.0.10", "mac": "52:54:00:12:34:56", "hostname": "frontdesk",
     "state": "bound", "expires": 1767225600.0 + 3600, "active": True},
)  # fmt: skip

INVITE = {"code": "PW1-7KQD-M2XA-93HF-RT5C", "issuer": "FRONTDESK", "expires": 1767225600.0 + 900}

PEER_PRINTERS = {"ACCOUNTS": ("Colour",)}


def _routes(peers: tuple[Peer, ...]) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    def answer(data: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(data)

        return handler

    share_rows = [s.to_json() | {"problem": ""} for s in SHARES]
    routes.get("/v1/status")(answer(STATUS.to_json()))
    # The agent's peer rows also carry the printers a PC announces (agents/peer_table.py).
    rows = [p.to_json() | {"printers": list(PEER_PRINTERS.get(p.name, ()))} for p in peers]
    routes.get("/v1/peers")(answer({"peers": rows}))
    routes.get("/v1/shares")(answer({"shares": share_rows}))
    routes.get("/v1/accounts")(answer({"accounts": [{"name": a} for a in ACCOUNTS]}))
    routes.get("/v1/printers")(answer(SERVICES[1].to_json()))
    routes.get("/v1/jobs")(answer({"jobs": list(JOBS)}))
    routes.get("/v1/mail/inbox/{account}")(answer({"messages": list(INBOX)}))
    routes.post("/v1/trust/invite")(answer(INVITE))
    routes.get("/v1/gateway")(answer(GATEWAY))
    routes.get("/v1/gateway/leases")(answer({"leases": list(LEASES)}))
    routes.post("/v1/gateway/plan")(answer(GATEWAY_PLAN | {"recognised": []}))

    @routes.get("/v1/events")
    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                await resp.write(b": keep-alive\n\n")
                await asyncio.sleep(5)
        return resp

    return routes


@contextlib.contextmanager
def canned_agent(home: Path, peers: tuple[Peer, ...] = PEERS) -> Iterator[Path]:
    """Serve the fixed answers on ``home``/agent.sock (in a thread) until the block ends;
    ``peers``: what ``/v1/peers`` lists instead of the usual two."""
    home.mkdir(parents=True, exist_ok=True)
    socket = home / "agent.sock"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    app = web.Application()
    app.add_routes(_routes(peers))
    runner = web.AppRunner(app, shutdown_timeout=0.5)

    async def start() -> None:
        await runner.setup()
        await web.UnixSite(runner, str(socket)).start()
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)

    async def stop() -> None:
        await runner.cleanup()
        # The event stream's handler is still waiting: end it before the loop goes.
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    try:
        yield socket
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
