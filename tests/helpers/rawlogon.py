"""Hand-packed SESSION_SETUP requests for logon attack tests (impacket builds the NTLM tokens).

A :class:`~tests.helpers.rawsmb.RawSmb` connection sends them; :func:`pipeline`
sends many frames before reading any answer, as a hostile client would.
"""

from __future__ import annotations

import struct

from impacket import ntlm
from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp, TypesMech

from tests.helpers import rawsmb as r

MORE_PROCESSING_REQUIRED = 0xC0000016
LOGON_FAILURE = 0xC000006D
INSUFFICIENT_RESOURCES = 0xC000009A
USER_SESSION_DELETED = 0xC0000203
ECHO = 0x0D
_NTLMSSP = TypesMech["NTLMSSP - Microsoft NTLM Security Support Provider"]


def session_setup_body(token: bytes) -> bytes:
    """SESSION_SETUP request (MS-SMB2 2.2.5): the security buffer right after the body."""
    return struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 64 + 24, len(token), 0) + token


def first_leg() -> tuple[bytes, ntlm.NTLMAuthNegotiate]:
    """A SPNEGO NegTokenInit carrying an NTLM NEGOTIATE, and that NEGOTIATE."""
    negotiate = ntlm.getNTLMSSPType1("", "", False)
    blob = SPNEGO_NegTokenInit()
    blob["MechTypes"] = [_NTLMSSP]
    blob["MechToken"] = negotiate.getData()
    return blob.getData(), negotiate


def second_leg(negotiate: ntlm.NTLMAuthNegotiate, answer: bytes, user: str, password: str) -> bytes:
    """The AUTHENTICATE leg answering the server's challenge (``answer``: its response body)."""
    offset, length = struct.unpack_from("<HH", answer, 4)
    token = answer[offset - 64 : offset - 64 + length]
    challenge = SPNEGO_NegTokenResp(token)["ResponseToken"]
    auth, _key = ntlm.getNTLMSSPType3(negotiate, challenge, user, password, "")
    resp = SPNEGO_NegTokenResp()
    resp["ResponseToken"] = auth.getData()
    return resp.getData()


def send(c: r.RawSmb, cmd: int, body: bytes, sid: int = 0) -> int:
    """Send one request without waiting; returns its MessageId."""
    mid = c._next_id()
    head = r._HEADER.pack(
        b"\xfeSMB", 64, 1, 0, cmd, 64, 0, 0, mid, 0, 0, sid, b"\0" * 16
    )  # fmt: skip
    c.netbios.send_packet(head + body)
    return mid


def receive(c: r.RawSmb, timeout: float = 10) -> tuple[int, int, int, bytes]:
    """The next answer: (MessageId, status, SessionId, body)."""
    data = c.netbios.recv_packet(timeout).get_trailer()
    status = struct.unpack_from("<I", data, 8)[0]
    mid, sid = struct.unpack_from("<Q", data, 24)[0], struct.unpack_from("<Q", data, 40)[0]
    return mid, status, sid, data[64:]


def pipeline(c: r.RawSmb, bodies: list[tuple[int, bytes]], timeout: float = 10) -> list[int]:
    """Send every (command, body) before reading; the statuses in MessageId order."""
    mids = [send(c, cmd, body) for cmd, body in bodies]
    got = dict(receive(c, timeout)[:2] for _ in mids)
    return [got[m] for m in mids]
