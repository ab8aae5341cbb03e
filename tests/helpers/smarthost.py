"""A stand-in for the ISP's smarthost: aiosmtpd with STARTTLS (required) and AUTH.

Run as ``python -m tests.helpers.smarthost --dir D --host H --port P --user U
--password W [--refuse ADDRESS]…`` (in a namespace of the test's own, or on
loopback). It writes ``D/cert.pem`` (a self-signed certificate for H, which the
agent under test is told to trust) and prints ``ready`` once it listens. Each
message it accepts is saved as ``D/msg-N.eml`` with a JSON line on stdout
(sender, recipients, size); ``D/bytes`` holds every byte it received in DATA.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "office@isp.example", "isp secret 7"


@dataclass
class RunningSmarthost:
    """A started smarthost, seen from the test: what it received, and how to stop it."""

    proc: subprocess.Popen[str]
    folder: Path
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ca(self) -> Path:
        return self.folder / "cert.pem"

    def received(self) -> bytes:
        return (self.folder / "bytes").read_bytes()

    def messages(self) -> list[bytes]:
        found = sorted(self.folder.glob("msg-*.eml"), key=lambda p: int(p.stem[4:]))
        return [p.read_bytes() for p in found]

    def stop(self) -> list[dict[str, object]]:
        """Stop it (by its own process group); the JSON line of each message it took."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def start_smarthost(
    folder: Path, host: str, port: int, *extra: str, prefix: Sequence[str] = ()
) -> RunningSmarthost:
    """Run this module (inside ``prefix``, e.g. ``ip netns exec NS``) until it listens."""
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "tests.helpers.smarthost", "--dir", str(folder),
         "--host", host, "--port", str(port), "--user", USER, "--password", PASSWORD, *extra],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"the smarthost did not start: {line!r}")
    return RunningSmarthost(proc, folder, host, port)


def make_certificate(folder: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Recorder:
    def __init__(self, folder: Path, refuse: set[str]) -> None:
        self.folder = folder
        self.refuse = refuse
        self.count = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.count += 1
        (self.folder / f"msg-{self.count}.eml").write_bytes(data)
        with (self.folder / "bytes").open("ab") as total:
            total.write(data)
        user = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        line = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "size": len(data),
            "user": user,
        }
        print(json.dumps(line), flush=True)
        return "250 2.0.0 Ok: queued"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=587)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--refuse", action="append", default=[])
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "bytes").write_bytes(b"")
    cert, key = make_certificate(args.dir, args.host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == args.user
            and data.password.decode() == args.password
        )
        return AuthResult(success=ok, auth_data=data.login if ok else None)

    controller = Controller(
        Recorder(args.dir, {a.lower() for a in args.refuse}),
        hostname=args.host,
        port=args.port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
        data_size_limit=None,
        ready_timeout=20,
    )
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
