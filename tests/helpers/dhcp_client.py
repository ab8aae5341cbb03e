"""A scriptable raw DHCP client for hostile tests, run inside a PC namespace.

    python -m tests.helpers.dhcp_client eth0 '[{"type": "DISCOVER", "mac": "02:..."}, ...]'

Each step is sent from port 68 of the interface (broadcast, or raw bytes with
``"raw": "hex"``); replies with the same xid are read raw off the interface
(the PC has no address) for ``wait`` seconds (default 2). One JSON line per
step on stdout: ``{"reply": "OFFER"|"ACK"|"NAK"|null, "yiaddr": ..., "message": ...}``.
Steps may say ``"requested"``, ``"server"``, ``"ciaddr"``, ``"hostname"``, ``"xid"``.
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import time
from ipaddress import IPv4Address
from typing import Any

from peerwork.proto.dhcp import (
    BROADCAST_FLAG,
    ZERO,
    DhcpError,
    DhcpPacket,
    MessageType,
    Op,
    Opt,
    message_type_option,
)
from peerwork.proto.udp4 import Udp4Error, parse_ipv4_udp


def build(step: dict[str, Any], xid: int) -> bytes:
    if "raw" in step:
        return bytes.fromhex(step["raw"])
    options = {Opt.MESSAGE_TYPE: message_type_option(MessageType[step["type"]])}
    if "requested" in step:
        options[Opt.REQUESTED_IP] = IPv4Address(step["requested"]).packed
    if "server" in step:
        options[Opt.SERVER_ID] = IPv4Address(step["server"]).packed
    if "hostname" in step:
        options[Opt.HOSTNAME] = step["hostname"].encode()
    packet = DhcpPacket(
        Op.REQUEST,
        xid,
        bytes.fromhex(step["mac"].replace(":", "")),
        {int(k): v for k, v in options.items()},
        flags=BROADCAST_FLAG,
        ciaddr=IPv4Address(step.get("ciaddr", "0.0.0.0")),
    )
    return packet.pack()


def main() -> None:
    interface, steps = sys.argv[1], json.loads(sys.argv[2])
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    raw.bind((interface, 0x0800))
    raw.settimeout(0.1)
    send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    send.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    send.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    send.bind(("0.0.0.0", 68))
    for step in steps:
        xid = int(step.get("xid", secrets.randbits(32)))
        send.sendto(build(step, xid), ("255.255.255.255", 67))
        result: dict[str, Any] = {"reply": None}
        deadline = time.monotonic() + float(step.get("wait", 2))
        while time.monotonic() < deadline:
            try:
                data = raw.recv(2048)
                datagram = parse_ipv4_udp(data)
                if datagram.destination_port != 68:
                    continue
                reply = DhcpPacket.parse(datagram.payload)
            except (TimeoutError, Udp4Error, DhcpError):
                continue
            if reply.op is Op.REPLY and reply.xid == xid and reply.message_type is not None:
                result = {
                    "reply": reply.message_type.name,
                    "yiaddr": str(reply.yiaddr) if reply.yiaddr != ZERO else None,
                    "message": reply.options.get(Opt.MESSAGE, b"").decode(errors="replace"),
                }
                break
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
