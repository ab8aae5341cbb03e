"""Hostile SMB 3 bytes on the wire: transform frames that are junk, that name no
session, or arrive before any negotiation; NEGOTIATE requests with broken 3.1.1
contexts. Each is refused (an error answer or the connection ends), the server
logs nothing worse than INFO, and smbclient keeps working, encrypted, afterwards.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peerwork.proto.smb2_header import Smb2Header
from peerwork.proto.smb2_negctx import NegotiateContext, client_contexts
from peerwork.proto.smb2_negotiate import NegotiateRequest
from peerwork.shares import Access, Share
from tests.helpers.smbserver_runner import SmbLab, smb_server, smbclient

pytestmark = pytest.mark.skipif(shutil.which("smbclient") is None, reason="smbclient missing")

DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SmbLab]:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("hello")
    shares = [Share("docs", root, grants={"alice": Access.FULL})]
    with smb_server(tmp_path, users={"alice": "secret"}, shares=shares) as smb:
        yield smb


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _negotiate(contexts: tuple[NegotiateContext, ...]) -> bytes:
    body = NegotiateRequest(DIALECTS, 1, 0x7F, os.urandom(16), contexts).pack()
    return Smb2Header(command=0, message_id=0, credits=1).pack() + body


def _exchange(port: int, *payloads: bytes) -> list[bytes]:
    """Send each frame and read what comes back until the server stops answering."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for p in payloads:
            try:
                s.sendall(_frame(p))
                head = s.recv(4)
            except OSError:
                break
            if len(head) < 4:
                break
            length = int.from_bytes(head[1:], "big")
            data = b""
            while len(data) < length:
                chunk = s.recv(length - len(data))
                if not chunk:
                    break
                data += chunk
            answers.append(data)
    return answers


def _status(answer: bytes) -> int:
    return int(struct.unpack_from("<I", answer, 8)[0])


def test_hostile_smb3_frames_are_refused_and_others_served(
    lab: SmbLab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(1311)
    good_negotiate = _negotiate(client_contexts(os.urandom(32), [2, 1], [2, 1]))
    answer = _exchange(lab.port, good_negotiate)[0]
    assert _status(answer) == 0 and struct.unpack_from("<H", answer, 64 + 4)[0] == 0x0311
    for _ in range(40):
        junk = b"\xfdSMB" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        # Before any NEGOTIATE, and after a good 3.1.1 one: either way no session.
        assert _exchange(lab.port, junk) == []
        assert _exchange(lab.port, good_negotiate, junk)[1:] == []
    broken_contexts = [
        (),  # 3.1.1 offered without any context
        (NegotiateContext(0x0002, b"\x01\x00\x02\x00"),),  # no preauth context
        (*client_contexts(b"s"), *client_contexts(b"t")),  # preauth twice
        (NegotiateContext(0x0001, b"\x01\x00\x20\x00\x01\x00"),),  # salt runs past
        (NegotiateContext(0x0001, b"\x01\x00\x00\x00\x02\x00"),),  # SHA-512 not offered
    ]
    statuses = [_status(_exchange(lab.port, _negotiate(c))[0]) for c in broken_contexts]
    assert statuses == [0xC000000D] * 4 + [0xC05D0000]
    # The server is whole: an encrypted 3.1.1 session works, and nothing above was
    # logged as a failure of the server itself.
    r = smbclient(
        lab.port, "//127.0.0.1/docs", "-U", "alice%secret", "-m", "SMB3_11",
        "--client-protection=encrypt", "-c", f"get a.txt {tmp_path / 'got.txt'}",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "got.txt").read_text() == "hello"
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    deadline = time.monotonic() + 5
    while lab.server.server.connection_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.server.server.connection_count() == 0
