"""Capture a real wsdd Probe and Get into tests/data/wsd/ (run as root, by hand).

    .venv/bin/python -m tests.helpers.wsd_capture

Builds a two-PC lab, runs ``wsdd -D`` (discovery mode) on PC2 and, on PC1, a
listener that saves wsdd's first multicast Probe, then says Hello with a
metadata URL served here, so wsdd sends its WS-Transfer Get, which is saved
too. The files are the golden inputs of tests/unit/test_wsd.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.netns import NetnsLab

OUT = Path(__file__).resolve().parent.parent / "data" / "wsd"

# Runs inside PC1's namespace: argv = [address, out dir].
_LISTENER = r"""
import socket, struct, sys, uuid, http.server, threading
from pathlib import Path
from peerwork.proto import wsd
addr, out = sys.argv[1], Path(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
mreq = socket.inet_aton("239.255.255.250") + socket.inet_aton(addr) + struct.pack("@i", 0)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
s.bind(("239.255.255.250", 3702))
s.settimeout(20)
while True:
    data, src = s.recvfrom(65535)
    if wsd.parse(data).action is wsd.Action.PROBE:
        (out / "wsdd-probe.xml").write_bytes(data)
        break
got = threading.Event()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        (out / "wsdd-get.xml").write_bytes(body)
        (out / "wsdd-get.headers").write_text(str(self.headers))
        self.send_response(500)
        self.end_headers()
        got.set()
httpd = http.server.HTTPServer((addr, 5357), H)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
ep = uuid.uuid4()
hello = wsd.Message(wsd.Header(uuid.uuid4().urn, to=wsd.DISCOVERY_URN,
    app_sequence=wsd.AppSequence(1, 1)), wsd.Hello(wsd.Target(ep.urn, (wsd.DEVICE, wsd.COMPUTER),
    (f"http://{addr}:5357/{ep}",))))
s.sendto(wsd.pack(hello), ("239.255.255.250", 3702))
assert got.wait(10), "wsdd sent no Get"
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with NetnsLab(2) as lab:
        pc1, pc2 = lab.pcs
        listener = lab.popen(pc1, [sys.executable, "-c", _LISTENER, pc1.address, str(OUT)])
        lab.popen(pc2, ["wsdd", "-4", "-i", "eth0", "-D", "-o"], stderr=subprocess.DEVNULL)
        if listener.wait(40) != 0:
            raise SystemExit("capture failed")
    for f in sorted(OUT.iterdir()):
        print(f, f.stat().st_size)


if __name__ == "__main__":
    main()
