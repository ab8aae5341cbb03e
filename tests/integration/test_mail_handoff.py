"""Mail between PCs: alice on PC1 writes to bob, whose home PC is PC2.

Real ``peerwork agent`` processes in namespaces on one LAN bridge (discovery
on eth0, the channel on 7445), swaks with STARTTLS + AUTH into PC1's SMTP,
poplib (STLS) on PC2 to read bob's mail, and the ISP's smarthost (a real
aiosmtpd requiring STARTTLS + AUTH, tests/helpers/smarthost.py) in a third
namespace. The message is handed over the peer channel and never reaches the
smarthost; a kill -9 of either end in the middle of a hand-off loses nothing
and delivers once; outside mail does reach the smarthost, only with AUTH.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.mail import imap_in, lab_mail_agent, maildir_files, pop3_in, wait_until
from tests.helpers.netns import PC, NetnsLab, lab_factory  # noqa: F401  (fixture)
from tests.helpers.smarthost import PASSWORD, USER, RunningSmarthost, start_smarthost

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed"),
]

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}
MB = 1 << 20
OUTSIDE = "198.51.100.7"  # TEST-NET-2: a client address outside the LAN


def _attachment(path: Path, size: int) -> str:
    """A file of ``size`` incompressible bytes; its sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        seed = hashlib.sha256(path.name.encode()).digest()
        block = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(32768))
        written = 0
        while written < size:
            piece = block[: size - written]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


def _swaks(
    lab: NetnsLab,
    pc: PC,
    to: str,
    subject: str,
    attach: Path | None,
    *,
    auth: bool = True,
    client: PC | None = None,
    source: str | None = None,
) -> subprocess.Popen[str]:
    """swaks from ``client``'s namespace (default: ``pc``'s), from address ``source``."""
    argv = ["swaks", "--server", pc.address, "--port", "2525", "--tls",
            "--from", "alice@office.lan", "--to", to, "--header", f"Subject: {subject}",
            "--suppress-data", "--timeout", "120"]  # fmt: skip
    if auth:
        argv += ["--auth", "PLAIN", "--auth-user", "alice", "--auth-password", USERS["alice"]]
    if source is not None:
        argv += ["--local-interface", source]
    if attach is not None:
        argv += ["--attach-type", "application/octet-stream", "--attach", f"@{attach}"]
    return lab.popen(
        client or pc, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _sent(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0 and "250 2.0.0 OK queued as" in out, out
    return out


def _office_pc(
    lab: NetnsLab, index: int, tmp_path: Path, smarthost: RunningSmarthost, mailboxes: list[str]
) -> AgentProcess:
    agent = lab_mail_agent(
        lab, index, tmp_path, USERS, mailboxes=mailboxes, smarthost=smarthost.address,
        smarthost_user=USER, smarthost_ca=str(smarthost.ca),
    )  # fmt: skip
    secret = agent.home / "mail" / "smarthost.secret"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    return agent


def _when_queued(proc: subprocess.Popen[str]) -> None:
    """Return as soon as swaks has read PC1's 250 (its hand-off starts right then)."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "250 2.0.0 OK queued as" in line:
            return
    raise AssertionError("no 250 from PC1:\n" + "".join(seen))


def _catch_hand_off(home: Path) -> None:
    """Wait (polling fast: a 68 MB hand-off takes well under a second) until PC2 is
    receiving a hand-off."""
    deadline = time.monotonic() + 60
    while not _parts(home):
        if time.monotonic() > deadline:
            raise AssertionError("no hand-off began")
        time.sleep(0.002)


def _mail(agent: AgentProcess) -> dict[str, Any]:
    return agent.service("mail")["details"]


def _knows_home(agent: AgentProcess, peer: str, account: str) -> bool:
    return account in _mail(agent)["homes"]["peers"].get(peer, [])


def _parts(home: Path) -> list[Path]:
    folder = home / "mail" / "handoff"
    return list(folder.glob("*.part")) if folder.is_dir() else []


def test_bob_reads_on_pc2_what_alice_sent_through_pc1_and_kill_9_loses_nothing(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab = lab_factory(3)
    pc1, pc2, isp = lab.pc(1), lab.pc(2), lab.pc(3)
    smarthost = start_smarthost(tmp_path / "isp", isp.address, 587, prefix=lab.argv(isp, []))
    agent1 = _office_pc(lab, 1, tmp_path, smarthost, ["alice"])
    agent2 = _office_pc(lab, 2, tmp_path, smarthost, ["bob"])
    big = tmp_path / "plans.bin"
    big_sha = _attachment(big, 50 * MB)
    with agent1, agent2:
        wait_until(lambda: _knows_home(agent1, "PC2", "bob"), 30, "PC1 learning bob's home")
        wait_until(lambda: _knows_home(agent2, "PC1", "alice"), 30, "PC2 learning alice's home")

        # 1. A 50 MB attachment, through PC1's SMTP with STARTTLS + AUTH, read on PC2.
        started = time.monotonic()
        _sent(_swaks(lab, pc1, "bob@office.lan", "plans", big))
        wait_until(lambda: len(maildir_files(agent2.home, "bob")) == 1, 120, "bob's mail on PC2")
        print(f"50 MB accepted and handed to PC2 in {time.monotonic() - started:.1f} s")
        [got] = pop3_in(lab, pc2, "bob", USERS["bob"])
        assert got["subject"] == "plans" and got["attachments"] == [big_sha]
        [got] = imap_in(lab, pc2, "bob", USERS["bob"])
        assert got["subject"] == "plans" and got["attachments"] == [big_sha]
        _bob_reads_from_pc1(lab, pc1, agent1, tmp_path / "saved", big_sha)
        assert maildir_files(agent1.home, "bob") == []  # nothing kept on PC1
        wait_until(lambda: _mail(agent1)["queued"] == 0, 20, "PC1's queue to empty")
        assert _mail(agent2)["handed_in"] == 1

        # Mail for a mailbox of PC1's own stays there, not handed anywhere.
        _sent(_swaks(lab, pc1, "alice@office.lan", "note to self", None))
        wait_until(lambda: len(maildir_files(agent1.home, "alice")) == 1, 30, "alice's mail")
        assert maildir_files(agent2.home, "alice") == []

        # 2. kill -9 of PC1 (the sender) in the middle of a hand-off.
        proc = _swaks(lab, pc1, "bob@office.lan", "sender killed", big)
        _when_queued(proc)
        _catch_hand_off(agent2.home)
        assert agent1.proc is not None
        agent1.proc.send_signal(signal.SIGKILL)
        agent1.proc.wait(10)
        proc.communicate(timeout=60)
        assert len(maildir_files(agent2.home, "bob")) == 1  # caught mid-hand-off
        wait_until(lambda: not _parts(agent2.home), 30, "PC2 dropping the cut hand-off")
        agent1.start()
        wait_until(lambda: len(maildir_files(agent2.home, "bob")) == 2, 120, "the retry")
        wait_until(lambda: _mail(agent1)["queued"] == 0, 20, "PC1's queue to empty")

        # 3. kill -9 of PC2 (the home PC) in the middle of a hand-off: retried, once.
        proc = _swaks(lab, pc1, "bob@office.lan", "home killed", big)
        _when_queued(proc)
        _catch_hand_off(agent2.home)
        assert agent2.proc is not None
        agent2.proc.send_signal(signal.SIGKILL)
        agent2.proc.wait(10)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert len(maildir_files(agent2.home, "bob")) == 2
        wait_until(lambda: "home PC PC2" in _queue_errors(agent1), 60, "PC1 deferring")
        queue = peerwork(agent1.home, "mail", "queue", prefix=lab.argv(pc1, [])).stdout
        assert "home PC PC2" in queue, queue
        agent2.start()
        wait_until(lambda: len(maildir_files(agent2.home, "bob")) == 3, 120, "the hand-off again")
        wait_until(lambda: _mail(agent1)["queued"] == 0, 20, "PC1's queue to empty")
        assert not _parts(agent2.home)

        fetched = pop3_in(lab, pc2, "bob", USERS["bob"])
        assert sorted(m["subject"] for m in fetched) == ["home killed", "plans", "sender killed"]
        assert all(m["attachments"] == [big_sha] for m in fetched)

        # peerwork mail send on PC1, as alice (home PC1), to bob: PC1's SMTP, then PC2.
        note = tmp_path / "note.txt"
        note.write_bytes(b"the plans are in your inbox\n")
        _as(lab, pc1, agent1, "alice", "send", "--to", "bob", "--subject", "see plans",
            "--attach", str(note), "--quiet")  # fmt: skip
        wait_until(lambda: len(maildir_files(agent2.home, "bob")) == 4, 60, "the CLI's note")
        assert maildir_files(agent1.home, "bob") == []
        assert smarthost.received() == b""  # 150 MB of attachments, not a byte outside

        # 4. Outside mail leaves by the smarthost, and only for a logged-on account.
        proc = _swaks(lab, pc1, "carol@example.com", "no logon", None, auth=False)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode != 0 and "554 5.7.1" in out, out
        # A logged-on account, but from an address outside the LAN's subnets (routed to
        # PC1, not on its interfaces: as a port forward from the Internet would be).
        lab.run(isp, ["ip", "addr", "add", f"{OUTSIDE}/32", "dev", isp.ifname])
        lab.run(pc1, ["ip", "route", "add", f"{OUTSIDE}/32", "dev", pc1.ifname])
        proc = _swaks(lab, pc1, "carol@example.com", "from afar", None, client=isp, source=OUTSIDE)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode != 0 and "from outside the LAN" in out, out
        assert "235 2.7.0 Authentication successful" in out, out
        _sent(_swaks(lab, pc1, "carol@example.com", "to the world", None))
        wait_until(lambda: smarthost.messages(), 60, "the smarthost receiving it")
        assert b"Subject: to the world" in smarthost.messages()[0]
        assert "Traceback" not in agent1.log_text() + agent2.log_text()
    lines = smarthost.stop()
    assert [(line["to"], line["user"]) for line in lines] == [(["carol@example.com"], USER)]


def _as(lab: NetnsLab, pc: PC, agent: AgentProcess, user: str, *args: str) -> str:
    """``peerwork mail ARGS`` as ``user`` on ``pc`` (password on stdin)."""
    return peerwork(
        agent.home, "mail", *args, "--user", user, "--password-stdin",
        input=USERS[user] + "\n", prefix=lab.argv(pc, []), timeout=180,
    ).stdout  # fmt: skip


def _bob_reads_from_pc1(
    lab: NetnsLab, pc1: PC, agent1: AgentProcess, saved: Path, sha: str
) -> None:
    """bob, at PC1, lists and reads his mailbox on PC2 with the peerwork CLI: PC1's agent
    names PC2 as his home, and the CLI logs on to PC2's IMAP with PC2's peer key pinned."""
    [listed] = json.loads(_as(lab, pc1, agent1, "bob", "inbox", "--json"))
    assert listed["subject"] == "plans" and listed["size"] > 50 * MB
    read = _as(lab, pc1, agent1, "bob", "read", str(listed["id"]), "--json",
               "--save-attachments", str(saved), "--quiet")  # fmt: skip
    [path] = json.loads(read)["saved"]
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha


def _queue_errors(agent: AgentProcess) -> str:
    out = peerwork(agent.home, "mail", "queue", "--json", check=False).stdout
    try:
        return " ".join(e["last_error"] for e in json.loads(out))
    except (ValueError, KeyError, TypeError):
        return ""
