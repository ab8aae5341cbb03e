"""A private avahi-daemon (with its own D-Bus) inside one lab namespace, for avahi-browse.

avahi-daemon talks to clients over the system D-Bus and keeps a pid file at
/run/avahi-daemon/pid. So that nothing here touches the host (its bus, another
test's avahi), each instance gets a dbus-daemon listening on a socket in a temp
folder (found through ``DBUS_SYSTEM_BUS_ADDRESS``, which libdbus honours) and
runs in a private mount namespace with a tmpfs over /run. Publishing is off
unless asked for (``publish=True``, optionally with ``host_name``): a browsing
avahi never competes with the responder under test, a publishing one is the
"avahi already runs on this PC" case (FIELD-NOTES: one responder per host).
Both processes are started through the lab and stopped by PID at its teardown.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.netns import PC, NetnsLab

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

_AVAHI_CONF = """[server]
{host_name}use-ipv4=yes
use-ipv6=no
allow-interfaces={iface}
enable-dbus=yes
[publish]
disable-publishing={disable}
[wide-area]
enable-wide-area=no
"""


class Avahi:
    def __init__(
        self, lab: NetnsLab, pc: PC, folder: Path, *, publish: bool = False, host_name: str = ""
    ) -> None:
        for tool in ("avahi-daemon", "avahi-browse", "dbus-daemon", "unshare"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} is not installed (Debian: avahi-daemon avahi-utils dbus)")
        self.lab, self.pc = lab, pc
        folder.mkdir(parents=True, exist_ok=True)
        socket = folder / "bus"
        (folder / "bus.conf").write_text(_BUS_CONF.format(socket=socket))
        conf = _AVAHI_CONF.format(
            iface=pc.ifname,
            disable="no" if publish else "yes",
            host_name=f"host-name={host_name}\n" if host_name else "",
        )
        (folder / "avahi.conf").write_text(conf)
        self.env = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={socket}", "PATH": "/usr/sbin:/usr/bin"}
        lab.popen(pc, ["dbus-daemon", "--nofork", f"--config-file={folder / 'bus.conf'}"])
        _wait(lambda: socket.exists(), "private dbus-daemon socket")
        self.log = folder / "avahi.log"
        script = (
            "mount -t tmpfs none /run && exec avahi-daemon --no-drop-root --no-chroot "
            f"-f {folder / 'avahi.conf'}"
        )
        with self.log.open("w") as log:
            lab.popen(
                pc,
                ["env", *(f"{k}={v}" for k, v in self.env.items()), "unshare", "-m",
                 "--propagation", "private", "sh", "-c", script],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait(lambda: "Server startup complete" in self.log.read_text(), "avahi-daemon start")

    def browse(self, service_type: str, timeout: float = 10) -> list[list[str]]:
        """``avahi-browse -rtp TYPE``: resolved (``=``) lines split on ';'."""
        out = self.lab.run(
            self.pc,
            ["env", *(f"{k}={v}" for k, v in self.env.items()),
             "avahi-browse", "-rtp", "--no-db-lookup", service_type],
            timeout=timeout,
        ).stdout  # fmt: skip
        return [line.split(";") for line in out.splitlines() if line.startswith("=")]


def _wait(ready: object, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come up within {timeout} s")
