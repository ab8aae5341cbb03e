"""Server side of NTLM (MS-NLMP): CHALLENGE out, AUTHENTICATE in, NTLMv2 only.

Sans-IO: the caller injects the server challenge, the time (FILETIME) and a
lookup from account name to NT hash. Nothing here logs; the NT hash, the keys
and the responses never appear in a ``repr`` or an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from Cryptodome.Cipher import ARC4

from peerwork.errors import PeerworkError
from peerwork.proto.smb2_header import MalformedPacket
from peerwork.text import printable

SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE_MESSAGE = 1
CHALLENGE_MESSAGE = 2
AUTHENTICATE_MESSAGE = 3

NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_LM_KEY = 0x00000080
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ANONYMOUS = 0x00000800
NEGOTIATE_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_SERVER = 0x00020000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

# Flags we echo when the client asks for them.
_ECHOED = NEGOTIATE_SIGN | NEGOTIATE_SEAL | NEGOTIATE_128 | NEGOTIATE_56 | NEGOTIATE_KEY_EXCH
_ALWAYS = (
    NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | TARGET_TYPE_SERVER
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_VERSION
)

# AV_PAIR ids (MS-NLMP 2.2.2.1).
AV_EOL = 0
AV_NB_COMPUTER = 1
AV_NB_DOMAIN = 2
AV_DNS_COMPUTER = 3
AV_DNS_DOMAIN = 4
AV_FLAGS = 6
AV_TIMESTAMP = 7
AV_FLAG_MIC_PRESENT = 0x00000002

# Windows 10-ish version, NTLM revision 15: some clients insist on a Version field.
_VERSION = bytes([10, 0]) + struct.pack("<H", 19041) + b"\x00\x00\x00\x0f"
_MIC_OFFSET = 72
_AUTH_FIXED = 88
_NTLMV2_MIN = 16 + 28  # NTProofStr + the fixed part of the client blob

_CLIENT_SIGN = b"session key to client-to-server signing key magic constant\x00"
_SERVER_SIGN = b"session key to server-to-client signing key magic constant\x00"
_CLIENT_SEAL = b"session key to client-to-server sealing key magic constant\x00"
_SERVER_SEAL = b"session key to server-to-client sealing key magic constant\x00"


class AuthError(PeerworkError):
    """The logon is refused (wrong password, unknown account, NTLMv1 …): STATUS_LOGON_FAILURE."""

    code = "logon-failure"

    def __init__(self, message: str, *, account: str = "") -> None:
        super().__init__(message)
        # The account the client named ("" when not known yet): what failed logons are
        # counted against, so guessing one account's password slows down.
        self.account = account


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()  # noqa: S324 -- MS-NLMP mandates MD5 key derivation


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.md5).digest()


def ntowfv2(nt_hash: bytes, user: str, domain: str) -> bytes:
    return _hmac_md5(nt_hash, (user.upper() + domain).encode("utf-16-le"))


def _field(data: bytes, pos: int, what: str) -> bytes:
    """A (Len, MaxLen, Offset) security-buffer field of an NTLM message."""
    if pos + 8 > len(data):
        raise MalformedPacket(f"NTLM {what} field truncated")
    length, _max, offset = struct.unpack_from("<HHI", data, pos)
    if length == 0:
        return b""
    if offset + length > len(data) or offset < 8:
        raise MalformedPacket(f"NTLM {what} lies outside the message")
    return data[offset : offset + length]


def _check_type(data: bytes, kind: int) -> None:
    if len(data) < 12 or data[:8] != SIGNATURE:
        raise MalformedPacket("not an NTLMSSP message")
    got = int.from_bytes(data[8:12], "little")
    if got != kind:
        raise MalformedPacket(f"NTLMSSP message type {got}, expected {kind}")


def parse_av_pairs(data: bytes) -> dict[int, bytes]:
    """AV_PAIR list up to MsvAvEOL; raises MalformedPacket if it runs off the end."""
    pairs: dict[int, bytes] = {}
    pos = 0
    for _ in range(64):
        if pos + 4 > len(data):
            raise MalformedPacket("NTLM AV_PAIR list has no end marker")
        av_id, av_len = struct.unpack_from("<HH", data, pos)
        pos += 4
        if av_id == AV_EOL:
            return pairs
        if pos + av_len > len(data):
            raise MalformedPacket("NTLM AV_PAIR value truncated")
        pairs.setdefault(av_id, data[pos : pos + av_len])
        pos += av_len
    raise MalformedPacket("NTLM AV_PAIR list too long")


def _av(av_id: int, value: bytes) -> bytes:
    return struct.pack("<HH", av_id, len(value)) + value


@dataclass(frozen=True, slots=True)
class NtlmNegotiate:
    flags: int

    @classmethod
    def parse(cls, data: bytes) -> NtlmNegotiate:
        _check_type(data, NEGOTIATE_MESSAGE)
        if len(data) < 16:
            raise MalformedPacket("NTLM NEGOTIATE truncated")
        return cls(int.from_bytes(data[12:16], "little"))


@dataclass(frozen=True, slots=True)
class NtlmAuthenticate:
    flags: int
    user: str
    domain: str
    workstation: str
    lm_response: bytes = field(repr=False)
    nt_response: bytes = field(repr=False)
    encrypted_session_key: bytes = field(repr=False)
    mic: bytes | None = field(repr=False)  # 16 bytes when the message has room for one

    @classmethod
    def parse(cls, data: bytes) -> NtlmAuthenticate:
        _check_type(data, AUTHENTICATE_MESSAGE)
        if len(data) < 64:
            raise MalformedPacket("NTLM AUTHENTICATE truncated")
        lm = _field(data, 12, "LmChallengeResponse")
        nt = _field(data, 20, "NtChallengeResponse")
        dom = _field(data, 28, "DomainName")
        user = _field(data, 36, "UserName")
        ws = _field(data, 44, "Workstation")
        key = _field(data, 52, "EncryptedRandomSessionKey")
        flags = int.from_bytes(data[60:64], "little")
        enc = "utf-16-le" if flags & NEGOTIATE_UNICODE else "latin-1"
        try:
            names = [b.decode(enc) for b in (user, dom, ws)]
        except UnicodeDecodeError:
            raise MalformedPacket("NTLM AUTHENTICATE names are not UTF-16") from None
        # The MIC sits at 72 when the payload starts after it (Version + MIC present).
        offsets = [
            struct.unpack_from("<I", data, p)[0]
            for p in (16, 24, 32, 40, 48, 56)
            if struct.unpack_from("<H", data, p - 4)[0]
        ]
        has_room = len(data) >= _AUTH_FIXED and all(o >= _AUTH_FIXED for o in offsets)
        mic = data[_MIC_OFFSET : _MIC_OFFSET + 16] if has_room else None
        return cls(flags, names[0], names[1], names[2], lm, nt, key, mic)


@dataclass(frozen=True, slots=True)
class NtlmResult:
    """A successful logon. ``session_key`` is the ExportedSessionKey (empty if anonymous)."""

    user: str  # as the client typed it; "" when anonymous
    domain: str
    workstation: str
    anonymous: bool
    flags: int
    session_key: bytes = field(repr=False)
    mic_present: bool = False


class NtlmServer:
    """One NTLM exchange: ``challenge(negotiate)`` then ``authenticate(message, lookup)``."""

    def __init__(
        self, *, server_challenge: bytes, now_filetime: int, server_name: str, domain_name: str
    ) -> None:
        if len(server_challenge) != 8:
            raise ValueError("the NTLM server challenge is 8 bytes")
        self._challenge_value = server_challenge
        self._now = now_filetime
        self._server = server_name.upper()
        self._domain = domain_name.upper()
        self._negotiate_msg = b""
        self._challenge_msg = b""
        self.flags = 0

    def challenge(self, negotiate: bytes) -> bytes:
        neg = NtlmNegotiate.parse(negotiate)
        self._negotiate_msg = bytes(negotiate)
        self.flags = _ALWAYS | (neg.flags & _ECHOED)
        target = self._server.encode("utf-16-le")
        info = (
            _av(AV_NB_DOMAIN, self._domain.encode("utf-16-le"))
            + _av(AV_NB_COMPUTER, target)
            + _av(AV_DNS_DOMAIN, self._domain.lower().encode("utf-16-le"))
            + _av(AV_DNS_COMPUTER, self._server.lower().encode("utf-16-le"))
            + _av(AV_TIMESTAMP, struct.pack("<Q", self._now))
            + _av(AV_EOL, b"")
        )
        head = 56
        msg = (
            SIGNATURE
            + struct.pack("<I", CHALLENGE_MESSAGE)
            + struct.pack("<HHI", len(target), len(target), head)
            + struct.pack("<I", self.flags)
            + self._challenge_value
            + b"\x00" * 8
            + struct.pack("<HHI", len(info), len(info), head + len(target))
            + _VERSION
            + target
            + info
        )
        self._challenge_msg = msg
        return msg

    def authenticate(self, message: bytes, nt_hash_of: Callable[[str], bytes | None]) -> NtlmResult:
        """Verify an AUTHENTICATE message; raise AuthError to refuse, MalformedPacket on junk."""
        if not self._challenge_msg:
            raise MalformedPacket("NTLM AUTHENTICATE before CHALLENGE")
        auth = NtlmAuthenticate.parse(message)
        if not auth.user:
            # No user name is an anonymous logon whatever responses come with it: MS-NLMP
            # sends none, pysmb sends ones computed from an empty password; Samba takes
            # both as anonymous. Either way it gets no session key and only `everyone`.
            return NtlmResult("", auth.domain, auth.workstation, True, auth.flags, b"")
        if len(auth.nt_response) < _NTLMV2_MIN:
            # 24 bytes is NTLMv1 (or LM only); both are broken and refused.
            raise AuthError(
                "NTLMv1/LM responses are refused; the client must use NTLMv2", account=auth.user
            )
        nt_hash = nt_hash_of(auth.user) if auth.user else None
        if nt_hash is None:
            raise AuthError(f"unknown account {printable(auth.user, 64)!r}", account=auth.user)
        proof, blob = auth.nt_response[:16], auth.nt_response[16:]
        # The client's blob must parse before its proof is even checked (as Samba
        # does since bug 14932): a malformed one is INVALID_PARAMETER, not a failed
        # logon that would count against the account.
        pairs = parse_av_pairs(blob[28:]) if len(blob) > 28 else {}
        key = None
        for domain in dict.fromkeys((auth.domain, auth.domain.upper(), "")):
            candidate = ntowfv2(nt_hash, auth.user, domain)
            expect = _hmac_md5(candidate, self._challenge_value + blob)
            if hmac.compare_digest(expect, proof):
                key = candidate
                break
        if key is None:
            raise AuthError(f"wrong password for {printable(auth.user, 64)!r}", account=auth.user)
        base_key = _hmac_md5(key, proof)
        if auth.flags & NEGOTIATE_KEY_EXCH and self.flags & NEGOTIATE_KEY_EXCH:
            if len(auth.encrypted_session_key) != 16:
                raise AuthError("key exchange without a 16-byte session key", account=auth.user)
            exported = ARC4.new(base_key).decrypt(auth.encrypted_session_key)
        else:
            exported = base_key
        av_flags = int.from_bytes(pairs.get(AV_FLAGS, b"\x00\x00\x00\x00")[:4], "little")
        mic_present = bool(av_flags & AV_FLAG_MIC_PRESENT)
        if mic_present:
            if auth.mic is None:
                raise AuthError("the client announced a MIC but sent none", account=auth.user)
            zeroed = message[:_MIC_OFFSET] + b"\x00" * 16 + message[_MIC_OFFSET + 16 :]
            expect = _hmac_md5(exported, self._negotiate_msg + self._challenge_msg + zeroed)
            if not hmac.compare_digest(expect, auth.mic):
                raise AuthError("the NTLM message integrity code does not match", account=auth.user)
        return NtlmResult(
            auth.user,
            auth.domain,
            auth.workstation,
            False,
            self.flags & (auth.flags | ~_ECHOED),
            exported,
            mic_present,
        )


# --- NTLMSSP signing, as SPNEGO's mechListMIC uses it (MS-NLMP 3.4.4.2) -------------


def _seal_key(flags: int, session_key: bytes, magic: bytes) -> bytes:
    if flags & NEGOTIATE_128:
        base = session_key
    elif flags & NEGOTIATE_56:
        base = session_key[:7]
    else:
        base = session_key[:5]
    return _md5(base + magic)


def ntlm_signature(
    result: NtlmResult, message: bytes, *, from_server: bool, seq_num: int = 0
) -> bytes:
    """The 16-byte NTLMSSP_MESSAGE_SIGNATURE over ``message`` (extended session security).

    ``from_server`` picks the server-to-client keys (our own mechListMIC) or the
    client-to-server ones (checking the client's)."""
    key = result.session_key
    sign_key = _md5(key + (_SERVER_SIGN if from_server else _CLIENT_SIGN))
    seq = struct.pack("<I", seq_num)
    checksum = _hmac_md5(sign_key, seq + message)[:8]
    if result.flags & NEGOTIATE_KEY_EXCH:
        seal = _seal_key(result.flags, key, _SERVER_SEAL if from_server else _CLIENT_SEAL)
        checksum = ARC4.new(seal).encrypt(checksum)
    return struct.pack("<I", 1) + checksum + seq
