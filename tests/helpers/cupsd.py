"""A private cupsd for tests and benchmarks: its own config dir, a free loopback port.

Debian's ``cups-daemon`` installs cupsd without starting it; this runs one in
the foreground (``cupsd -f``) with ``FileDevice Yes`` so a queue may write to
a file, and stops it by PID. cupsd runs its filters and backends as ``lp``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.ports import unused_tcp_port

CUPSD_CONF = """Listen 127.0.0.1:{port}
LogLevel warn
MaxJobs 0
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""
CUPS_FILES = """FileDevice Yes
ServerRoot {root}
RequestRoot {root}/spool
TempDir {root}/tmp
CacheDir {root}/cache
StateDir {root}/state
ErrorLog {root}/error_log
AccessLog {root}/access_log
PageLog {root}/page_log
User lp
Group lp
"""


@dataclass(frozen=True, slots=True)
class Cupsd:
    proc: subprocess.Popen[bytes]
    port: int
    root: Path  # its config and state; lp must reach it, so never under pytest's 0700 tmp

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def run_cupsd() -> Cupsd:
    """Start cupsd with its state in a fresh folder under /tmp; returns once it answers."""
    port = unused_tcp_port()
    root = Path(tempfile.mkdtemp(prefix="peerwork-cupsd-"))
    root.chmod(0o755)
    for sub in ("spool", "tmp", "cache", "state", "ppd"):
        (root / sub).mkdir(exist_ok=True)
    (root / "cupsd.conf").write_text(CUPSD_CONF.format(port=port))
    (root / "cups-files.conf").write_text(CUPS_FILES.format(root=root))
    proc = subprocess.Popen(
        ["cupsd", "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")],
        start_new_session=True,
    )
    cupsd = Cupsd(proc, port, root)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (root / "error_log").read_text(errors="replace")
            stop(cupsd)
            raise AssertionError(f"cupsd exited: {log}")
        ready = subprocess.run(["lpstat", "-h", cupsd.host, "-r"], capture_output=True, text=True)
        if "is running" in ready.stdout:
            return cupsd
        time.sleep(0.2)
    stop(cupsd)
    raise AssertionError("cupsd did not answer within 20 s")


def lpadmin(cupsd: Cupsd, *args: str) -> None:
    run = subprocess.run(
        ["lpadmin", "-h", cupsd.host, *args], capture_output=True, text=True, timeout=60
    )
    if run.returncode != 0:
        raise AssertionError(f"lpadmin {' '.join(args)}: {run.stderr}")


def add_file_queue(cupsd: Cupsd, name: str) -> str:
    """A raw queue writing every job to a file in cupsd's folder; its ipp:// URI."""
    out = cupsd.root / f"out-{name}"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    lpadmin(cupsd, "-p", name, "-E", "-v", f"file://{out}/job")
    return f"ipp://{cupsd.host}/printers/{name}"


def stop(cupsd: Cupsd) -> None:
    """Stop it by PID and remove its folder."""
    cupsd.proc.terminate()
    try:
        cupsd.proc.wait(10)
    except subprocess.TimeoutExpired:
        cupsd.proc.kill()
        cupsd.proc.wait(5)
    shutil.rmtree(cupsd.root, ignore_errors=True)
