"""SMB2 header, framing, negotiate/session/tree codecs and signing, on real captured bytes
(tests/data/smb2: smbclient 4.x with --client-protection=sign, and pysmb's SMB1 start)."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto import smb2_signing
from peerwork.proto.smb2_header import (
    FLAGS_RELATED_OPERATIONS,
    FLAGS_SERVER_TO_REDIR,
    FLAGS_SIGNED,
    HEADER_SIZE,
    MalformedPacket,
    Smb2Header,
    body_buffer,
    netbios_frame,
    parse_netbios_header,
    parse_smb1_negotiate,
    set_credits_and_next,
    split_compound,
)
from peerwork.proto.smb2_ioctl import IoctlRequest, ValidateNegotiateInfo
from peerwork.proto.smb2_negotiate import (
    DIALECT_202,
    DIALECT_210,
    DIALECT_311,
    SIGNING_REQUIRED,
    NegotiateRequest,
    NegotiateResponse,
    choose_dialect,
)
from peerwork.proto.smb2_session import SessionSetupRequest, SessionSetupResponse
from peerwork.proto.smb2_tree import TreeConnectRequest, TreeConnectResponse

DATA = Path(__file__).parent.parent / "data" / "smb2"


def golden(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_header_round_trip_on_captured_requests() -> None:
    for name in sorted(DATA.glob("smbclient_sign_*.bin")):
        raw = name.read_bytes()
        hdr = Smb2Header.parse(raw)
        assert hdr.pack() == raw[:HEADER_SIZE], name


def test_captured_negotiate_offers_21_and_requires_signing() -> None:
    raw = golden("smbclient_sign_req00.bin")
    hdr = Smb2Header.parse(raw)
    assert (hdr.command, hdr.message_id) == (0, 0)
    req = NegotiateRequest.parse(raw[HEADER_SIZE:])
    assert DIALECT_210 in req.dialects
    assert req.security_mode & SIGNING_REQUIRED
    assert choose_dialect(req.dialects) == DIALECT_210
    assert req.pack() == raw[HEADER_SIZE : HEADER_SIZE + len(req.pack())]


def test_captured_negotiate_response_round_trips() -> None:
    raw = golden("smbclient_sign_resp00.bin")
    resp = NegotiateResponse.parse(raw[HEADER_SIZE:])
    assert resp.dialect == DIALECT_210
    assert resp.max_read == 8 * 1024 * 1024
    assert resp.pack() == raw[HEADER_SIZE:]


def test_choose_dialect() -> None:
    assert choose_dialect([DIALECT_202]) == DIALECT_202
    assert choose_dialect([DIALECT_202, DIALECT_210]) == DIALECT_210
    assert choose_dialect([DIALECT_202, DIALECT_210, DIALECT_311]) == DIALECT_311
    assert choose_dialect([0x0300, 0x0302, DIALECT_210]) == 0x0302
    assert choose_dialect([0x0222, 0x0312]) is None


def test_session_setup_and_tree_connect_golden() -> None:
    raw = golden("smbclient_sign_req01.bin")
    ss = SessionSetupRequest.parse(raw[HEADER_SIZE:])
    assert ss.security_buffer.startswith(b"\x60")
    assert ss.pack() == raw[HEADER_SIZE:]
    resp = SessionSetupResponse.parse(golden("smbclient_sign_resp01.bin")[HEADER_SIZE:])
    assert resp.security_buffer.startswith(b"\xa1")
    tc = TreeConnectRequest.parse(golden("smbclient_sign_req03.bin")[HEADER_SIZE:])
    assert tc.share_name.lower() == "docs"
    assert tc.path.startswith("\\\\")
    tr = TreeConnectResponse.parse(golden("smbclient_sign_resp03.bin")[HEADER_SIZE:])
    assert tr.pack() == golden("smbclient_sign_resp03.bin")[HEADER_SIZE:]


def test_captured_signatures_verify() -> None:
    """The final session-setup response and the tree connect are signed with the session key;
    they verify only with that key (recovered in test_spnego_server's golden replay)."""
    raw = golden("smbclient_sign_req03.bin")
    assert Smb2Header.parse(raw).is_signed
    assert not smb2_signing.verify(b"\x00" * 16, raw)


def test_sign_then_verify() -> None:
    msg = Smb2Header(command=13, message_id=5, session_id=7).pack() + b"\x04\x00\x00\x00"
    key = bytes(range(16))
    signed = smb2_signing.sign(key, msg)
    assert Smb2Header.parse(signed).flags & FLAGS_SIGNED
    assert smb2_signing.verify(key, signed)
    tampered = signed[:-1] + b"\x01"
    assert not smb2_signing.verify(key, tampered)
    assert not smb2_signing.verify(bytes(16), signed)


def test_response_header() -> None:
    req = Smb2Header(command=5, message_id=9, flags=FLAGS_RELATED_OPERATIONS | FLAGS_SIGNED)
    resp = req.response(status=0xC0000022)
    assert resp.flags == FLAGS_RELATED_OPERATIONS | FLAGS_SERVER_TO_REDIR
    assert resp.status == 0xC0000022
    assert resp.message_id == 9


def test_split_compound() -> None:
    a = Smb2Header(command=5, message_id=1, next_command=72).pack() + b"\x00" * 8
    b = Smb2Header(command=6, message_id=2, flags=FLAGS_RELATED_OPERATIONS).pack() + b"\x00" * 24
    parts = split_compound(a + b)
    assert [h.command for h, _ in parts] == [5, 6]
    assert len(parts[0][1]) == 72 and len(parts[1][1]) == 88
    bad = Smb2Header(command=5, message_id=1, next_command=70).pack() + b"\x00" * 80
    with pytest.raises(MalformedPacket):
        split_compound(bad)


def test_netbios() -> None:
    assert netbios_frame(0x123456) == b"\x00\x12\x34\x56"
    assert parse_netbios_header(b"\x00\x00\x01\x00") == (0, 256)
    with pytest.raises(MalformedPacket):
        parse_netbios_header(b"\x81\x00\x00\x00")


def test_pysmb_smb1_negotiate() -> None:
    dialects = parse_smb1_negotiate(golden("pysmb_smb1_negotiate.bin"))
    assert "SMB 2.002" in dialects
    resp = NegotiateResponse.parse(golden("pysmb_smb1_negotiate_resp.bin")[HEADER_SIZE:])
    assert resp.dialect in (0x02FF, DIALECT_202)


def test_body_buffer_bounds() -> None:
    body = b"\x00" * 24
    assert body_buffer(body, 64 + 8, 16, 8) == b"\x00" * 16
    assert body_buffer(body, 0, 0, 8) == b""
    for off, ln in ((64, 8), (64 + 8, 17), (10, 4)):
        with pytest.raises(MalformedPacket):
            body_buffer(body, off, ln, 8)


PARSERS = [
    Smb2Header.parse,
    split_compound,
    NegotiateRequest.parse,
    NegotiateResponse.parse,
    SessionSetupRequest.parse,
    SessionSetupResponse.parse,
    TreeConnectRequest.parse,
    TreeConnectResponse.parse,
    IoctlRequest.parse,
    ValidateNegotiateInfo.parse,
    parse_smb1_negotiate,
]


def _only_clean_errors(data: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(MalformedPacket):
            parse(data)  # type: ignore[operator]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_malformed(data: bytes) -> None:
    _only_clean_errors(data)
    _only_clean_errors(b"\xfeSMB@\x00" + data)


_GOLDEN = [p.read_bytes() for p in sorted(DATA.glob("*.bin"))]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_GOLDEN),
    st.lists(st.tuples(st.integers(0, 599), st.integers(0, 255)), max_size=8),
    st.integers(0, 600),
)
def test_mutated_golden_raise_only_malformed(raw: bytes, flips: list, cut: int) -> None:
    buf = bytearray(raw)
    for pos, val in flips:
        if pos < len(buf):
            buf[pos] = val
    data = bytes(buf[: max(cut, 1)])
    _only_clean_errors(data)
    _only_clean_errors(data[HEADER_SIZE:])


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=4))
def test_signing_over_pieces_matches_signing_the_joined_message(
    body: bytes, cuts: list[int]
) -> None:
    """The reply path signs a header over body pieces it never joins: the same signature."""
    head = Smb2Header(command=8, message_id=3, session_id=9, flags=1).pack()
    key = bytes(range(16))
    points = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    pieces = [memoryview(body)[a:b] for a, b in itertools.pairwise(points)]
    signed_head = smb2_signing.sign_header(key, head, pieces)
    assert signed_head + body == smb2_signing.sign(key, head + body)
    assert smb2_signing.verify(key, signed_head + body)


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF), st.booleans())
def test_credits_and_next_filled_into_a_packed_header(
    credits: int, nxt: int, is_async: bool
) -> None:
    hdr = Smb2Header(command=8, message_id=77, flags=3 if is_async else 1, async_id=5)
    head = bytearray(hdr.pack())
    set_credits_and_next(head, credits, nxt)
    assert bytes(head) == replace(hdr, credits=credits, next_command=nxt).pack()
    with pytest.raises(ValueError):
        set_credits_and_next(bytearray(10), credits, nxt)
