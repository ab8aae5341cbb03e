"""SMB 3.1.1 negotiate contexts and the NEGOTIATE codec around them: round trips,
the server's choices, and hostile input (hypothesis) that must raise MalformedPacket
and nothing else."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket
from peerwork.proto.smb2_negctx import (
    ENCRYPTION_CAPABILITIES,
    PREAUTH_INTEGRITY_CAPABILITIES,
    SIGNING_CAPABILITIES,
    Cipher,
    ClientOffer,
    NegotiateContext,
    SigningAlgorithm,
    client_contexts,
    encryption_context,
    pack_contexts,
    parse_contexts,
    preauth_context,
    signing_context,
)
from peerwork.proto.smb2_negotiate import (
    DIALECT_202,
    DIALECT_210,
    DIALECT_300,
    DIALECT_311,
    NegotiateRequest,
    NegotiateResponse,
)

SALT = bytes(range(32))
GUID = bytes(range(16, 32))


def _request(contexts: tuple[NegotiateContext, ...]) -> NegotiateRequest:
    return NegotiateRequest(
        (DIALECT_202, DIALECT_210, DIALECT_300, DIALECT_311), 1, 0x7F, GUID, contexts
    )


def test_request_with_contexts_round_trips() -> None:
    contexts = client_contexts(SALT, [2, 1, 4], [2, 1])
    raw = _request(contexts).pack()
    # The context list starts 8-aligned from the header start, as the wire wants it.
    offset = struct.unpack_from("<I", raw, 28)[0]
    assert offset % 8 == 0
    parsed = NegotiateRequest.parse(raw)
    assert parsed.contexts == contexts
    assert parsed.pack() == raw


def test_server_prefers_gcm_and_gmac_and_falls_back_to_cmac() -> None:
    offer = ClientOffer.from_contexts(client_contexts(SALT, [1, 4, 2], [1, 2]))
    assert offer.cipher() is Cipher.AES_128_GCM
    assert offer.signing_algorithm() is SigningAlgorithm.AES_GMAC
    only_256 = ClientOffer.from_contexts(client_contexts(SALT, [4]))
    assert only_256.cipher() is Cipher.AES_256_GCM
    assert only_256.signing_algorithm() is None
    unknown = ClientOffer.from_contexts(client_contexts(SALT, [0x99]))
    assert unknown.cipher() is None


def test_missing_preauth_or_duplicate_contexts_are_malformed() -> None:
    with pytest.raises(MalformedPacket, match="preauth"):
        ClientOffer.from_contexts([encryption_context(2)])
    with pytest.raises(MalformedPacket, match="twice"):
        ClientOffer.from_contexts([preauth_context(SALT), signing_context(1), signing_context(2)])
    with pytest.raises(MalformedPacket):
        ClientOffer.from_contexts(
            [preauth_context(SALT), NegotiateContext(ENCRYPTION_CAPABILITIES, b"\x00\x00")]
        )


def test_response_contexts_round_trip_after_the_security_buffer() -> None:
    contexts = (preauth_context(SALT), encryption_context(2), signing_context(2))
    resp = NegotiateResponse(
        1, DIALECT_311, GUID, 4, 1 << 23, 1 << 23, 1 << 23, 1, 0, b"x" * 13, contexts
    )
    raw = resp.pack()
    assert NegotiateResponse.parse(raw) == resp
    ctx_offset = struct.unpack_from("<I", raw, 60)[0]
    assert ctx_offset % 8 == 0 and ctx_offset >= HEADER_SIZE + 64 + 13


def test_unknown_contexts_are_kept_and_ignored() -> None:
    contexts = (*client_contexts(SALT, [2]), NegotiateContext(0x0005, "host".encode("utf-16-le")))
    parsed = NegotiateRequest.parse(_request(contexts).pack())
    assert parsed.contexts[-1].type == 0x0005
    assert ClientOffer.from_contexts(parsed.contexts).cipher() is Cipher.AES_128_GCM


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 400), st.integers(0, 40))
def test_hostile_context_lists_raise_malformed_only(data: bytes, offset: int, count: int) -> None:
    try:
        contexts = parse_contexts(data, offset, count, HEADER_SIZE)
    except MalformedPacket:
        return
    with contextlib.suppress(MalformedPacket):
        ClientOffer.from_contexts(contexts)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_hostile_negotiate_requests_raise_malformed_only(data: bytes) -> None:
    try:
        req = NegotiateRequest.parse(data)
    except MalformedPacket:
        return
    if req.contexts:
        with contextlib.suppress(MalformedPacket):
            ClientOffer.from_contexts(req.contexts)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_negotiate_requests_raise_malformed_only(data: st.DataObject) -> None:
    raw = bytearray(_request(client_contexts(SALT, [2, 1], [2])).pack())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        req = NegotiateRequest.parse(bytes(raw[:cut]))
        ClientOffer.from_contexts(req.contexts)
    except MalformedPacket:
        pass


def test_context_lists_pad_every_context_to_eight() -> None:
    first = NegotiateContext(PREAUTH_INTEGRITY_CAPABILITIES, b"abc")
    packed = pack_contexts([first, NegotiateContext(SIGNING_CAPABILITIES, b"\x01\x00\x02\x00")])
    # 8 header + 3 data, padded to 16, then the second context.
    assert packed[16:18] == struct.pack("<H", SIGNING_CAPABILITIES)
    assert parse_contexts(packed, HEADER_SIZE, 2, HEADER_SIZE)[1].data == b"\x01\x00\x02\x00"
