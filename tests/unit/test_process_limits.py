"""agents/process_limits.py: the soft open-file limit raised to the hard one; heap trim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from peerwork.agents.process_limits import trim_heap

PROBE = (
    "import resource; from peerwork.agents.process_limits import raise_nofile_limit;"
    "print(raise_nofile_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))"
)


def _probe(limits: str) -> list[int]:
    out = subprocess.run(
        ["prlimit", f"--nofile={limits}", sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [int(x) for x in out.stdout.split()]


def test_soft_limit_is_raised_to_the_hard_one() -> None:
    assert _probe("512:2048") == [2048, 2048, 2048]


def test_a_soft_limit_already_at_the_hard_one_stays() -> None:
    assert _probe("1024:1024") == [1024, 1024, 1024]


def _rss_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def test_trim_heap_gives_freed_heap_memory_back() -> None:
    # 64 KiB blocks come from the heap (below glibc's mmap threshold); one more
    # allocated after them keeps the heap's top from shrinking by itself.
    junk = [bytearray(64 * 1024) for _ in range(1600)]
    pin = bytearray(64 * 1024)
    before = _rss_mib()
    del junk
    freed = _rss_mib()
    trim_heap()
    after = _rss_mib()
    assert before - after > 64, (before, freed, after)
    assert len(pin) == 64 * 1024
