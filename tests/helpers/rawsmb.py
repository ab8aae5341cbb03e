"""A hostile SMB 2.1 client for attack tests: impacket logs on, the requests are hand-packed.

impacket (a real client) negotiates and runs the NTLM logon; every request after
that is packed here with ``struct`` (not peerwork's codecs), so the server sees
exactly the bytes an attacker would send: any TreeId, SessionId or FileId, any
info class, any compound chain. Each call returns the raw status and body, never
raises on an error status.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass

from impacket.smb3structs import SMB2_DIALECT_21
from impacket.smbconnection import SMBConnection

NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT = 0, 1, 2, 3, 4
CREATE, CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL = 5, 6, 7, 8, 9, 10, 11
QUERY_DIRECTORY, QUERY_INFO, SET_INFO = 14, 16, 17
RELATED = 0x04
COMPOUND_FID = b"\xff" * 16

# Access rights (MS-SMB2 2.2.13.1).
READ_DATA, WRITE_DATA, APPEND_DATA = 0x1, 0x2, 0x4
READ_EA, WRITE_EA, EXECUTE = 0x8, 0x10, 0x20
READ_ATTRIBUTES, WRITE_ATTRIBUTES = 0x80, 0x100
DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER, SYNCHRONIZE = (
    0x10000,
    0x20000,
    0x40000,
    0x80000,
    0x100000,
)
ACCESS_SYSTEM_SECURITY, MAXIMUM_ALLOWED = 0x1000000, 0x2000000
GENERIC_ALL, GENERIC_EXECUTE, GENERIC_WRITE, GENERIC_READ = (
    0x10000000,
    0x20000000,
    0x40000000,
    0x80000000,
)
READ_ACCESS = READ_DATA | READ_ATTRIBUTES

# Dispositions and options.
SUPERSEDE, OPEN, CREATE_NEW, OPEN_IF, OVERWRITE, OVERWRITE_IF = 0, 1, 2, 3, 4, 5
DIRECTORY_FILE, NON_DIRECTORY_FILE, DELETE_ON_CLOSE = 0x1, 0x40, 0x1000
SHARE_ALL = 7

# Info types and classes.
INFO_FILE, INFO_FS, INFO_SECURITY = 1, 2, 3
BASIC, RENAME, LINK, DISPOSITION, ALLOCATION, END_OF_FILE = 4, 10, 11, 13, 19, 20
NAMES_INFORMATION = 12

_HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    tree_id: int = 0
    session_id: int = 0


class RawSmb:
    """One TCP connection; logged on as ``user`` unless ``user`` is None (negotiate only)."""

    def __init__(
        self,
        port: int,
        user: str | None,
        password: str = "",
        domain: str = "",
        dialect: str = SMB2_DIALECT_21,
    ) -> None:
        """``dialect``: impacket's name for it (SMB2_DIALECT_21, SMB2_DIALECT_30, …)."""
        self.conn = SMBConnection(
            "127.0.0.1", "127.0.0.1", sess_port=port, preferredDialect=dialect
        )
        if user is not None:
            self.conn.login(user, password, domain)
        self._smb = self.conn._SMBConnection
        self.netbios = self._smb._NetBIOSSession
        self.tid = 0

    @property
    def sid(self) -> int:
        return int(self._smb._Session["SessionID"])

    def relogon(self, user: str, password: str, domain: str = "") -> None:
        """SESSION_SETUP again on the same SessionId (MS-SMB2 re-authentication);
        raises impacket's SessionError when refused."""
        self._smb.login(user, password, domain)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def _next_id(self) -> int:
        mid: int = self._smb._Connection["SequenceWindow"]
        self._smb._Connection["SequenceWindow"] += 1
        return mid

    def call(
        self, *requests: tuple[int, bytes, int], tid: int | None = None, sid: int | None = None
    ) -> list[Answer]:
        """Send (command, body, flags) requests as one frame (a compound if several)."""
        tree = self.tid if tid is None else tid
        session = self.sid if sid is None else sid
        msgs = []
        for i, (cmd, body, flags) in enumerate(requests):
            head = _HEADER.pack(
                b"\xfeSMB", 64, 1, 0, cmd, 64, flags, 0, self._next_id(), 0, tree, session,
                b"\0" * 16,
            )  # fmt: skip
            msg = head + body
            if i < len(requests) - 1:
                msg += b"\0" * ((-len(msg)) % 8)
                msg = msg[:20] + struct.pack("<I", len(msg)) + msg[24:]
            msgs.append(msg)
        self.netbios.send_packet(b"".join(msgs))
        out: list[Answer] = []
        while len(out) < len(requests):
            data = self.netbios.recv_packet(10).get_trailer()
            off = 0
            while True:
                status, nxt = struct.unpack_from("<I", data, off + 8)[0], _u32(data, off + 20)
                if status == 0x103:  # STATUS_PENDING: the final answer follows
                    break
                end = off + nxt if nxt else len(data)
                tree_id, session_id = struct.unpack_from("<IQ", data, off + 36)
                out.append(Answer(status, data[off + 64 : end], tree_id, session_id))
                if not nxt:
                    break
                off += nxt
        return out

    def one(self, cmd: int, body: bytes, **ids: int) -> Answer:
        return self.call((cmd, body, 0), **ids)[0]

    # --- commands --------------------------------------------------------------------

    def tree_connect(self, share: str, **ids: int) -> Answer:
        """Connect ``\\\\127.0.0.1\\<share>`` (or ``share`` as given if it starts with ``\\``);
        on success the tree becomes this client's default TreeId."""
        answer = self.one(TREE_CONNECT, tree_connect_body(share), **ids)
        if answer.status == 0 and not ids:
            self.tid = answer.tree_id
        return answer

    def create(
        self,
        name: str,
        access: int,
        disposition: int = OPEN,
        options: int = 0,
        share: int = SHARE_ALL,
        attributes: int = 0x80,
        **ids: int,
    ) -> tuple[int, bytes]:
        answer = self.one(
            CREATE, create_body(name, access, disposition, options, share, attributes), **ids
        )
        return answer.status, answer.body[64:80]

    def set_info(
        self, fid: bytes, klass: int, data: bytes, info_type: int = INFO_FILE, extra: int = 0,
        **ids: int,
    ) -> int:  # fmt: skip
        return self.one(SET_INFO, set_info_body(fid, info_type, klass, data, extra), **ids).status

    def write(self, fid: bytes, data: bytes, offset: int = 0, **ids: int) -> int:
        return self.one(WRITE, write_body(fid, data, offset), **ids).status

    def read(self, fid: bytes, length: int, offset: int = 0, **ids: int) -> Answer:
        return self.one(READ, read_body(fid, length, offset), **ids)

    def close_file(self, fid: bytes, **ids: int) -> int:
        return self.one(CLOSE, close_body(fid), **ids).status

    def ioctl(self, fid: bytes, code: int, data: bytes = b"", **ids: int) -> int:
        return self.one(IOCTL, ioctl_body(fid, code, data), **ids).status

    def list_dir(self, fid: bytes, pattern: str, **ids: int) -> tuple[int, list[str]]:
        """QUERY_DIRECTORY (FileNamesInformation, restart) → status and names."""
        answer = self.one(QUERY_DIRECTORY, query_directory_body(fid, pattern), **ids)
        if answer.status != 0:
            return answer.status, []
        off, ln = struct.unpack_from("<HI", answer.body, 2)
        return 0, parse_names(answer.body[off - 64 : off - 64 + ln])


def _u32(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", data, off)[0])


def tree_connect_body(share: str) -> bytes:
    path = share if share.startswith("\\") else f"\\\\127.0.0.1\\{share}"
    raw = path.encode("utf-16-le")
    return struct.pack("<HHHH", 9, 0, 72, len(raw)) + raw


def create_body(
    name: str, access: int, disposition: int, options: int, share: int, attributes: int
) -> bytes:
    raw = name.encode("utf-16-le", "surrogatepass")
    head = struct.pack(
        "<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, access, attributes, share, disposition,
        options, 120, len(raw), 0, 0,
    )  # fmt: skip
    return head + (raw or b"\0")


def set_info_body(fid: bytes, info_type: int, klass: int, data: bytes, extra: int = 0) -> bytes:
    head = struct.pack("<HBBIHHI16s", 33, info_type, klass, len(data), 96, 0, extra, fid)
    return head + data


def rename_info(name: str, replace: bool = False, root: int = 0) -> bytes:
    raw = name.encode("utf-16-le", "surrogatepass")
    return struct.pack("<B7xQI", int(replace), root, len(raw)) + raw


def basic_info(times: tuple[int, int, int, int] = (0, 0, 0, 0), attributes: int = 0) -> bytes:
    return struct.pack("<QQQQII", *times, attributes, 0)


def write_body(fid: bytes, data: bytes, offset: int) -> bytes:
    return struct.pack("<HHIQ16sIIHHI", 49, 112, len(data), offset, fid, 0, 0, 0, 0, 0) + data


def read_body(fid: bytes, length: int, offset: int) -> bytes:
    return struct.pack("<HBBIQ16sIIIHH", 49, 0x50, 0, length, offset, fid, 0, 0, 0, 0, 0) + b"\0"


def close_body(fid: bytes) -> bytes:
    return struct.pack("<HHI16s", 24, 0, 0, fid)


def flush_body(fid: bytes) -> bytes:
    return struct.pack("<HHI16s", 24, 0, 0, fid)


def ioctl_body(fid: bytes, code: int, data: bytes) -> bytes:
    fsctl = 1
    return (
        struct.pack("<HHI16sIIIIIIII", 57, 0, code, fid, 120, len(data), 0, 120, 0, 4096, fsctl, 0)
        + data
    )


def query_directory_body(fid: bytes, pattern: str, klass: int = NAMES_INFORMATION) -> bytes:
    raw = pattern.encode("utf-16-le", "surrogatepass")
    restart = 0x01
    return struct.pack("<HBBI16sHHI", 33, klass, restart, 0, fid, 96, len(raw), 65536) + (
        raw or b"\0"
    )


def parse_names(data: bytes) -> list[str]:
    names: list[str] = []
    off = 0
    while off + 12 <= len(data):
        nxt, _index, ln = struct.unpack_from("<III", data, off)
        names.append(data[off + 12 : off + 12 + ln].decode("utf-16-le"))
        if not nxt:
            break
        off += nxt
    return names
