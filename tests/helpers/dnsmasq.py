"""dnsmasq as the reference DNS resolver / DHCP server that tests start (loopback or a
namespace of theirs), in the foreground with no config file, stopped by PID."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from typing import Any

import pytest

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def dnsmasq_argv(*options: str) -> list[str]:
    """dnsmasq in the foreground, no config file, no /etc/hosts or resolv.conf, as root,
    plus ``options`` (``--port=N``, ``--address=/name/addr``, ``--dhcp-range=...``)."""
    if not shutil.which("dnsmasq") and not shutil.which(DNSMASQ):
        pytest.skip("dnsmasq is not installed (apt dnsmasq-base)")
    return [
        DNSMASQ,
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--user=root",
        "--pid-file=",
        "--log-facility=-",
        *options,
    ]


def wait_udp_dns(argv_prefix: Sequence[str], server: str, port: int, name: str) -> None:
    """Wait until ``dig @server -p port name`` answers (dnsmasq is up)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(
            [*argv_prefix, "dig", f"@{server}", "-p", str(port), name, "+short", "+time=1",
             "+tries=1"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.returncode == 0 and out.stdout.strip():
            return
        time.sleep(0.1)
    raise AssertionError(f"dnsmasq on {server}:{port} did not answer {name}")


def start_loopback_resolver(port: int, *records: str, **popen: Any) -> subprocess.Popen[Any]:
    """dnsmasq answering ``records`` (``--address``/``--host-record`` options) on 127.0.0.1."""
    proc = subprocess.Popen(
        dnsmasq_argv("--listen-address=127.0.0.1", "--bind-interfaces", f"--port={port}", *records),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **popen,
    )
    return proc
