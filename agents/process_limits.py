"""Process-wide resource settings the agent makes at start.

- The soft RLIMIT_NOFILE is raised to the hard limit: every SMB connection and
  every file a client opens is a descriptor, and 1,024 (the usual soft default,
  also systemd's) is too few for an office. The unit file raises the hard limit
  (``LimitNOFILE=``).
- :func:`trim_heap` gives back what glibc's heaps keep after a burst. Its mmap
  threshold grows with the largest block freed, after which 8 MiB READ and
  WRITE buffers come from heaps that never shrink, so memory taken under load
  stayed taken after the clients left. Measured after a 1 GB burst (idle 57 MB):
  475 MB stayed without a trim, 74-82 MB with one. A fixed low threshold
  (mallopt) returned everything but halved large-write throughput (every
  buffer a fresh mmap), so it is not used.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import resource
from typing import Any

log = logging.getLogger(__name__)


def nofile_limit() -> int:
    """The soft limit on open descriptors now in force."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20  # "unlimited" is refused as a soft value on Linux
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return nofile_limit()
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
    else:
        log.debug("open-file limit raised from %d to %d", soft, hard)
    return nofile_limit()


def trim_heap() -> None:
    """Give freed heap memory back to the system now (glibc's malloc_trim; a no-op
    where there is none)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    # The process's own symbols: libc is loaded already (no find_library, which
    # would run ldconfig).
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None).malloc_trim
    return None
