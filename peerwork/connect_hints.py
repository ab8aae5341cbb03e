"""How to reach a share from the clients built into Linux, Windows and macOS."""

from __future__ import annotations

import shlex
import socket
from urllib.parse import quote

from peerwork.shares import ANONYMOUS, Access, Share


def local_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, found without sending anything."""
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        addr = str(info[4][0])
        if not addr.startswith("127.") and addr not in found:
            found.append(addr)
    return found


def connect_hints(share: Share, *, host: str, port: int, peer_name: str, user: str) -> list[str]:
    user = user or "ACCOUNT"
    port_opt = "" if port == 445 else f" -p {port}"
    mac_port = "" if port == 445 else f":{port}"
    # Shell-quoted for the commands, percent-encoded for the URL: names may have spaces.
    unc = shlex.quote(f"//{host}/{share.name}")
    target = shlex.quote(f"//{peer_name}/{share.name}")
    url = f"smb://{quote(user)}@{host}{mac_port}/{quote(share.name)}"
    lines = [
        f"Sharing {share.path} as '{share.name}' from {peer_name} (SMB port {port}).",
        "Connect from:",
        f"  Linux    smbclient {unc}{port_opt} -U {user}",
        f"           peerwork ls {target} --user {user}",
        f"  macOS    Finder > Go > Connect to Server: {url}",
    ]
    if port == 445:
        lines.append(f"  Windows  Explorer address bar: \\\\{host}\\{share.name}")
    else:
        lines.append(
            f"  Windows  \\\\{host}\\{share.name} — Windows only uses port 445: "
            "run the agent as root (or set [files] port = 445 with CAP_NET_BIND_SERVICE)"
        )
    shown = {ANONYMOUS: share.anonymous, **share.grants}
    grants = ", ".join(f"{who}={acc}" for who, acc in sorted(shown.items()))
    lines.append(f"Permissions: {grants}")
    if share.anonymous is Access.NONE:
        lines.append("Every client logs on with an account (anonymous=none).")
    return lines
