"""Server side of SPNEGO (RFC 4178, MS-SPNG) carrying NTLMSSP. Sans-IO.

Contains a minimal DER reader/writer (only what NegTokenInit/NegTokenResp
need) and :class:`SpnegoServer`, which drives an :class:`NtlmServer` and does
what impacket's stock server does not: it checks the client's ``mechListMIC``
and sends its own in the final accept-completed token, so clients that require
signing (Windows 11 24H2, ``smbclient --client-protection=sign``) log on.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from peerwork.proto.ntlm_server import (
    NEGOTIATE_SIGN,
    SIGNATURE,
    AuthError,
    NtlmResult,
    NtlmServer,
    ntlm_signature,
)
from peerwork.proto.smb2_header import MalformedPacket

OID_SPNEGO = "1.3.6.1.5.5.2"
OID_NTLMSSP = "1.3.6.1.4.1.311.2.2.10"

ACCEPT_COMPLETED = 0
ACCEPT_INCOMPLETE = 1
REJECT = 2

_MAX_DEPTH = 8


# --- DER ---------------------------------------------------------------------------


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, value_start, value_end) of the TLV at ``pos``."""
    if pos + 2 > len(data):
        raise MalformedPacket("DER element truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise MalformedPacket("DER multi-byte tags are not used by SPNEGO")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise MalformedPacket("DER length is indefinite or truncated")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise MalformedPacket("DER value runs past the token")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, vs, ve = _read_tlv(data[:end], pos)
        out.append((tag, vs, ve))
        pos = ve
        if len(out) > 64:
            raise MalformedPacket("DER sequence too long")
    return out


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def der(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(value)) + value


def encode_oid(oid: str) -> bytes:
    parts = [int(p) for p in oid.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body.extend(reversed(chunk))
    return der(0x06, bytes(body))


def decode_oid(value: bytes) -> str:
    if not value:
        raise MalformedPacket("empty OID")
    parts = [value[0] // 40, value[0] % 40]
    acc = 0
    for b in value[1:]:
        acc = (acc << 7) | (b & 0x7F)
        if acc > 1 << 32:
            raise MalformedPacket("OID component too large")
        if not b & 0x80:
            parts.append(acc)
            acc = 0
    return ".".join(map(str, parts))


# --- tokens ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NegTokenInit:
    mech_types: tuple[str, ...]
    mech_types_der: bytes  # the MechTypeList exactly as sent: what mechListMIC covers
    mech_token: bytes | None
    mech_list_mic: bytes | None


@dataclass(frozen=True, slots=True)
class NegTokenResp:
    neg_state: int | None
    supported_mech: str | None
    response_token: bytes | None
    mech_list_mic: bytes | None


def _parse_init_body(data: bytes, start: int, end: int) -> NegTokenInit:
    items = _children(data, start, end)
    if len(items) != 1 or items[0][0] != 0x30:
        raise MalformedPacket("NegTokenInit is not a SEQUENCE")
    mechs: tuple[str, ...] = ()
    mechs_der = b""
    token = mic = None
    for tag, vs, ve in _children(data, items[0][1], items[0][2]):
        inner = _children(data, vs, ve)
        if len(inner) != 1:
            raise MalformedPacket("NegTokenInit field holds more than one element")
        itag, ivs, ive = inner[0]
        if tag == 0xA0:
            if itag != 0x30:
                raise MalformedPacket("mechTypes is not a SEQUENCE")
            mechs_der = data[vs:ve]
            oids = []
            for otag, ovs, ove in _children(data, ivs, ive):
                if otag != 0x06:
                    raise MalformedPacket("mechTypes holds a non-OID")
                oids.append(decode_oid(data[ovs:ove]))
            mechs = tuple(oids)
        elif tag == 0xA2:
            if itag != 0x04:
                raise MalformedPacket("mechToken is not an OCTET STRING")
            token = data[ivs:ive]
        elif tag == 0xA3 and itag == 0x04:
            mic = data[ivs:ive]
    if not mechs:
        raise MalformedPacket("NegTokenInit without mechTypes")
    return NegTokenInit(mechs, mechs_der, token, mic)


def _parse_resp_body(data: bytes, start: int, end: int) -> NegTokenResp:
    items = _children(data, start, end)
    if len(items) != 1 or items[0][0] != 0x30:
        raise MalformedPacket("NegTokenResp is not a SEQUENCE")
    state = None
    mech = token = mic = None
    for tag, vs, ve in _children(data, items[0][1], items[0][2]):
        inner = _children(data, vs, ve)
        if len(inner) != 1:
            raise MalformedPacket("NegTokenResp field holds more than one element")
        itag, ivs, ive = inner[0]
        if tag == 0xA0 and itag == 0x0A and ive - ivs == 1:
            state = data[ivs]
        elif tag == 0xA1 and itag == 0x06:
            mech = decode_oid(data[ivs:ive])
        elif tag == 0xA2 and itag == 0x04:
            token = data[ivs:ive]
        elif tag == 0xA3 and itag == 0x04:
            mic = data[ivs:ive]
        else:
            raise MalformedPacket(f"unexpected NegTokenResp field 0x{tag:02x}")
    return NegTokenResp(state, mech, token, mic)


def parse_token(token: bytes) -> NegTokenInit | NegTokenResp:
    """Parse an initial (GSS-API wrapped) NegTokenInit or a NegTokenResp."""
    data = bytes(token)
    tag, vs, ve = _read_tlv(data, 0)
    if ve != len(data):
        raise MalformedPacket("trailing bytes after the SPNEGO token")
    if tag == 0x60:
        items = _children(data, vs, ve)
        if len(items) != 2 or items[0][0] != 0x06:
            raise MalformedPacket("GSS-API token without a mechanism OID")
        if decode_oid(data[items[0][1] : items[0][2]]) != OID_SPNEGO:
            raise MalformedPacket("GSS-API token is not SPNEGO")
        if items[1][0] != 0xA0:
            raise MalformedPacket("SPNEGO initial token is not a NegTokenInit")
        return _parse_init_body(data, items[1][1], items[1][2])
    if tag == 0xA0:
        return _parse_init_body(data, vs, ve)
    if tag == 0xA1:
        return _parse_resp_body(data, vs, ve)
    raise MalformedPacket(f"not a SPNEGO token (tag 0x{tag:02x})")


def neg_token_init_hint(mechs: tuple[str, ...] = (OID_NTLMSSP,)) -> bytes:
    """The NegTokenInit2 a server puts in its NEGOTIATE response (mechTypes and the
    RFC 4178 "please ignore" hint, as Windows and Samba send it)."""
    mech_list = der(0x30, b"".join(encode_oid(m) for m in mechs))
    hint = der(0x30, der(0xA0, der(0x1B, b"not_defined_in_RFC4178@please_ignore")))
    body = der(0x30, der(0xA0, mech_list) + der(0xA3, hint))
    return der(0x60, encode_oid(OID_SPNEGO) + der(0xA0, body))


def neg_token_resp(
    state: int, mech: str | None = None, token: bytes | None = None, mic: bytes | None = None
) -> bytes:
    parts = der(0xA0, der(0x0A, bytes([state])))
    if mech is not None:
        parts += der(0xA1, encode_oid(mech))
    if token is not None:
        parts += der(0xA2, der(0x04, token))
    if mic is not None:
        parts += der(0xA3, der(0x04, mic))
    return der(0xA1, der(0x30, parts))


def neg_token_init(mechs: tuple[str, ...], token: bytes | None = None) -> bytes:
    """A client's initial token; for tests and the golden round trips."""
    mech_list = der(0x30, b"".join(encode_oid(m) for m in mechs))
    body = der(0xA0, mech_list)
    if token is not None:
        body += der(0xA2, der(0x04, token))
    return der(0x60, encode_oid(OID_SPNEGO) + der(0xA0, der(0x30, body)))


# --- the server state machine -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpnegoStep:
    """``token`` goes back to the client; ``result`` is set once the logon succeeded."""

    token: bytes
    result: NtlmResult | None = None


class SpnegoServer:
    """Drive one logon: feed each SESSION_SETUP security buffer to :meth:`step`.

    Raw NTLMSSP (no SPNEGO wrapping) is accepted too, and answered raw.
    """

    def __init__(self, ntlm: NtlmServer, nt_hash_of: Callable[[str], bytes | None]) -> None:
        self._ntlm = ntlm
        self._lookup = nt_hash_of
        self._mech_types_der = b""
        self._raw = False
        self._stage = 0  # 0: expect NegTokenInit, 1: expect NTLM messages, 2: done

    def step(self, token: bytes) -> SpnegoStep:
        if self._stage == 2:
            raise MalformedPacket("SPNEGO exchange already complete")
        if self._stage == 0 and token.startswith(SIGNATURE):
            self._raw = True
        if self._raw:
            return self._step_raw(token)
        parsed = parse_token(token)
        if self._stage == 0:
            if not isinstance(parsed, NegTokenInit):
                raise MalformedPacket("first SPNEGO token must be a NegTokenInit")
            if OID_NTLMSSP not in parsed.mech_types:
                raise AuthError("the client offers no mechanism this server speaks (NTLMSSP)")
            self._mech_types_der = parsed.mech_types_der
            if parsed.mech_types[0] != OID_NTLMSSP or parsed.mech_token is None:
                # Optimistic token for another mech (Kerberos): ask for NTLMSSP instead;
                # the client's NTLM NEGOTIATE then comes in a NegTokenResp.
                self._stage = 1
                return SpnegoStep(neg_token_resp(ACCEPT_INCOMPLETE, OID_NTLMSSP))
            challenge = self._ntlm.challenge(parsed.mech_token)
            self._stage = 1
            return SpnegoStep(neg_token_resp(ACCEPT_INCOMPLETE, OID_NTLMSSP, challenge))
        if not isinstance(parsed, NegTokenResp) or parsed.response_token is None:
            raise MalformedPacket("expected a NegTokenResp carrying an NTLMSSP message")
        if self._stage == 0 or not parsed.response_token.startswith(SIGNATURE):
            raise MalformedPacket("SPNEGO response token is not NTLMSSP")
        if int.from_bytes(parsed.response_token[8:12], "little") == 1:
            challenge = self._ntlm.challenge(parsed.response_token)
            self._stage = 1
            return SpnegoStep(neg_token_resp(ACCEPT_INCOMPLETE, None, challenge))
        result = self._ntlm.authenticate(parsed.response_token, self._lookup)
        self._stage = 2
        mic = None
        signs = bool(result.flags & NEGOTIATE_SIGN) and not result.anonymous
        if parsed.mech_list_mic is not None and signs:
            expect = ntlm_signature(result, self._mech_types_der, from_server=False)
            if not hmac.compare_digest(expect, parsed.mech_list_mic):
                raise AuthError("the SPNEGO mechListMIC does not match", account=result.user)
        elif result.mic_present and signs:
            # A client that sent an NTLM MIC speaks "new" SPNEGO and must protect the list.
            raise AuthError("the client sent no SPNEGO mechListMIC", account=result.user)
        if signs and (parsed.mech_list_mic is not None or result.mic_present):
            mic = ntlm_signature(result, self._mech_types_der, from_server=True)
        return SpnegoStep(neg_token_resp(ACCEPT_COMPLETED, None, None, mic), result)

    def _step_raw(self, token: bytes) -> SpnegoStep:
        if self._stage == 0:
            self._stage = 1
            return SpnegoStep(self._ntlm.challenge(token))
        result = self._ntlm.authenticate(token, self._lookup)
        self._stage = 2
        return SpnegoStep(b"", result)
