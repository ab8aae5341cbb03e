"""The gateway in the seed's topology (namespaces only): a real agent, real clients.

udhcpc (busybox) and dhclient (ISC) get leases; dig resolves the workgroup
zone, reverse names and an upstream name through the gateway; a TCP
connection from a PC reaches wan, which sees the gateway's uplink address;
wan can't reach a PC; plan changes nothing, disable leaves no trace; a PC
already using a pool address is skipped (ARP conflict check); a dnsmasq DHCP
server on the LAN makes the agent stand down, or is reported as rogue.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.dnsmasq import dnsmasq_argv
from tests.helpers.gateway_lab import (
    ECHO_PORT,
    UPLINK_ADDRESS,
    WAN_ADDRESS,
    GatewayLab,
    build,
    client_script,
    dhclient,
    lease_of,
    udhcpc,
)
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = [pytest.mark.root, pytest.mark.slow]

CONNECT = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
print(s.recv(100).decode())
"""
LISTEN = """
import socket
srv = socket.create_server(("0.0.0.0", 9000))
srv.settimeout(120)
conn, addr = srv.accept()
print(addr[0], flush=True)
"""


def dig(lab: GatewayLab, pc_index: int, *args: str) -> str:
    out = lab.lab.run(
        lab.pcs[pc_index - 1], ["dig", "@192.168.0.1", "+time=2", "+tries=2", *args], check=False
    )
    return out.stdout


def wait_for(condition, timeout: float = 20, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_gateway_leases_names_nat_and_no_trace(
    lab_factory: type[NetnsLab],  # noqa: F811
    tmp_path: Path,
) -> None:
    lab: NetnsLab = lab_factory(3, addressed=False)  # type: ignore[operator]
    gw = build(lab, tmp_path)
    pc1, pc2, pc3 = gw.pcs
    # pc3 holds .2 by hand: the first pool address, which must not be offered to others.
    lab.run(pc3, ["ip", "addr", "add", "192.168.0.2/24", "dev", "eth0"])
    with gw.agent:
        before = gw.trace()
        plan = gw.peerwork("gateway", "plan", "--uplink", "wan0", "--lan", "lan0")
        text = plan.stdout
        for expected in (
            "192.168.0.1/24",
            "192.168.0.2-192.168.0.254",
            "ip addr add 192.168.0.1/24 dev lan0",
            "sysctl -q -w net.ipv4.ip_forward=1",
            "table inet peerwork",
            "masquerade",
            "Nothing was changed.",
        ):
            assert expected in text, text
        assert gw.trace() == before, "plan changed something"

        enabled = gw.peerwork("gateway", "enable", "--uplink", "wan0", "--lan", "lan0")
        assert "Gateway enabled" in enabled.stdout
        assert gw.trace()["ip_forward"].strip() == "1"
        assert "masquerade" in gw.trace()["nft"]
        status = json.loads(gw.peerwork("gateway", "status", "--json").stdout)
        assert status["details"]["mode"] == "active"

        s1, s2 = client_script(tmp_path, "udhcpc"), client_script(tmp_path, "dhclient")
        udhcpc(lab, pc1, s1, "pc1")
        dhclient(lab, pc2, s2, "pc2")
        got1, got2 = lease_of(s1), lease_of(s2)
        assert got1["ip"] != got2["ip"]
        assert "192.168.0.2" not in (got1["ip"], got2["ip"]), "conflict check missed pc3"
        for got in (got1, got2):
            assert got["ip"].startswith("192.168.0.")
            assert got["router"] == "192.168.0.1" and got["dns"] == "192.168.0.1"
            assert got["domain"] == "office.lan"
        assert got1["search"] == "office.lan"  # option 119, asked for with -O search

        leases = gw.peerwork("gateway", "leases").stdout
        assert got1["ip"] in leases and "pc1" in leases and "pc2" in leases
        assert json.loads((gw.home / "leases.json").read_text())["leases"]

        # Names through the gateway: the zone, reverse, upstream.
        assert dig(gw, 1, "pc2.office.lan", "+short").strip() == got2["ip"]
        assert dig(gw, 2, "-x", got1["ip"], "+short").strip() == "pc1.office.lan."
        assert dig(gw, 1, "www.example.com", "+short").strip() == WAN_ADDRESS
        assert dig(gw, 1, "+tcp", "pc1.office.lan", "+short").strip() == got1["ip"]
        # From outside the LAN: refused.
        outside = lab.run(gw.wan, ["dig", "@192.168.0.1", "+time=2", "www.example.com"])
        assert "status: REFUSED" in outside.stdout

        # NAT: wan sees the gateway's uplink address.
        seen = lab.run(pc1, [sys.executable, "-c", CONNECT, WAN_ADDRESS, str(ECHO_PORT)])
        assert seen.stdout.strip() == UPLINK_ADDRESS
        # Nothing from wan into the LAN, though wan routes the LAN via the gateway.
        listener = lab.popen(pc1, [sys.executable, "-c", LISTEN], stdout=subprocess.PIPE)
        time.sleep(0.5)
        attempt = lab.run(gw.wan, [sys.executable, "-c", CONNECT, got1["ip"], "9000"], check=False)
        assert attempt.returncode != 0, attempt.stdout
        assert listener.poll() is None

        # The agent keeps serving after junk on both ports.
        junk = "import socket,os\nfor port in (67, 53):\n" + (
            "    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "    s.sendto(os.urandom(300),('192.168.0.1',port))\n"
        )
        lab.run(pc1, [sys.executable, "-c", junk])
        assert dig(gw, 1, "pc1.office.lan", "+short").strip() == got1["ip"]

        gw.peerwork("gateway", "disable")
        after = gw.trace()
        assert after == before, f"disable left a trace:\n{before}\n---\n{after}"


def test_stands_down_before_dnsmasq_then_reports_it_as_rogue(
    lab_factory: type[NetnsLab],  # noqa: F811
    tmp_path: Path,
) -> None:
    lab: NetnsLab = lab_factory(1, addressed=False)  # type: ignore[operator]
    gw = build(lab, tmp_path, watch_seconds=1.0)
    router = lab.add_namespace("router")
    lab.plug(router, "eth0")
    lab.run(router, ["ip", "addr", "add", "192.168.0.254/24", "dev", "eth0"])

    def start_dnsmasq() -> subprocess.Popen[bytes]:
        return lab.popen(
            router,
            dnsmasq_argv(
                "--port=0", "--interface=eth0", "--bind-interfaces",
                "--dhcp-range=192.168.0.100,192.168.0.150,1h", "--dhcp-authoritative",
                "--dhcp-option=option:dns-server,192.168.0.254",
            ),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    dnsmasq = start_dnsmasq()
    time.sleep(1)
    with gw.agent:
        before = gw.trace()
        refused = gw.peerwork("gateway", "enable", "--uplink", "wan0", "--lan", "lan0", check=False)
        assert refused.returncode != 0
        assert "stands down" in refused.stderr and "192.168.0.254" in refused.stderr
        assert gw.trace() == before, "standing down changed something"
        status = gw.peerwork("gateway", "status").stdout
        assert "standing-down" in status and "192.168.0.254" in status
        found = json.loads(gw.peerwork("gateway", "status", "--json").stdout)["details"]
        server = found["dhcp_servers_found"][0]
        assert server["server_id"] == "192.168.0.254" and server["routers"] == ["192.168.0.254"]
        assert server["dns"] == ["192.168.0.254"]

        # The LAN's server goes away: enable works; when it comes back it is a rogue.
        dnsmasq.terminate()
        dnsmasq.wait(10)

        def mode() -> str:
            return str(
                json.loads(gw.peerwork("gateway", "status", "--json").stdout)["details"]["mode"]
            )

        wait_for(lambda: mode() == "idle", 30, "the agent to see the LAN's gateway gone")
        gw.peerwork("gateway", "enable", "--uplink", "wan0", "--lan", "lan0")
        start_dnsmasq()

        def reported() -> bool:
            details = json.loads(gw.peerwork("gateway", "status", "--json").stdout)["details"]
            return any(r["server_id"] == "192.168.0.254" for r in details["rogue"])

        wait_for(reported, 30, "the rogue DHCP server to be reported")
        shown = gw.peerwork("gateway", "status")
        assert "rogue DHCP server 192.168.0.254" in shown.stderr
        gw.peerwork("gateway", "disable")
        assert gw.trace() == before


def raw_client(gw: GatewayLab, steps: list[dict[str, object]]) -> list[dict[str, object]]:
    out = gw.lab.run(
        gw.pcs[0],
        [sys.executable, "-m", "tests.helpers.dhcp_client", "eth0", json.dumps(steps)],
        cwd=str(Path(__file__).parents[2]),
        timeout=60,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_hostile_dhcp_clients_and_restart_keeps_leases(
    lab_factory: type[NetnsLab],  # noqa: F811
    tmp_path: Path,
) -> None:
    lab: NetnsLab = lab_factory(1, addressed=False)  # type: ignore[operator]
    gw = build(lab, tmp_path)
    # The PC speaks for three fake clients; its own hand-set address (outside the pool)
    # is only for asking DNS.
    lab.run(gw.pcs[0], ["ip", "addr", "add", "192.168.0.50/24", "dev", "eth0"])
    a, b, c = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"
    server = "192.168.0.1"
    with gw.agent:
        before = gw.trace()
        gw.peerwork(
            "gateway", "enable", "--uplink", "wan0", "--lan", "lan0",
            "--pool", "192.168.0.10-192.168.0.11",
        )  # fmt: skip
        offers = raw_client(gw, [{"type": "DISCOVER", "mac": a}, {"type": "DISCOVER", "mac": b}])
        xa, xb = (str(o["yiaddr"]) for o in offers)
        assert {xa, xb} == {"192.168.0.10", "192.168.0.11"}
        results = raw_client(
            gw,
            [
                {"type": "REQUEST", "mac": a, "requested": xa, "server": server, "hostname": "pca"},
                {"type": "REQUEST", "mac": b, "requested": xb, "server": server},
                {"type": "DISCOVER", "mac": c},  # pool exhausted: no offer
                {"type": "REQUEST", "mac": c, "requested": xa},  # A's address
                {"type": "DECLINE", "mac": c, "requested": xa, "server": server},  # spoofed
                {"type": "REQUEST", "mac": c, "requested": "10.9.9.9"},  # not our network
                {"raw": "01" * 300, "wait": 1},  # junk
                {"raw": "", "wait": 1},
                # A reboots and asks for its address again (a RENEW would be unicast to
                # an address this fake client does not hold).
                {"type": "REQUEST", "mac": a, "requested": xa},
            ],
        )
        replies = [r["reply"] for r in results]
        assert replies == ["ACK", "ACK", None, "NAK", None, "NAK", None, None, "ACK"], results
        assert "leased to" in str(results[3]["message"])
        assert results[8]["yiaddr"] == xa
        log = gw.agent.log_text()
        assert "pool exhausted" in log and "spoofed" in log
        leases = gw.peerwork("gateway", "leases", "--json").stdout
        rows = {r["address"]: r for r in json.loads(leases)}
        assert (
            rows[xa]["mac"] == a and rows[xa]["state"] == "bound" and rows[xa]["hostname"] == "pca"
        )
        assert dig(gw, 1, "pca.office.lan", "+short").strip() == xa
        # A reservation takes effect without a restart: C, refused before, gets its address.
        gw.peerwork("config", "set", "gateway.reservations", f'{{ "{c}" = "192.168.0.60" }}')
        reserved = raw_client(
            gw,
            [
                {"type": "DISCOVER", "mac": c},
                {"type": "REQUEST", "mac": c, "requested": "192.168.0.60", "server": server},
            ],
        )
        assert [r["yiaddr"] for r in reserved] == ["192.168.0.60", "192.168.0.60"], reserved
    # Stopping the agent undoes what enable did; the wish and the leases stay on disk.
    assert gw.trace() == before
    with gw.agent:

        def active() -> bool:
            status = json.loads(gw.peerwork("gateway", "status", "--json").stdout)
            return status["details"]["mode"] == "active"

        wait_for(active, 30, "the gateway to be enabled again after a restart")
        rows = {
            r["address"]: r for r in json.loads(gw.peerwork("gateway", "leases", "--json").stdout)
        }
        assert rows[xa]["mac"] == a and rows[xb]["mac"] == b
        again = raw_client(gw, [{"type": "REQUEST", "mac": b, "requested": xb}])
        assert again[0]["reply"] == "ACK" and again[0]["yiaddr"] == xb
        gw.peerwork("gateway", "disable")
    assert gw.trace() == before
