#!/usr/bin/env python3
"""The gateway's DNS and DHCP servers vs dnsmasq, same work, side by side.

Not a test: run by hand as root with dnsmasq and dnsperf installed::

    .venv/bin/python bench/gateway.py [--seconds 10] [--names 50] [--clients 4]
                                      [--leases 250] [--failovers 3]
                                      [--skip dns|dhcp|failover]...

DNS:
On 127.0.0.1 and free ports: an upstream dnsmasq, authoritative for
example.com with ``--names`` hosts; a dnsmasq with the same ``--names`` local
names as ``office.lan`` and forwarding to the upstream; and peerwork's
``DnsServer`` (the gateway's, as the agent builds it: a zone of the same
names, the same upstream) in its own process. Two workloads each: local
names, and upstream names after one warm-up pass (so both answer from their
caches). Queries per second come from ``dnsperf -c CLIENTS -l SECONDS``; p99
latency from 2,000 sequential queries by one Python client on an otherwise
idle server (dnsperf 2.10 prints no percentiles). Prints the peerwork/dnsmasq
ratios.

DHCP: in namespaces of its own (a server namespace and a client namespace on
a bridge), ``bench/dhcp_load.py`` leases ``--leases`` made-up clients
(DISCOVER/OFFER/REQUEST/ACK, at most 64 in flight) from dnsmasq
``--no-ping``, then from peerwork's ``DhcpServer`` with its ARP conflict
check on (every offer probed, 0.5 s each, concurrently) and leases.json
written; prints leases/s and the ratio.

Failover: two real agents as gateway and standby
(``tests/helpers/gateway_pair.py``: uplinks into a ``wan`` bridge, legs on a
LAN bridge); ``--failovers`` times the gateway's agent is killed with SIGKILL
and the seconds until the standby serves are printed (goal < 5 s, limit 10
s). After each, the killed agent is started again (it stands by) and the roles
swap for the next round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.dnsmasq import dnsmasq_argv  # noqa: E402
from tests.helpers.ports import unused_udp_port  # noqa: E402

RUNNER = """
import asyncio, sys
from ipaddress import IPv4Address, IPv4Network
from peerwork.agents.gateway.dns_server import DnsServer
from peerwork.agents.gateway.dns_zone import Zone

port, upstream, names = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
zone = Zone(
    "office.lan", IPv4Network("192.168.0.0/24"), IPv4Address("192.168.0.1"),
    {f"pc{i}": (IPv4Address(f"192.168.0.{i + 2}"),) for i in range(names)},
)

async def main() -> None:
    dns = DnsServer(zone, [("127.0.0.1", upstream)], bind="127.0.0.1", port=port)
    await dns.start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextlib.contextmanager
def process(argv: list[str], **kw: object) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, start_new_session=True, **kw)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def query(name: str, qid: int) -> bytes:
    labels = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    return (
        qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\0\1\0\1"
    )


def wait_answer(port: int, name: str) -> None:
    deadline = time.monotonic() + 10
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            sock.sendto(query(name, 7), ("127.0.0.1", port))
            with contextlib.suppress(OSError):
                if len(sock.recv(4096)) > 12:
                    return
    raise SystemExit(f"nothing answers {name} on port {port}")


def p99_ms(port: int, names: list[str], count: int = 2000) -> float:
    times = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.1", port))
        for i in range(count):
            start = time.perf_counter()
            sock.send(query(names[i % len(names)], i & 0xFFFF))
            sock.recv(4096)
            times.append(time.perf_counter() - start)
    return statistics.quantiles(times, n=100)[98] * 1000


def dnsperf(port: int, names_file: Path, clients: int, seconds: int) -> float:
    out = subprocess.run(
        ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(names_file),
         "-c", str(clients), "-l", str(seconds), "-q", "200"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"Queries per second:\s+([\d.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    if found is None:
        raise SystemExit(f"dnsperf said:\n{out}")
    if lost and int(lost.group(1)):
        print(f"  (port {port}: {lost.group(1)} queries lost)")
    return float(found.group(1))


DHCP_RUNNER = """
import asyncio, sys, tempfile
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from peerwork.agents.gateway.arp_probe import ArpProber
from peerwork.agents.gateway.dhcp_leases import PoolConfig
from peerwork.agents.gateway.dhcp_server import DhcpServer
from peerwork.agents.gateway.lease_store import LeaseStore

async def main() -> None:
    pool = PoolConfig(IPv4Address("192.168.0.1"), IPv4Network("192.168.0.0/24"),
                      IPv4Address("192.168.0.2"), IPv4Address("192.168.0.254"))
    store = LeaseStore(Path(sys.argv[1]) / "leases.json")
    server = DhcpServer(pool, store, "lan0", prober=ArpProber("lan0", pool.server))
    await server.start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def dhcp_bench(leases: int) -> dict[str, float]:
    from tests.helpers.netns import NetnsLab

    results: dict[str, float] = {}
    with NetnsLab(1, addressed=False) as lab, tempfile.TemporaryDirectory() as tmp:
        server = lab.add_namespace("srv")
        lab.plug(server, "lan0")
        lab.run(server, ["ip", "addr", "add", "192.168.0.1/24", "dev", "lan0"])
        load = [
            sys.executable,
            str(REPO / "bench" / "dhcp_load.py"),
            "eth0",
            str(leases),
            "64",
            "60",
        ]
        for label in ("dnsmasq", "peerwork"):
            folder = Path(tmp, label)
            folder.mkdir()
            if label == "dnsmasq":
                argv = dnsmasq_argv(
                    "--port=0",
                    "--interface=lan0",
                    "--bind-interfaces",
                    "--no-ping",
                    "--dhcp-range=192.168.0.2,192.168.0.254,1h",
                    "--dhcp-authoritative",
                    f"--dhcp-leasefile={folder}/dnsmasq.leases",
                )
            else:
                argv = [sys.executable, "-c", DHCP_RUNNER, str(folder)]
            proc = lab.popen(server, argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            out = lab.run(lab.pcs[0], load, timeout=120).stdout
            result = json.loads(out)
            if result["leased"] != leases or result["distinct"] != leases:
                print(f"  {label}: {result}")
            results[label] = result["leased"] / result["seconds"]
            proc.terminate()
            proc.wait(10)
    return results


def failover_bench(rounds: int) -> list[float]:
    from tests.helpers.gateway_pair import (
        arm_pair,
        build_pair,
        details,
        join_pair,
        kill_and_time_takeover,
        wait,
        wait_pushed,
    )
    from tests.helpers.netns import NetnsLab

    times: list[float] = []
    with NetnsLab(0, addressed=False) as lab, tempfile.TemporaryDirectory() as tmp:
        gw1, gw2 = build_pair(lab, Path(tmp))
        try:
            gw1.start()
            gw2.start()
            join_pair(gw1, gw2)
            arm_pair(gw1, gw2)
            active, standby = gw1, gw2
            for _ in range(rounds):
                times.append(kill_and_time_takeover(active, standby))
                active.start()
                wait(
                    "the killed gateway standing by",
                    lambda back=active: details(back)["mode"] == "standby",  # type: ignore[misc]
                )
                wait_pushed(active)
                active, standby = standby, active
        finally:
            gw2.stop()
            gw1.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--names", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--leases", type=int, default=250)
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[], choices=["dns", "dhcp", "failover"])
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (dnsmasq runs as root here)")
    if "dhcp" not in args.skip:
        rates = dhcp_bench(args.leases)
        ref, ours = rates["dnsmasq"], rates["peerwork"]
        print(f"\nDHCP, {args.leases} clients, 64 in flight")
        print(f"dnsmasq --no-ping {ref:.0f} leases/s, peerwork (conflict check on) "
              f"{ours:.0f} leases/s, ratio {ours / ref:.2f}")  # fmt: skip
    if "failover" not in args.skip and args.failovers > 0:
        times = failover_bench(args.failovers)
        print(f"\nFailover, {len(times)} x SIGKILL of the gateway's agent")
        print("standby serving after " + ", ".join(f"{t:.2f}" for t in times)
              + f" s; worst {max(times):.2f} s (goal 5, limit 10)")  # fmt: skip
    if "dns" in args.skip:
        return
    n = args.names
    local = [f"pc{i}.office.lan" for i in range(n)]
    remote = [f"host{i}.example.com" for i in range(n)]
    upstream, ref, ours = unused_udp_port(), unused_udp_port(), unused_udp_port()
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for kind, names in (("local", local), ("upstream", remote)):
            files[kind] = Path(tmp, f"{kind}.txt")
            files[kind].write_text("".join(f"{x} A\n" for x in names))
        up_records = [
            f"--host-record=host{i}.example.com,10.1.{i // 250}.{i % 250 + 1}" for i in range(n)
        ]
        ref_records = [f"--host-record=pc{i}.office.lan,192.168.0.{i + 2}" for i in range(n)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        with (
            process(
                dnsmasq_argv(
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    f"--port={upstream}",
                    "--auth-server=ns.example.com,127.0.0.1",
                    "--auth-zone=example.com",
                    "--local-ttl=3600",
                    "--auth-ttl=3600",
                    *up_records,
                ),
                **quiet,
            ),
            process(
                dnsmasq_argv(
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    f"--port={ref}",
                    f"--server=127.0.0.1#{upstream}",
                    "--local-ttl=60",
                    "--cache-size=10000",
                    *ref_records,
                ),
                **quiet,
            ),
            process([sys.executable, "-c", RUNNER, str(ours), str(upstream), str(n)], **quiet),
        ):
            for port in (upstream, ref, ours):
                wait_answer(port, "host0.example.com")
            rows = []
            for kind, names in (("local names", local), ("cached upstream", remote)):
                file = files["local" if kind == "local names" else "upstream"]
                result = {}
                for label, port in (("dnsmasq", ref), ("peerwork", ours)):
                    for name in names:  # warm the caches
                        wait_answer(port, name)
                    qps = dnsperf(port, file, args.clients, args.seconds)
                    result[label] = (qps, p99_ms(port, names))
                rows.append((kind, result))
    print(f"\nDNS, {n} names, dnsperf -c {args.clients} -l {args.seconds}, loopback")
    print(f"{'workload':<18}{'dnsmasq qps':>13}{'peerwork qps':>14}{'ratio':>7}"
          f"{'dnsmasq p99':>13}{'peerwork p99':>14}")  # fmt: skip
    for kind, r in rows:
        (dq, dp), (pq, pp) = r["dnsmasq"], r["peerwork"]
        print(f"{kind:<18}{dq:>13.0f}{pq:>14.0f}{pq / dq:>7.2f}{dp:>11.2f}ms{pp:>12.2f}ms")


if __name__ == "__main__":
    main()
