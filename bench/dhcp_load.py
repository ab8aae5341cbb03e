#!/usr/bin/env python3
"""A bounded DHCP load generator, run inside a PC namespace by bench/gateway.py.

    python bench/dhcp_load.py IFACE CLIENTS WINDOW SECONDS

CLIENTS made-up MACs each do DISCOVER → OFFER → REQUEST → ACK, with at most
WINDOW clients in flight, a 2 s timeout per step (then retried, up to 3
times) and SECONDS as the hard limit. Sends from port 68 of IFACE, reads
replies raw (the namespace has no address). Prints one line of JSON:
``{"leased": n, "seconds": s, "distinct": n, "failed": n}``.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time
from ipaddress import IPv4Address

from peerwork.proto.dhcp import (
    BROADCAST_FLAG,
    DhcpError,
    DhcpPacket,
    MessageType,
    Op,
    Opt,
    message_type_option,
)
from peerwork.proto.udp4 import Udp4Error, parse_ipv4_udp

STEP_TIMEOUT = 2.0
TRIES = 3


def packet(kind: MessageType, index: int, options: dict[int, bytes] | None = None) -> bytes:
    mac = bytes([0x02, 0x42, 0, 0, index >> 8, index & 0xFF])
    opts = {int(Opt.MESSAGE_TYPE): message_type_option(kind), **(options or {})}
    return DhcpPacket(Op.REQUEST, 0x5000_0000 + index, mac, opts, flags=BROADCAST_FLAG).pack()


def main() -> None:
    interface, clients, window, limit = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        float(sys.argv[4]),
    )
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    raw.bind((interface, 0x0800))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    send.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    send.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    send.bind(("0.0.0.0", 68))
    # index → (state "discover"|"request", deadline, tries, offered address)
    flying: dict[int, tuple[str, float, int, IPv4Address | None]] = {}
    waiting = list(range(clients))
    leased: dict[int, IPv4Address] = {}
    failed = 0
    start = time.monotonic()

    def discover(i: int, tries: int) -> None:
        send.sendto(packet(MessageType.DISCOVER, i), ("255.255.255.255", 67))
        flying[i] = ("discover", time.monotonic() + STEP_TIMEOUT, tries, None)

    while (waiting or flying) and time.monotonic() - start < limit:
        while waiting and len(flying) < window:
            discover(waiting.pop(), 1)
        ready, _, _ = select.select([raw], [], [], 0.05)
        for _ in range(256 if ready else 0):
            try:
                data = raw.recv(2048, socket.MSG_DONTWAIT)
                datagram = parse_ipv4_udp(data)
                if datagram.destination_port != 68:
                    continue
                reply = DhcpPacket.parse(datagram.payload)
            except BlockingIOError:
                break
            except (Udp4Error, DhcpError):
                continue
            i = reply.xid - 0x5000_0000
            state = flying.get(i)
            if reply.op is not Op.REPLY or state is None:
                continue
            if state[0] == "discover" and reply.message_type is MessageType.OFFER:
                request = packet(
                    MessageType.REQUEST,
                    i,
                    {
                        Opt.REQUESTED_IP: reply.yiaddr.packed,
                        Opt.SERVER_ID: reply.options.get(Opt.SERVER_ID, b""),
                    },
                )
                send.sendto(request, ("255.255.255.255", 67))
                flying[i] = ("request", time.monotonic() + STEP_TIMEOUT, state[2], reply.yiaddr)
            elif state[0] == "request" and reply.message_type is MessageType.ACK:
                leased[i] = reply.yiaddr
                del flying[i]
        now = time.monotonic()
        for i, (_, deadline, tries, _) in list(flying.items()):
            if deadline < now:
                del flying[i]
                if tries < TRIES:
                    discover(i, tries + 1)
                else:
                    failed += 1
    seconds = time.monotonic() - start
    print(
        json.dumps(
            {
                "leased": len(leased),
                "seconds": seconds,
                "distinct": len(set(leased.values())),
                "failed": failed + len(flying) + len(waiting),
            }
        )
    )


if __name__ == "__main__":
    main()
