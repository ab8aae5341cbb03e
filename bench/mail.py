"""Benchmark: messages with an attachment into peerwork's post office vs a reference.

    .venv/bin/python bench/mail.py [--messages 1000] [--attachment-kb 100] [--reps 1]
                                   [--clients 1]

``--clients`` smtplib connections at once (one by default) send ``--messages``
messages (each with a random ``--attachment-kb`` attachment, built with
email.policy.SMTP) to bob; the clock
stops when the last one is in bob's Maildir. peerwork runs as a user starts it
(temp home, ``peerwork init``, ``user add``, ``[mail] enabled``, ``agent`` on
loopback); its 250 means fsynced in the queue, then the queue runner links the
message into the Maildir and fsyncs that. The reference is stock aiosmtpd
writing Maildir with fsync before its 250 (bench/mail_reference.py), and, when
installed, a private Postfix delivering to a Maildir (the issue's reference).
Prints msg/s, MB/s and the ratios. Then, as root, benchmark (b) of
bench/mail_handoff.py: one ``--handoff-mb`` MB attachment from alice on PC1 to
bob on PC2 in two namespaces, against an SMB copy of the same bytes (0 skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import email.policy
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mail_handoff

from tests.helpers.mail import mail_home, mail_ports


def make_message(attachment_kb: int) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "alice@office.lan", "bob@office.lan", "report"
    msg.set_content("The report is attached.\n")
    msg.add_attachment(
        os.urandom(attachment_kb * 1024), maintype="application", subtype="octet-stream",
        filename="report.bin",
    )  # fmt: skip
    return msg.as_bytes()


def count_new(maildir: Path) -> int:
    try:
        return sum(1 for _ in (maildir / "new").iterdir())
    except FileNotFoundError:
        return 0


def send_all(
    port: int, raw: bytes, messages: int, delivered: Callable[[], int], clients: int = 1
) -> float:
    """``clients`` smtplib connections at once share ``messages``; seconds until the
    last is in the Maildir."""

    def one(count: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for _ in range(count):
                smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw)

    shares = [messages // clients + (i < messages % clients) for i in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, shares))
    deadline = time.monotonic() + 120
    while delivered() < messages:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {delivered()} of {messages} delivered")
        time.sleep(0.01)
    return time.perf_counter() - start


@contextlib.contextmanager
def run_peerwork(tmp: Path) -> Iterator[tuple[int, Path]]:
    home = tmp / "peerwork"
    agent = mail_home(home, {"bob": "bob-pw"})
    with agent:
        yield mail_ports(agent)[0], home / "mail" / "bob" / "Maildir"


POSTFIX_MAIN = """\
compatibility_level = 3.6
queue_directory = {tmp}/queue
data_directory = {tmp}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
myhostname = bench.office.lan
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = office.lan
virtual_mailbox_base = {tmp}/vmail
virtual_mailbox_maps = inline:{{ bob@office.lan=bob/Maildir/ }}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
message_size_limit = 200000000
virtual_mailbox_limit = 0
maillog_file = /dev/stdout
"""


@contextlib.contextmanager
def run_postfix(tmp: Path) -> Iterator[tuple[int, Path]]:
    """A private Postfix (own config, queue and mail folders, loopback port) in the
    foreground; its own ``postfix stop`` ends it. Delivers bob@office.lan to a Maildir
    through the virtual agent. Postfix fsyncs queue files and Maildir deliveries."""
    conf, vmail = tmp / "conf", tmp / "vmail"
    tmp.chmod(0o755)  # the postfix user must reach its data and mail folders
    for folder in (conf, vmail, tmp / "queue", tmp / "data"):
        folder.mkdir(parents=True)
    os.chown(vmail, 65534, 65534)
    shutil.chown(tmp / "data", "postfix")
    port = free_port()
    master = Path("/etc/postfix/master.cf").read_text()
    smtp_line = next(
        line for line in master.splitlines() if line.startswith("smtp ") and "inet" in line
    )
    master = master.replace(smtp_line, f"127.0.0.1:{port} inet n - n - - smtpd")
    (conf / "master.cf").write_text(master)
    (conf / "main.cf").write_text(POSTFIX_MAIN.format(tmp=tmp))
    with (tmp / "postfix.log").open("wb") as log:
        proc = subprocess.Popen(["postfix", "-c", str(conf), "start-fg"], stdout=log, stderr=log)
    try:
        wait_port(port, proc, tmp / "postfix.log")
        yield port, vmail / "bob" / "Maildir"
    finally:
        subprocess.run(["postfix", "-c", str(conf), "stop"], capture_output=True, timeout=30)
        proc.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"postfix exited:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise SystemExit(f"postfix did not listen:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def run_reference(tmp: Path) -> Iterator[tuple[int, Path]]:
    maildir = tmp / "reference" / "Maildir"
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("mail_reference.py")), str(maildir)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline()), maildir
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--attachment-kb", type=int, default=100)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--clients", type=int, default=1, help="SMTP connections at once")
    parser.add_argument("--handoff-mb", type=int, default=200)
    args = parser.parse_args()
    raw = make_message(args.attachment_kb)
    results: dict[str, float] = {}
    runners = {"postfix": run_postfix, "aiosmtpd+fsync": run_reference, "peerwork": run_peerwork}
    if shutil.which("postfix") is None:
        print("postfix not installed (apt-get install postfix): running without it")
        del runners["postfix"]
    for name, runner in runners.items():
        times = []
        for _ in range(args.reps):
            with (
                tempfile.TemporaryDirectory(prefix="pw-bench-mail-") as tmp,
                runner(Path(tmp)) as (port, maildir),
            ):
                times.append(
                    send_all(port, raw, args.messages, lambda m=maildir: count_new(m), args.clients)
                )
        results[name] = statistics.median(times)
    size_mb = len(raw) * args.messages / 1e6
    print(
        f"{args.messages} messages of {len(raw) / 1024:.0f} KiB, {args.clients} SMTP"
        " connection(s) at once, fsync:"
    )
    for name, seconds in results.items():
        rate = args.messages / seconds
        print(f"  {name:16} {rate:8.1f} msg/s {size_mb / seconds:8.1f} MB/s  ({seconds:.2f} s)")
    for reference in ("postfix", "aiosmtpd+fsync"):
        if reference in results:
            ratio = results[reference] / results["peerwork"]
            print(f"  peerwork / {reference}: {ratio:.2f}")
    if args.handoff_mb:
        if os.geteuid() != 0:
            print("(b) skipped: the hand-off benchmark needs root (network namespaces)")
            return
        with tempfile.TemporaryDirectory(prefix="pw-bench-handoff-") as tmp:
            mail_handoff.report(mail_handoff.run(args.handoff_mb, Path(tmp)), args.handoff_mb)


if __name__ == "__main__":
    main()
