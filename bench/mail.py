"""Benchmark: messages with an attachment into peerwork's post office vs a reference.

    .venv/bin/python bench/mail.py [--messages 1000] [--attachment-kb 100] [--reps 1]

One smtplib connection sends ``--messages`` messages (each with a random
``--attachment-kb`` attachment, built with email.policy.SMTP) to bob; the clock
stops when the last one is in bob's Maildir. peerwork runs as a user starts it
(temp home, ``peerwork init``, ``user add``, ``[mail] enabled``, ``agent`` on
loopback); its 250 means fsynced in the queue, then the queue runner links the
message into the Maildir and fsyncs that. The reference is stock aiosmtpd
writing Maildir with fsync before its 250 (bench/mail_reference.py); Postfix,
the issue's reference, is not run yet. Prints msg/s, MB/s and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import email.policy
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
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


def send_all(port: int, raw: bytes, messages: int, delivered: Callable[[], int]) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for _ in range(messages):
            smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw)
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
    args = parser.parse_args()
    raw = make_message(args.attachment_kb)
    results: dict[str, float] = {}
    for name, runner in (("aiosmtpd+fsync", run_reference), ("peerwork", run_peerwork)):
        times = []
        for _ in range(args.reps):
            with (
                tempfile.TemporaryDirectory(prefix="pw-bench-mail-") as tmp,
                runner(Path(tmp)) as (port, maildir),
            ):
                times.append(send_all(port, raw, args.messages, lambda m=maildir: count_new(m)))
        results[name] = statistics.median(times)
    size_mb = len(raw) * args.messages / 1e6
    print(f"{args.messages} messages of {len(raw) / 1024:.0f} KiB, one SMTP connection, fsync:")
    for name, seconds in results.items():
        rate = args.messages / seconds
        print(f"  {name:16} {rate:8.1f} msg/s {size_mb / seconds:8.1f} MB/s  ({seconds:.2f} s)")
    ratio = results["aiosmtpd+fsync"] / results["peerwork"]
    print(f"  peerwork / aiosmtpd+fsync: {ratio:.2f}")


if __name__ == "__main__":
    main()
