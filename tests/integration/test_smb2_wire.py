"""Bad input over the wire against peerwork's SMB2 server, with raw SMB2 bytes.

impacket (a real SMB client) negotiates 2.1 and logs on; the requests under
test are then packed by hand here (struct, not peerwork's codecs) and sent on
the same TCP connection, so the server sees exactly the bytes a broken or
hostile client would send: lengths beyond MaxRead/MaxWrite, offsets past
2^63-1, writes on a read-only open, a compound's padding, 200 idle
connections, and a client that vanishes halfway through a WRITE.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from impacket.smb3structs import SMB2_DIALECT_21
from impacket.smbconnection import SMBConnection

from peerwork.agents.smb.cmd_session import LARGE_MAX
from peerwork.agents.smb.limits import ServerLimits
from peerwork.shares import Access, Share
from tests.helpers.smbserver_runner import ServerThread, smb_server

CREATE, CLOSE, READ, WRITE = 0x05, 0x06, 0x08, 0x09
RELATED = 0x04
SUCCESS = 0
INVALID_PARAMETER = 0xC000000D
ACCESS_DENIED = 0xC0000022
SHARING_VIOLATION = 0xC0000043
END_OF_FILE = 0xC0000011

FILE_READ_DATA, FILE_WRITE_DATA = 0x1, 0x2
READ_ATTRIBUTES, SYNCHRONIZE = 0x80, 0x100000
FILE_OPEN, FILE_OPEN_IF = 1, 3
SHARE_ALL = 7
INT64_MAX = 2**63 - 1
ALL_ONES = 2**64 - 1

_HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class RawClient:
    """An SMB 2.1 session (logged on by impacket) that sends hand-packed requests."""

    def __init__(self, port: int, user: str, password: str, share: str) -> None:
        self.conn = SMBConnection(
            "127.0.0.1", "127.0.0.1", sess_port=port, preferredDialect=SMB2_DIALECT_21
        )
        self.conn.login(user, password)
        self.tid = self.conn.connectTree(share)
        smb = self.conn._SMBConnection
        self.sid: int = smb._Session["SessionID"]
        # What the server offered for 2.1 (impacket caps its own view at 1 MiB).
        self.max_read = self.max_write = LARGE_MAX
        self.netbios = smb._NetBIOSSession
        self._smb = smb

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def _next_id(self, charge: int) -> int:
        mid: int = self._smb._Connection["SequenceWindow"]
        self._smb._Connection["SequenceWindow"] += max(1, charge)
        return mid

    def _message(self, cmd: int, body: bytes, flags: int = 0, charge: int = 1) -> bytes:
        head = _HEADER.pack(
            b"\xfeSMB", 64, charge, 0, cmd, 64, flags, 0, self._next_id(charge), 0,
            self.tid, self.sid, b"\0" * 16,
        )  # fmt: skip
        return head + body

    def call(self, *requests: tuple[int, bytes, int]) -> list[tuple[Answer, int]]:
        """Send (command, body, flags) requests as one frame (a compound if several);
        return each answer with its message length as sent (padding included)."""
        msgs = []
        for i, (cmd, body, flags) in enumerate(requests):
            charge = max(1, (_io_length(cmd, body) + 65535) // 65536)
            msg = self._message(cmd, body, flags, charge)
            if i < len(requests) - 1:
                msg += b"\0" * ((-len(msg)) % 8)
                msg = msg[:20] + struct.pack("<I", len(msg)) + msg[24:]
            msgs.append(msg)
        self.netbios.send_packet(b"".join(msgs))
        out: list[tuple[Answer, int]] = []
        while len(out) < len(requests):
            data = self.netbios.recv_packet(10).get_trailer()
            off = 0
            while True:
                status, nxt = struct.unpack_from("<I", data, off + 8)[0], _next(data, off)
                if status == 0x103:  # STATUS_PENDING: the final answer follows
                    break
                end = off + nxt if nxt else len(data)
                out.append((Answer(status, data[off + 64 : end]), end - off))
                if not nxt:
                    break
                off += nxt
        return out

    def one(self, cmd: int, body: bytes) -> Answer:
        return self.call((cmd, body, 0))[0][0]

    def create(
        self, name: str, desired: int, share: int = SHARE_ALL, disposition: int = FILE_OPEN_IF
    ) -> tuple[int, bytes]:
        answer = self.one(CREATE, create_body(name, desired, share, disposition))
        return answer.status, answer.body[64:80]


def _next(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", data, off + 20)[0])


def _io_length(cmd: int, body: bytes) -> int:
    if cmd in (READ, WRITE) and len(body) >= 8:
        length = int(struct.unpack_from("<I", body, 4)[0])
        # Past the maximum the server must refuse the length itself, whatever was paid.
        return length if length <= LARGE_MAX else 0
    return 0


def create_body(name: str, desired: int, share: int = SHARE_ALL, disposition: int = 3) -> bytes:
    raw = name.encode("utf-16-le")
    head = struct.pack(
        "<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, desired | SYNCHRONIZE, 0x80, share,
        disposition, 0x40, 120, len(raw), 0, 0,
    )  # fmt: skip
    return head + (raw or b"\0")


def read_body(fid: bytes, length: int, offset: int) -> bytes:
    return struct.pack("<HBBIQ16sIIIHH", 49, 0x50, 0, length, offset, fid, 0, 0, 0, 0, 0) + b"\0"


def write_body(fid: bytes, data: bytes, offset: int, claimed: int | None = None) -> bytes:
    length = len(data) if claimed is None else claimed
    return struct.pack("<HHIQ16sIIHHI", 49, 112, length, offset, fid, 0, 0, 0, 0, 0) + data


def close_body(fid: bytes) -> bytes:
    return struct.pack("<HHI16s", 24, 0, 0, fid)


@dataclass
class Lab:
    srv: ServerThread
    root: Path

    @property
    def port(self) -> int:
        return self.srv.port

    def client(self, user: str = "alice", password: str = "secret") -> RawClient:  # noqa: S107
        return RawClient(self.port, user, password, "docs")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "data.bin").write_bytes(b"0123456789")
    # 211 connections from one address in the idle test: above the default per-client cap.
    limits = ServerLimits(max_connections_per_client=256)
    with smb_server(
        tmp_path,
        users={"alice": "secret", "bob": "hunter2"},
        shares=[Share("docs", root, "", {"alice": Access.CHANGE, "bob": Access.READ})],
        idle_timeout=1.5,
        preauth_timeout=1.5,
        limits=limits,
    ) as smb:
        yield Lab(smb.server, root)


def test_read_and_write_beyond_the_negotiated_maximum(lab: Lab) -> None:
    c = lab.client()
    try:
        status, fid = c.create("data.bin", FILE_READ_DATA | FILE_WRITE_DATA)
        assert status == SUCCESS
        assert c.one(READ, read_body(fid, c.max_read + 1, 0)).status == INVALID_PARAMETER
        big = b"x" * (c.max_write + 1)
        assert c.one(WRITE, write_body(fid, big, 0)).status == INVALID_PARAMETER
        # A WRITE whose Length claims more bytes than the message carries.
        assert c.one(WRITE, write_body(fid, b"abc", 0, claimed=4096)).status == INVALID_PARAMETER
        # The session still works, and nothing was written.
        ok = c.one(READ, read_body(fid, 10, 0))
        assert ok.status == SUCCESS and ok.body[16:] == b"0123456789"
    finally:
        c.close()
    assert (lab.root / "data.bin").read_bytes() == b"0123456789"


@pytest.mark.parametrize(
    ("offset", "length", "expect"),
    [
        (INT64_MAX - 1, 1, END_OF_FILE),
        (INT64_MAX, 0, SUCCESS),
        (INT64_MAX, 1, INVALID_PARAMETER),
        (INT64_MAX + 1, 0, INVALID_PARAMETER),
        (ALL_ONES, 1, INVALID_PARAMETER),
        (ALL_ONES - 1, 0, INVALID_PARAMETER),
    ],
)
def test_read_offsets_past_the_signed_range(
    lab: Lab, offset: int, length: int, expect: int
) -> None:
    c = lab.client()
    try:
        _, fid = c.create("data.bin", FILE_READ_DATA)
        assert c.one(READ, read_body(fid, length, offset)).status == expect
    finally:
        c.close()


@pytest.mark.parametrize(
    ("offset", "length", "expect"),
    [
        (ALL_ONES, 4, INVALID_PARAMETER),  # no "write at end of file" offset in SMB2
        (ALL_ONES - 1, 4, INVALID_PARAMETER),
        (2**63, 0, INVALID_PARAMETER),
        (INT64_MAX, 1, INVALID_PARAMETER),
        (INT64_MAX, 0, SUCCESS),
        (0xFFFFFFF0000, 1, INVALID_PARAMETER),  # past NTFS's largest file, as Windows
        (0xFFFFFFF0000, 0, SUCCESS),
    ],
)
def test_write_offsets_past_the_limits(lab: Lab, offset: int, length: int, expect: int) -> None:
    c = lab.client()
    try:
        _, fid = c.create("data.bin", FILE_READ_DATA | FILE_WRITE_DATA)
        assert c.one(WRITE, write_body(fid, b"z" * length, offset)).status == expect
    finally:
        c.close()
    assert (lab.root / "data.bin").read_bytes() == b"0123456789"


def test_write_on_a_read_only_open_is_refused(lab: Lab) -> None:
    c = lab.client()
    bob = lab.client("bob", "hunter2")
    try:
        _, fid = c.create("data.bin", FILE_READ_DATA | READ_ATTRIBUTES)
        assert c.one(WRITE, write_body(fid, b"NOPE", 0)).status == ACCESS_DENIED
        # Bob's grant is read: he cannot even ask for write access, and a read open
        # stays read-only whatever he sends.
        assert bob.create("data.bin", FILE_WRITE_DATA)[0] == ACCESS_DENIED
        # OPEN_IF on an existing file only opens (as on Windows); on a missing one it
        # would create, which a read grant refuses.
        assert bob.create("new.txt", FILE_READ_DATA)[0] == ACCESS_DENIED
        status, bob_fid = bob.create("data.bin", FILE_READ_DATA)
        assert status == SUCCESS, hex(status)
        assert bob.one(WRITE, write_body(bob_fid, b"NOPE", 0)).status == ACCESS_DENIED
    finally:
        c.close()
        bob.close()
    assert (lab.root / "data.bin").read_bytes() == b"0123456789"


def test_last_response_of_a_compound_is_padded(lab: Lab) -> None:
    c = lab.client()
    try:
        answers = c.call(
            (CREATE, create_body("data.bin", FILE_READ_DATA, disposition=FILE_OPEN), 0),
            (READ, read_body(b"\xff" * 16, 3, 0), RELATED),
        )
        (created, _), (read, size) = answers
        assert created.status == SUCCESS and read.status == SUCCESS
        assert read.body[16:19] == b"012"
        # 16-byte READ response + 3 bytes, padded to 8: what Windows sends.
        assert size - 64 == 24
    finally:
        c.close()


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _wait(cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_idle_connections_are_bounded_and_closed(lab: Lab) -> None:
    before = _rss_kib()
    silent = [socket.create_connection(("127.0.0.1", lab.port), timeout=5) for _ in range(200)]
    logged_on = [lab.client() for _ in range(10)]
    busy = lab.client()
    try:
        status, _fid = busy.create("data.bin", FILE_READ_DATA)  # an open file: not idle
        assert status == SUCCESS
        assert _wait(lambda: lab.srv.server.connection_count() == 211, 5)
        assert _rss_kib() - before < 64 * 1024, "200 idle connections took over 64 MiB"
        # Both the never-logged-on and the logged-on idle ones go; the busy one stays.
        assert _wait(lambda: lab.srv.server.connection_count() == 1, 10)
        for s in silent[:5]:
            s.settimeout(5)
            assert s.recv(1) == b""  # closed by the server
        answer = busy.one(READ, read_body(_fid, 4, 0))
        assert answer.status == SUCCESS and answer.body[16:] == b"0123"
    finally:
        for s in silent:
            s.close()
        for c in (*logged_on, busy):
            c.close()


def test_client_vanishing_mid_write_leaves_no_open_behind(lab: Lab) -> None:
    c = lab.client()
    status, fid = c.create("data.bin", FILE_READ_DATA | FILE_WRITE_DATA, share=0)
    assert status == SUCCESS
    other = lab.client("alice", "secret")
    try:
        # Exclusive open: a second open is a sharing violation while it lives.
        assert other.create("data.bin", FILE_READ_DATA, share=0)[0] == SHARING_VIOLATION
        # A WRITE of 1 MiB whose frame stops after 100 KiB, then the client is gone.
        msg = c._message(WRITE, write_body(fid, b"w" * 1024 * 1024, 0), charge=16)
        sock = c.netbios.get_socket()
        sock.sendall(struct.pack(">I", len(msg)) + msg[: 100 * 1024])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        assert _wait(lambda: other.create("data.bin", FILE_READ_DATA, share=0)[0] == SUCCESS, 5)
    finally:
        other.close()
        c.close()
    assert (lab.root / "data.bin").read_bytes() == b"0123456789"
