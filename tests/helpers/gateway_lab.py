"""The seed's topology in namespaces: the Internet (``wan``), a gateway PC, office PCs.

``wan`` (10.200.0.1/24 on ``up0``) runs dnsmasq as the upstream resolver
(authoritative for example.com: www.example.com → 10.200.0.1) and a TCP
server on 8080 that answers each connection with the address it came from.
The gateway namespace has ``wan0`` (10.200.0.2/24, default route via wan) and
``lan0`` on the LAN bridge with no address; the PCs' ``eth0`` is on the bridge
with no address either. Wan routes 192.168.0.0/16 via the gateway, as a
hostile ISP neighbour could, so "nothing from wan into the LAN" is a real test.
Everything lives in the lab's namespaces and goes with it.

DHCP clients get scripts of our own (:func:`client_script`) that set the
address and route inside the namespace and write what they got to a file:
the stock udhcpc/dhclient scripts would rewrite /etc/resolv.conf, which in a
namespace without /etc/netns/NS/ is the host's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.dnsmasq import dnsmasq_argv
from tests.helpers.netns import PC, NetnsLab

WAN_ADDRESS = "10.200.0.1"
UPLINK_ADDRESS = "10.200.0.2"
ECHO_PORT = 8080

ECHO_SERVER = f"""
import socket
srv = socket.create_server(("{WAN_ADDRESS}", {ECHO_PORT}))
srv.settimeout(600)
while True:
    conn, addr = srv.accept()
    conn.sendall(addr[0].encode())
    conn.close()
"""

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "ip=$ip router=$router dns=$dns domain=$domain search=$search" > "$0.out" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
"""

DHCLIENT_SCRIPT = """#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    ip addr flush dev "$interface"
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
    [ -n "$new_routers" ] && ip route replace default via "${new_routers%% *}" dev "$interface"
    echo "ip=$new_ip_address router=$new_routers dns=$new_domain_name_servers \
domain=$new_domain_name search=$new_domain_search" > "$0.out" ;;
esac
exit 0
"""


@dataclass
class GatewayLab:
    lab: NetnsLab
    wan: str
    gw: str
    home: Path
    agent: AgentProcess

    @property
    def pcs(self) -> list[PC]:
        return self.lab.pcs

    def gw_run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.lab.run(self.gw, list(argv), check=check)

    def peerwork(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return peerwork(self.home, *args, prefix=self.lab.argv(self.gw, []), check=check)

    def trace(self) -> dict[str, str]:
        """What enable may change and disable must restore, as text."""
        return {
            "addresses": self.gw_run("ip", "-4", "-o", "addr", "show").stdout,
            "routes": self.gw_run("ip", "route", "show").stdout,
            "nft": self.gw_run("nft", "list", "ruleset").stdout,
            "ip_forward": self.gw_run("sysctl", "-n", "net.ipv4.ip_forward").stdout,
        }


def client_script(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}-script.sh"
    path.write_text(UDHCPC_SCRIPT if kind == "udhcpc" else DHCLIENT_SCRIPT)
    path.chmod(0o755)
    return path


def lease_of(script: Path, timeout: float = 30) -> dict[str, str]:
    """What the client's script wrote once it was bound (key=value words)."""
    out = Path(f"{script}.out")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().strip():
            return dict(w.split("=", 1) for w in out.read_text().split() if "=" in w)
        time.sleep(0.1)
    raise AssertionError(f"{script.name}: no lease in {timeout}s")


def udhcpc(lab: NetnsLab, pc: PC, script: Path, hostname: str) -> subprocess.Popen[Any]:
    """busybox udhcpc in the foreground (it renews as long as it runs)."""
    return lab.popen(
        pc,
        ["udhcpc", "-f", "-i", pc.ifname, "-t", "10", "-T", "1", "-s", str(script),
         "-x", f"hostname:{hostname}", "-O", "search"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def dhclient(lab: NetnsLab, pc: PC, script: Path, hostname: str) -> subprocess.Popen[Any]:
    folder = script.parent
    conf = folder / f"dhclient-{pc.index}.conf"
    conf.write_text(
        f'send host-name "{hostname}";\n'
        "request subnet-mask, broadcast-address, routers, domain-name, "
        "domain-name-servers, domain-search, host-name;\n"
    )
    return lab.popen(
        pc,
        ["dhclient", "-d", "-1", "-cf", str(conf), "-sf", str(script),
         "-lf", str(folder / f"dhclient-{pc.index}.leases"),
         "-pf", str(folder / f"dhclient-{pc.index}.pid"), pc.ifname],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def build(lab: NetnsLab, tmp_path: Path, *, watch_seconds: float = 30.0) -> GatewayLab:
    wan = lab.add_namespace("wan")
    gw = lab.add_namespace("gw")
    lab.link(wan, "up0", gw, "wan0")
    lab.plug(gw, "lan0")
    run = lab.run
    run(wan, ["ip", "addr", "add", f"{WAN_ADDRESS}/24", "dev", "up0"])
    run(wan, ["ip", "route", "add", "192.168.0.0/16", "via", UPLINK_ADDRESS])
    run(gw, ["ip", "addr", "add", f"{UPLINK_ADDRESS}/24", "dev", "wan0"])
    run(gw, ["ip", "route", "add", "default", "via", WAN_ADDRESS])
    lab.popen(
        wan,
        dnsmasq_argv(
            f"--listen-address={WAN_ADDRESS}", "--bind-interfaces", "--local-ttl=300",
            f"--auth-server=ns.example.com,{WAN_ADDRESS}", "--auth-zone=example.com",
            f"--host-record=www.example.com,{WAN_ADDRESS}",
        ),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    lab.popen(wan, [sys.executable, "-c", ECHO_SERVER])
    home = tmp_path / "gw"
    prefix = lab.argv(gw, [])
    init_home(home, name="GW", workgroup="OFFICE", prefix=prefix)
    peerwork(home, "config", "set", "gateway.upstreams", f'["{WAN_ADDRESS}"]', prefix=prefix)
    peerwork(home, "config", "set", "gateway.probe_seconds", "4.5", prefix=prefix)
    peerwork(home, "config", "set", "gateway.watch_seconds", str(watch_seconds), prefix=prefix)
    for name in ("mail", "printers"):
        peerwork(home, "config", "set", f"{name}.enabled", "false", prefix=prefix)
    agent = AgentProcess(home, prefix=prefix)
    return GatewayLab(lab, wan, gw, home, agent)
