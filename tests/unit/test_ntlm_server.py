"""Server-side NTLMv2 against impacket's client-side NTLM as the other end."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket import ntlm as imp

from peerwork.accounts import nt_hash
from peerwork.proto.ntlm_server import (
    NEGOTIATE_KEY_EXCH,
    NEGOTIATE_SIGN,
    AuthError,
    NtlmServer,
    ntlm_signature,
)
from peerwork.proto.smb2_header import MalformedPacket

HASHES = {"alice": nt_hash("secret")}
FILETIME = 133_000_000_000_000_000


def lookup(name: str) -> bytes | None:
    return HASHES.get(name.lower())


def server() -> NtlmServer:
    return NtlmServer(
        server_challenge=b"\x01\x23\x45\x67\x89\xab\xcd\xef",
        now_filetime=FILETIME,
        server_name="peertest",
        domain_name="office",
    )


def exchange(user: str, password: str, domain: str = "", v2: bool = True):  # type: ignore[no-untyped-def]
    srv = server()
    t1 = imp.getNTLMSSPType1("WS", "", signingRequired=True, use_ntlmv2=v2)
    t2 = srv.challenge(t1.getData())
    t3, key = imp.getNTLMSSPType3(t1, t2, user, password, domain, use_ntlmv2=v2)
    return srv, t3.getData(), key


def test_challenge_is_parsed_by_impacket() -> None:
    srv = server()
    t1 = imp.getNTLMSSPType1("WS", "", signingRequired=True)
    ch = imp.NTLMAuthChallenge(srv.challenge(t1.getData()))
    assert ch["challenge"] == b"\x01\x23\x45\x67\x89\xab\xcd\xef"
    info = imp.AV_PAIRS(ch["TargetInfoFields"])
    assert info[imp.NTLMSSP_AV_HOSTNAME][1].decode("utf-16-le") == "PEERTEST"
    assert ch["flags"] & NEGOTIATE_KEY_EXCH


@pytest.mark.parametrize(
    ("user", "domain"), [("alice", ""), ("ALICE", "OFFICE"), ("Alice", "somewhere.else")]
)
def test_ntlmv2_logon_and_key_exchange(user: str, domain: str) -> None:
    srv, t3, key = exchange(user, "secret", domain)
    result = srv.authenticate(t3, lookup)
    assert not result.anonymous
    assert result.user == user
    assert result.session_key == key  # the RC4-exchanged key impacket chose
    assert result.flags & NEGOTIATE_SIGN


def test_wrong_password_and_unknown_user_fail() -> None:
    srv, t3, _ = exchange("alice", "wrong")
    with pytest.raises(AuthError):
        srv.authenticate(t3, lookup)
    srv, t3, _ = exchange("bob", "secret")
    with pytest.raises(AuthError):
        srv.authenticate(t3, lookup)


def test_malformed_ntlmv2_blob_is_malformed_not_a_failed_logon() -> None:
    """Samba bug 14932: the client's AV_PAIR list is parsed before the proof, so a
    broken one is INVALID_PARAMETER (MalformedPacket), not a wrong password."""
    srv, t3, _ = exchange("alice", "secret")
    # NtChallengeResponse (offset at 24): proof(16), blob header(28), then the AV pairs;
    # the first pair's AvLen claims more than the list holds.
    start = int.from_bytes(t3[24:28], "little") + 16 + 28
    bad = t3[: start + 2] + b"\xff\xff" + t3[start + 4 :]
    with pytest.raises(MalformedPacket, match="AV_PAIR"):
        srv.authenticate(bad, lookup)


def test_ntlmv1_refused() -> None:
    srv, t3, _ = exchange("alice", "secret", v2=False)
    with pytest.raises(AuthError, match="NTLMv2"):
        srv.authenticate(t3, lookup)


def test_anonymous() -> None:
    srv = server()
    t1 = imp.getNTLMSSPType1("WS", "")
    srv.challenge(t1.getData())
    t3 = imp.NTLMAuthChallengeResponse("", "", b"")
    t3["flags"] = ntlm_flags = imp.NTLMSSP_NEGOTIATE_UNICODE | imp.NTLMSSP_NEGOTIATE_ANONYMOUS
    t3["lanman"] = b"\x00"
    t3["ntlm"] = b""
    t3["domain_name"] = b""
    t3["user_name"] = b""
    t3["host_name"] = b""
    result = srv.authenticate(t3.getData(), lookup)
    assert result.anonymous and result.session_key == b"" and ntlm_flags


def test_authenticate_before_challenge_is_malformed() -> None:
    _, t3, _ = exchange("alice", "secret")
    with pytest.raises(MalformedPacket):
        server().authenticate(t3, lookup)


def test_signature_matches_impacket_mac() -> None:
    """Our NTLMSSP signature (what mechListMIC is) equals impacket's client-side SIGN."""
    srv, t3, key = exchange("alice", "secret")
    result = srv.authenticate(t3, lookup)
    flags = result.flags
    sign_key = imp.SIGNKEY(flags, key, "Client")
    seal_key = imp.SEALKEY(flags, key, "Client")
    from Cryptodome.Cipher import ARC4

    handle = ARC4.new(seal_key).encrypt
    expect = imp.MAC(flags, handle, sign_key, 0, b"mech list bytes")
    assert ntlm_signature(result, b"mech list bytes", from_server=False) == expect.getData()


def _clean(srv: NtlmServer, data: bytes) -> None:
    with contextlib.suppress(AuthError, MalformedPacket):
        srv.authenticate(data, lookup)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_messages(data: bytes) -> None:
    srv = server()
    with contextlib.suppress(MalformedPacket):
        srv.challenge(data)
    srv.challenge(imp.getNTLMSSPType1("WS", "").getData())
    _clean(srv, data)
    _clean(srv, b"NTLMSSP\x00\x03\x00\x00\x00" + data)


_, GOOD, _ = exchange("alice", "secret")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1,
                max_size=6), st.integers(1, len(GOOD)))  # fmt: skip
def test_mutated_authenticate(flips: list[tuple[int, int]], cut: int) -> None:
    srv = server()
    srv.challenge(imp.getNTLMSSPType1("WS", "", signingRequired=True).getData())
    buf = bytearray(GOOD)
    for pos, val in flips:
        buf[pos] = val
    _clean(srv, bytes(buf[:cut]))
