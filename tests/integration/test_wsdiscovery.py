"""WS-Discovery from a second PC: the real wsdd finds PC1 in its workgroup and hears its Bye;
a flood of garbage (plain sockets, bounded) leaves the responder answering.

Two network namespaces on a bridge (``lab_factory``); a real ``peerwork agent``
on PC1 with discovery on ``eth0``. Nothing leaves the lab's namespaces.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root


def _agent(
    lab: NetnsLab,
    tmp_path: Path,
    interfaces: list[str],
    address_check: float = 10,
    ipv6: bool = False,
) -> AgentProcess:
    pc = lab.pc(1)
    home = tmp_path / "pc1"
    prefix = lab.argv(pc, [])
    init_home(home, name="PC1", workgroup="OFFICE", smb_port=4445, bind="0.0.0.0",
              discovery=True, interfaces=interfaces, prefix=prefix)  # fmt: skip
    doc = tomlkit.parse((home / "peerwork.toml").read_text())
    doc["discovery"]["address_check"] = address_check  # type: ignore[index]
    doc["wsdiscovery"]["ipv6"] = ipv6  # type: ignore[index]
    (home / "peerwork.toml").write_text(tomlkit.dumps(doc))
    return AgentProcess(home, prefix=prefix)


def _wsdd(lab: NetnsLab, log: Path, family: str = "-4") -> None:
    with log.open("wb") as out:
        lab.popen(lab.pc(2), ["wsdd", family, "-i", "eth0", "-D", "-o", "-v"],
                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _wait_for(path: Path, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"no {pattern!r} in {timeout}s:\n{path.read_text(errors='replace')}")


def test_wsdd_discovers_pc1_in_its_workgroup_and_hears_bye(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab = lab_factory(2)
    pc1 = lab.pc(1)
    agent = _agent(lab, tmp_path, ["eth0"])
    with agent:
        status = json.loads(peerwork(agent.home, "status", "--json").stdout)
        wsd = next(s for s in status["services"] if s["name"] == "wsdiscovery")
        assert wsd["state"] == "running", wsd
        assert wsd["ports"] == {"wsd": 3702, "wsd-http": 5357}
        assert wsd["details"]["computer"] == "PC1/Workgroup:OFFICE"
        # wsdd starts after PC1's Hello and its repeats (at most ~1.3 s) are over, so it
        # learns of PC1 by Probe -> ProbeMatches -> Resolve -> ResolveMatches -> Get.
        time.sleep(2)
        log = tmp_path / "wsdd.log"
        _wsdd(lab, log)
        text = _wait_for(
            log, rf"discovered PC1 in Workgroup:OFFICE on {re.escape(pc1.address)}%eth0", 20
        )
        for action in ("ProbeMatches", "ResolveMatches"):
            assert f'{pc1.address}:3702(eth0) - - "{action} urn:uuid:' in text
        assert '"Hello urn:uuid:' not in text
        counters = agent.service("wsdiscovery")["details"]["counters"]
        assert counters["answered"] >= 2  # the Probe and the Resolve
        assert counters["get"] >= 1
    # A clean stop says Bye (wsdd logs every datagram it handles).
    _wait_for(log, rf'{re.escape(pc1.address)}:3702\(eth0\) - - "Bye urn:uuid:', 5)


def test_wsdd_discovers_pc1_over_ipv6_link_local(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(2)
    log = tmp_path / "wsdd.log"
    pc1, ll = lab.pc(1), "fe80::77"
    # PC1's link-local address is new and stays tentative (duplicate address detection)
    # for ~8 s, so it cannot be bound at start: the service must take it up once it can.
    lab.run(pc1, ["sysctl", "-qw", "net.ipv6.conf.eth0.dad_transmits=8"])
    lab.run(pc1, ["ip", "-6", "addr", "flush", "dev", "eth0", "scope", "link"])
    lab.run(pc1, ["ip", "-6", "addr", "add", f"{ll}/64", "dev", "eth0"])
    with _agent(lab, tmp_path, ["eth0"], address_check=0.5, ipv6=True) as agent:
        details = agent.service("wsdiscovery")["details"]
        assert details["interfaces"] == [{"name": "eth0", "ipv4": pc1.address}]
        assert list(details["problems"]) == [f"eth0 {ll}"]
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            details = agent.service("wsdiscovery")["details"]
            if len(details["interfaces"]) == 2:
                break
            time.sleep(0.2)
        assert details["interfaces"][1] == {"name": "eth0", "ipv6": ll}, details
        assert details["problems"] == {}
        _wsdd(lab, log, "-6")
        _wait_for(log, rf"discovered PC1 in Workgroup:OFFICE on \[{re.escape(ll)}\]%eth0", 20)
    _wait_for(log, rf'{re.escape(ll)}:3702\(eth0\) - - "Bye urn:uuid:', 5)


def test_new_address_gets_a_new_hello(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(2)
    pc1 = lab.pc(1)
    new = pc1.address.rsplit(".", 1)[0] + ".101"
    log = tmp_path / "wsdd.log"
    with _agent(lab, tmp_path, ["eth0"], address_check=0.5) as agent:
        _wsdd(lab, log)
        _wait_for(log, rf"discovered PC1 in Workgroup:OFFICE on {re.escape(pc1.address)}%", 20)

        def ip(*args: str) -> None:
            lab.run(pc1, ["ip", *args])

        ip("addr", "del", f"{pc1.address}/24", "dev", "eth0")
        ip("addr", "add", f"{new}/24", "dev", "eth0")
        ip("route", "replace", "224.0.0.0/4", "dev", "eth0")
        # wsdd hears the Hello from the new address and fetches the metadata there.
        _wait_for(log, rf"discovered PC1 in Workgroup:OFFICE on {re.escape(new)}%", 15)
        wsd = agent.service("wsdiscovery")
        assert wsd["state"] == "running"
        assert wsd["details"]["interfaces"] == [{"name": "eth0", "ipv4": new}]


# Runs inside PC2's namespace with plain sockets and urllib; prints one JSON report.
_ATTACKER = r"""
import json, os, random, socket, struct, sys, time, urllib.error, urllib.request, uuid
from peerwork.proto import wsd

me, target, endpoint, foreign = sys.argv[1:5]
rnd = random.Random(1)
good = open(sys.argv[5], "rb").read()  # wsdd's captured Probe

def probe_bytes():
    return wsd.pack(wsd.Message(wsd.Header(uuid.uuid4().urn, to=wsd.DISCOVERY_URN),
                                wsd.Probe((wsd.DEVICE,))))

def garbage(i):
    kind = i % 6
    if kind == 0:
        return os.urandom(rnd.randint(1, 1400))
    if kind == 1:
        b = bytearray(good)
        for _ in range(5):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        return bytes(b)
    if kind == 2:
        return b"<a>" * 8000
    if kind == 3:
        return b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>'
    if kind == 4 and i % 60 == 4:
        return b"x" * 60000  # oversized: more than a SOAP-over-UDP datagram may be
    return good[: rnd.randrange(len(good))]

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((me, 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(me))
s.setblocking(False)
group = ("239.255.255.250", 3702)
asked, answered, resolved = {}, {}, []

def drain():
    while True:
        try:
            data, _ = s.recvfrom(65535)
        except BlockingIOError:
            return
        msg = wsd.parse(data)
        rel = msg.header.relates_to
        if isinstance(msg.body, wsd.ProbeMatches) and rel in asked and rel not in answered:
            assert msg.body.matches[0].endpoint == endpoint
            answered[rel] = time.monotonic() - asked[rel]
        if isinstance(msg.body, wsd.ResolveMatches):
            resolved.append((rel, msg.body.match.xaddrs if msg.body.match else ()))

def resolve_bytes(who):
    return wsd.pack(wsd.Message(wsd.Header(uuid.uuid4().urn, to=wsd.DISCOVERY_URN),
                                wsd.Resolve(who)))

# Phase 1: 3,000 garbage datagrams, to the group and to PC1 directly, with a valid
# Probe every 100 (sent three times, as a SOAP-over-UDP client repeats it: under a
# flood the kernel may drop any one datagram); every Probe must still be answered.
start = time.monotonic()
for i in range(3000):
    s.sendto(garbage(i), group if i % 2 else (target, 3702))
    if i % 100 == 50:
        p = probe_bytes()
        asked[wsd.parse(p).header.message_id] = time.monotonic()
    if i % 100 in (50, 60, 70):
        s.sendto(p, group)
    if i % 20 == 0:
        drain()
        time.sleep(0.005)
flood_seconds = time.monotonic() - start
deadline = time.monotonic() + 10
while len(answered) < len(asked) and time.monotonic() < deadline:
    drain()
    time.sleep(0.05)
flood_answered = len(answered)
flood_probes = len(asked)

# Phase 2: 300 valid Probes at once: replies must stay within the rate limit.
asked.clear(); answered.clear()
t0 = time.monotonic()
for i in range(300):
    p = probe_bytes()
    asked[wsd.parse(p).header.message_id] = time.monotonic()
    s.sendto(p, (target, 3702))
    if i % 25 == 0:
        time.sleep(0.005)  # let PC1 read them rather than its kernel drop them
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    drain()
    time.sleep(0.05)
burst_answered, burst_seconds = len(answered), time.monotonic() - t0

# Phase 3: a Probe from an address off PC1's subnet is not answered.
off = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
off.bind((foreign, 0))
off.sendto(probe_bytes(), (target, 3702))

# Phase 4: HTTP: garbage, oversized and wrong types are refused; a Get still works.
url = f"http://{target}:5357/{endpoint.removeprefix('urn:uuid:')}"
def post(body, ctype="application/soap+xml"):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
get = wsd.pack(wsd.Message(wsd.Header(uuid.uuid4().urn, to=endpoint), wsd.Get()))
# 100 connections that stall mid-request stay open while the others are served.
stalled = []
for _ in range(100):
    c = socket.create_connection((target, 5357), timeout=5)
    c.sendall(b"POST /" + endpoint.removeprefix("urn:uuid:").encode() + b" HTTP/1.1\r\nHost: x\r\n")
    stalled.append(c)
http = {
    "garbage": post(os.urandom(500))[0],
    "oversized": post(b"<a>" * 20000)[0],
    "probe": post(probe_bytes())[0],
    "wrong_type": post(get, "text/plain")[0],
}
# Phase 5, after a pause that refills the reply budget: a Probe is answered again.
time.sleep(2.5)
asked.clear(); answered.clear()
p = probe_bytes()
asked[wsd.parse(p).header.message_id] = time.monotonic()
s.sendto(p, group)
deadline = time.monotonic() + 5
while not answered and time.monotonic() < deadline:
    drain()
    time.sleep(0.05)
# A Resolve for another endpoint gets nothing; one for PC1's gets the metadata URL.
other = resolve_bytes(uuid.uuid4().urn)
s.sendto(other, group)
mine = resolve_bytes(endpoint)
s.sendto(mine, group)
deadline = time.monotonic() + 5
while not resolved and time.monotonic() < deadline:
    drain()
    time.sleep(0.05)
time.sleep(0.6)  # past APP_MAX_DELAY: an answer to the other Resolve would be here by now
drain()
resolves = [(r == wsd.parse(mine).header.message_id, list(x)) for r, x in resolved]
code, body = post(get)
for c in stalled:
    c.close()
meta = wsd.parse(body).body.metadata if code == 200 else None
print(json.dumps({
    "flood_seconds": flood_seconds, "flood_probes": flood_probes,
    "flood_answered": flood_answered, "burst_answered": burst_answered,
    "burst_seconds": burst_seconds, "after": list(answered.values()), "http": http,
    "get": code, "computer": meta.computer if meta else None, "resolves": resolves,
}))
"""


def test_garbage_flood_leaves_the_responder_answering(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab = lab_factory(2)
    pc1, pc2 = lab.pcs
    lab.run(pc2, ["ip", "addr", "add", "192.0.2.2/24", "dev", "eth0"])
    agent = _agent(lab, tmp_path, ["eth0"])
    with agent:
        endpoint = agent.service("wsdiscovery")["details"]["endpoint"]
        probe = Path(__file__).resolve().parent.parent / "data" / "wsd" / "wsdd-probe.xml"
        out = lab.run(
            pc2,
            [sys.executable, "-c", _ATTACKER, pc2.address, pc1.address, endpoint,
             "192.0.2.2", str(probe)],
            timeout=120,
        )  # fmt: skip
        report = json.loads(out.stdout)
        counters = agent.service("wsdiscovery")["details"]["counters"]
        assert agent.service("wsdiscovery")["state"] == "running"
    # Every Probe sent among the garbage got its ProbeMatches.
    assert report["flood_answered"] == report["flood_probes"] == 30, report
    # A burst of valid Probes is answered only up to the budget (40 + 20/s).
    assert 20 <= report["burst_answered"] <= 40 + 20 * report["burst_seconds"] + 5, report
    assert report["after"], report  # and the responder answers again afterwards
    assert report["http"] == {"garbage": 400, "oversized": 413, "probe": 400, "wrong_type": 415}
    # Only the Resolve for our endpoint is answered (each answer goes out twice, as
    # SOAP-over-UDP repeats unicast), with the metadata URL on PC1's address.
    xaddr = f"http://{pc1.address}:5357/{endpoint.removeprefix('urn:uuid:')}"
    assert report["resolves"], report
    assert all(r == [True, [xaddr]] for r in report["resolves"]), report
    assert report["get"] == 200
    assert report["computer"] == "PC1/Workgroup:OFFICE"
    # Counted drops (the kernel may drop some of the flood before the agent sees it).
    assert counters["bad"] >= 1000
    assert counters["oversized"] >= 1
    assert counters["off_link"] >= 1
    assert counters["limited"] >= 100


def test_loopback_only_discovery_leaves_wsd_idle(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(1, multicast_lo=True)
    agent = _agent(lab, tmp_path, ["lo"])
    with agent:
        wsd = agent.service("wsdiscovery")
        assert wsd["state"] == "running"
        assert wsd["ports"] == {}
        assert "loopback" in wsd["details"]["idle"]
        assert wsd["details"]["interfaces"] == []
        # ... and `peerwork status` says so on the service's line
        text = peerwork(agent.home, "status").stdout
        line = next(ln for ln in text.splitlines() if ln.strip().startswith("wsdiscovery"))
        assert "idle:" in line and "loopback" in line, text
        # Nothing bound on eth0 (or anywhere) for WS-Discovery.
        sockets = lab.run(lab.pc(1), ["ss", "-Hulnt"]).stdout
        assert ":3702" not in sockets
        assert ":5357" not in sockets
