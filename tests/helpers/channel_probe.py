"""Hostile and honest channel clients for tests, runnable inside a namespace.

``python -m tests.helpers.channel_probe MODE HOST PORT [options]`` prints one
JSON line saying what happened. Modes:

``self-signed``  TLS with a certificate of our own making whose CN claims ``--peer-id``
``fresh``        a valid peerwork identity nobody has seen, saying hello
``garbage``      plain TCP, random bytes instead of a TLS ClientHello
``stall``        ``--count`` TCP connections that start a handshake and go silent
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import socket
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from peerwork.agents.channel.client import ChannelClient
from peerwork.errors import PeerworkError
from peerwork.identity import Identity
from peerwork.proto.channel import Request
from peerwork.proto.channel_hello import HELLO, HelloRequest


def self_signed_context(cn: str) -> ssl.SSLContext:
    """A TLS client context whose certificate we made ourselves, claiming ``cn``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder) / "c.pem", Path(folder) / "k.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def self_signed(host: str, port: int, peer_id: str) -> dict[str, Any]:
    ctx = self_signed_context(peer_id)
    try:
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            ctx.wrap_socket(raw) as tls,
        ):
            tls.sendall(Request("hello", 1, {"name": "EVIL"}).pack())
            data = tls.recv(65536)
    except (ssl.SSLError, OSError) as exc:
        return {"result": "refused", "detail": str(exc)}
    return {"result": "answered" if data else "closed", "detail": data.hex()}


async def fresh(host: str, port: int, peer_id: str) -> dict[str, Any]:
    client = ChannelClient(Identity.generate("stranger"))
    try:
        async with await client.connect(peer_id, host, port) as conn:
            reply = await conn.call(HELLO, HelloRequest("STRANGER"))
    except PeerworkError as exc:
        return {"result": "refused", "error": type(exc).__name__, "detail": exc.message}
    return {"result": "answered", "reply": reply.to_body()}


def garbage(host: str, port: int) -> dict[str, Any]:
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sock:
        try:
            sock.sendall(os.urandom(64 * 1024))
            while sock.recv(65536):
                pass
        except OSError as exc:
            return {"result": "closed", "after": time.monotonic() - started, "detail": str(exc)}
    return {"result": "closed", "after": time.monotonic() - started}


def stall(host: str, port: int, count: int, hold: float) -> dict[str, Any]:
    """Open ``count`` connections that send half a ClientHello; when did each close?"""
    started = time.monotonic()
    socks = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a record that never ends
        socks.append(sock)
    closed_after: list[float | None] = [None] * count
    deadline = started + hold
    while time.monotonic() < deadline and None in closed_after:
        for i, sock in enumerate(socks):
            if closed_after[i] is not None:
                continue
            sock.settimeout(0.05)
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                closed_after[i] = round(time.monotonic() - started, 2)
    for sock in socks:
        sock.close()
    return {"result": "done", "closed_after": closed_after}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["self-signed", "fresh", "garbage", "stall"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--peer-id", default="")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--hold", type=float, default=10.0)
    args = parser.parse_args()
    if args.mode == "self-signed":
        out = self_signed(args.host, args.port, args.peer_id)
    elif args.mode == "fresh":
        out = asyncio.run(fresh(args.host, args.port, args.peer_id))
    elif args.mode == "garbage":
        out = garbage(args.host, args.port)
    else:
        out = stall(args.host, args.port, args.count, args.hold)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
