"""Benchmark (b): one big attachment alice@PC1 -> bob@PC2, vs an SMB copy of the same bytes.

    sudo .venv/bin/python bench/mail_handoff.py [--mb 200]

Three network namespaces on one bridge (tests/helpers/netns.py): PC1 and PC2
run real ``peerwork agent`` processes with the post office (bob's home PC is
PC2), PC3 runs the ISP's smarthost (aiosmtpd with STARTTLS + AUTH). From PC1's
namespace smtplib sends one message with a ``--mb`` MB attachment to
bob@office.lan through PC1's SMTP (dot-stuffed before the clock starts); the
clock stops when the message is in bob's Maildir on PC2 (accepted, fsynced in
PC1's queue, handed over the channel, fsynced on PC2). The comparison is
smbclient putting the same bytes (the whole message file) from PC1 onto a
share of PC2's agent. Prints both times and their ratio (goal: mail <= 2x
SMB), each agent's peak RSS (VmHWM), and the bytes the smarthost received
(must be 0). Run by bench/mail.py too.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.mail import lab_mail_agent, maildir_files
from tests.helpers.netns import NetnsLab
from tests.helpers.smarthost import PASSWORD, USER, start_smarthost

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}
BOUNDARY = "peerwork-bench-boundary"

# The client dot-stuffs before the clock starts: smtplib's sendmail would spend ~3 s in
# a regex over 274 MB (its own cost, not the server's; mail clients stream instead).
SEND = """
import smtplib, sys, time
host, path = sys.argv[1:3]
data = open(path, "rb").read().replace(b"\\r\\n.", b"\\r\\n..") + b".\\r\\n"
start = time.perf_counter()
with smtplib.SMTP(host, 2525, timeout=600) as smtp:
    smtp.ehlo()
    assert smtp.mail("alice@office.lan", [f"SIZE={len(data)}"])[0] == 250
    assert smtp.rcpt("bob@office.lan")[0] == 250
    smtp.putcmd("data")
    assert smtp.getreply()[0] == 354
    smtp.send(data)
    code, text = smtp.getreply()
    assert code == 250, text
print(time.perf_counter() - start)
"""


@dataclass(frozen=True, slots=True)
class HandoffResult:
    message_bytes: int
    accepted: float  # seconds until PC1's 250
    delivered: float  # seconds until the message is in bob's Maildir on PC2
    smb_put: float  # seconds smbclient took to put the same bytes onto PC2
    rss_pc1: int  # peak RSS, KiB
    rss_pc2: int
    smarthost_bytes: int


def write_message(path: Path, attachment_mb: int) -> int:
    """A MIME message with an ``attachment_mb`` MB random attachment, written without
    holding it whole (base64 in 76-character CRLF lines); its size."""
    head = (
        "From: alice@office.lan\r\nTo: bob@office.lan\r\nSubject: the big file\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{BOUNDARY}"\r\n\r\n'
        f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n"
        f"--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="big.bin"\r\n\r\n'
    )
    left = attachment_mb * 1_000_000
    with path.open("wb") as out:
        out.write(head.encode())
        while left:
            raw = os.urandom(min(left, 57 * 20000))
            left -= len(raw)
            encoded = base64.b64encode(raw)
            out.write(b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76)))
        out.write(f"--{BOUNDARY}--\r\n".encode())
    return path.stat().st_size


def peak_rss(agent: AgentProcess) -> int:
    assert agent.proc is not None
    for line in Path(f"/proc/{agent.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run(attachment_mb: int, tmp: Path) -> HandoffResult:
    with NetnsLab(3) as lab:
        pc1, pc2, isp = lab.pc(1), lab.pc(2), lab.pc(3)
        smarthost = start_smarthost(tmp / "isp", isp.address, 587, prefix=lab.argv(isp, []))
        try:
            agents = []
            for index, mailboxes in ((1, ["alice"]), (2, ["bob"])):
                agent = lab_mail_agent(
                    lab, index, tmp, USERS, mailboxes=mailboxes, max_size=2_000_000_000,
                    smarthost=smarthost.address, smarthost_user=USER,
                    smarthost_ca=str(smarthost.ca),
                )  # fmt: skip
                secret = agent.home / "mail" / "smarthost.secret"
                secret.parent.mkdir(exist_ok=True)
                secret.write_text(PASSWORD)
                secret.chmod(0o600)
                agents.append(agent)
            agent1, agent2 = agents
            message = tmp / "message.eml"
            size = write_message(message, attachment_mb)
            drop = tmp / "drop"
            drop.mkdir()
            with agent1, agent2:
                _wait_home(agent1)
                peerwork(agent2.home, "share", str(drop), "--name", "drop",
                         "--grant", "bob=change", prefix=lab.argv(pc2, []))  # fmt: skip
                start = time.perf_counter()
                sent = lab.run(pc1, [sys.executable, "-c", SEND, pc1.address, str(message)],
                               timeout=900)  # fmt: skip
                accepted = float(sent.stdout.strip())
                while not maildir_files(agent2.home, "bob"):
                    if time.perf_counter() - start > 900:
                        raise SystemExit("the message never reached bob's Maildir on PC2")
                    time.sleep(0.01)
                delivered = time.perf_counter() - start
                [stored] = maildir_files(agent2.home, "bob")
                if stored.stat().st_size != size:
                    raise SystemExit(f"bob got {stored.stat().st_size} bytes, not {size}")
                smb = _smb_put(lab, pc1.ns, pc2.address, message)
                if (drop / "copy.eml").stat().st_size != size:
                    raise SystemExit("the SMB copy is incomplete")
                result = HandoffResult(
                    size, accepted, delivered, smb, peak_rss(agent1), peak_rss(agent2),
                    len(smarthost.received()),
                )  # fmt: skip
        finally:
            smarthost.stop()
    return result


def _wait_home(agent: AgentProcess) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        homes = agent.service("mail")["details"]["homes"]["peers"]
        if "bob" in homes.get("PC2", []):
            return
        time.sleep(0.2)
    raise SystemExit("PC1 never learned that bob's home PC is PC2")


def _smb_put(lab: NetnsLab, ns: str, address: str, path: Path) -> float:
    def smbclient(script: str) -> float:
        start = time.perf_counter()
        done = lab.run(ns, ["smbclient", f"//{address}/drop", "-U", f"bob%{USERS['bob']}",
                            "-c", script], check=False, timeout=900)  # fmt: skip
        if done.returncode != 0 or "NT_STATUS" in done.stdout + done.stderr:
            raise SystemExit(f"smbclient failed: {done.stdout}{done.stderr}")
        return time.perf_counter() - start

    overhead = sorted(smbclient("pwd") for _ in range(3))[1]  # start-up and logon
    return smbclient(f"put {path} copy.eml") - overhead


def report(result: HandoffResult, attachment_mb: int) -> None:
    mb = result.message_bytes / 1e6
    print(f"one {attachment_mb} MB attachment ({mb:.0f} MB message) alice@PC1 -> bob@PC2,"
          " two namespaces:")  # fmt: skip
    print(f"  mail: 250 from PC1 after {result.accepted:.2f} s,"
          f" in bob's Maildir on PC2 after {result.delivered:.2f} s")  # fmt: skip
    print(f"  smbclient put of the same bytes to PC2: {result.smb_put:.2f} s")
    print(f"  mail / SMB copy: {result.delivered / result.smb_put:.2f} (goal <= 2)")
    print(f"  peak RSS: PC1 agent {result.rss_pc1 / 1024:.0f} MB,"
          f" PC2 agent {result.rss_pc2 / 1024:.0f} MB")  # fmt: skip
    print(f"  bytes the smarthost received: {result.smarthost_bytes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="attachment size in MB")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    with tempfile.TemporaryDirectory(prefix="pw-bench-handoff-") as tmp:
        report(run(args.mb, Path(tmp)), args.mb)


if __name__ == "__main__":
    main()
