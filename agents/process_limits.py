"""Process-wide resource settings the agent makes at start.

- The soft RLIMIT_NOFILE is raised to the hard limit: every SMB connection and
  every file a client opens is a descriptor, and 1,024 (the usual soft default,
  also systemd's) is too few for an office. The unit file raises the hard limit
  (``LimitNOFILE=``).
- glibc's malloc is told to hand large blocks (READ and WRITE buffers) straight
  back to the system when freed. Its default threshold for that grows with the
  largest block freed, after which 8 MiB buffers come from heaps that never
  shrink, so memory taken under load stayed taken after the clients left.
  :func:`trim_heap` returns what the heaps still keep after a burst (measured:
  a 1 GB burst left 475 MB behind without either, 219 MB with the threshold
  alone, nothing above idle with both).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import resource

log = logging.getLogger(__name__)

# mallopt parameter (malloc.h); a fixed value also turns off the sliding threshold.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024


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


def return_large_frees() -> bool:
    """Ask glibc to unmap large blocks when freed (no-op elsewhere); True if it did."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return False


def trim_heap() -> None:
    """Give freed heap memory back to the system now (glibc's malloc_trim)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)
