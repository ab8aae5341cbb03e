"""SMB 3 encryption: the transform header and sealing/opening with every cipher.

Checked against cryptography's one-shot AEADs (what smbprotocol uses) so the
piecewise GCM path is the same AEAD; every altered, truncated, re-addressed or
hostile frame raises MalformedPacket (DecryptError) and yields no plaintext.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.smb2_header import MalformedPacket
from peerwork.proto.smb2_negctx import Cipher
from peerwork.proto.smb2_transform import (
    TRANSFORM_SIZE,
    DecryptError,
    Opener,
    Sealer,
    TransformHeader,
)

SID = 0x0000_1000_0000_0042


def _pair(cipher: Cipher, key: bytes | None = None) -> tuple[Sealer, Opener]:
    key = key or bytes(range(cipher.key_size))
    prefix = b"\x07" * (cipher.nonce_size - 8)
    return Sealer(cipher, key, SID, prefix), Opener(cipher, key, SID)


def _frame(sealer: Sealer, pieces: list[bytes | memoryview]) -> bytes:
    head, body = sealer.seal(pieces)
    return head + bytes(body)


@pytest.mark.parametrize("cipher", list(Cipher))
def test_seal_open_round_trip_matches_one_shot_aead(cipher: Cipher) -> None:
    sealer, opener = _pair(cipher)
    pieces: list[bytes | memoryview] = [
        b"\xfeSMB" + b"h" * 60,
        memoryview(b"d" * 100_000),
        b"",
        b"p",
    ]
    frame = _frame(sealer, pieces)
    plain = b"".join(bytes(p) for p in pieces)
    assert opener.open(frame) == plain
    tf = TransformHeader.parse(frame)
    assert (tf.session_id, tf.original_size) == (SID, len(plain))
    nonce = tf.nonce[: cipher.nonce_size]
    assert tf.nonce[cipher.nonce_size :] == b"\x00" * (16 - cipher.nonce_size)
    aead = AESGCM(sealer.key) if cipher.nonce_size == 12 else AESCCM(sealer.key)
    expect = aead.encrypt(nonce, plain, frame[20:TRANSFORM_SIZE])
    assert frame[TRANSFORM_SIZE:] == expect[:-16] and tf.signature == expect[-16:]


@pytest.mark.parametrize("cipher", list(Cipher))
def test_every_message_gets_its_own_nonce(cipher: Cipher) -> None:
    sealer, _ = _pair(cipher)
    nonces = {TransformHeader.parse(sealer.seal([b"same"])[0]).nonce for _ in range(50)}
    assert len(nonces) == 50


@pytest.mark.parametrize("cipher", list(Cipher))
def test_altered_truncated_or_misaddressed_frames_do_not_open(cipher: Cipher) -> None:
    sealer, opener = _pair(cipher)
    frame = _frame(sealer, [b"x" * 200])
    for pos in (4, 20, 36, 44, 48, 60, len(frame) - 1):  # tag, nonce, size, flags, sid, data
        bad = bytearray(frame)
        bad[pos] ^= 0x01
        with pytest.raises(MalformedPacket):
            opener.open(bytes(bad))
    with pytest.raises(DecryptError):
        opener.open(frame[:-1])
    with pytest.raises(DecryptError):
        Opener(cipher, opener.key, SID + 1).open(frame)
    with pytest.raises(DecryptError):
        Opener(cipher, bytes(cipher.key_size), SID).open(frame)
    assert opener.open(frame) == b"x" * 200  # the original still opens


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(Cipher)), st.lists(st.binary(max_size=3000), max_size=5))
def test_round_trip_any_pieces(cipher: Cipher, pieces: list[bytes]) -> None:
    if not sum(map(len, pieces)):
        pieces = [b"\x00"]
    sealer, opener = _pair(cipher)
    assert opener.open(_frame(sealer, list(pieces))) == b"".join(pieces)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Cipher)), st.binary(max_size=200))
def test_hostile_frames_raise_malformed_only(cipher: Cipher, junk: bytes) -> None:
    _, opener = _pair(cipher)
    for data in (junk, b"\xfdSMB" + junk):
        with pytest.raises(MalformedPacket):
            opener.open(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_frames_never_open(data: st.DataObject) -> None:
    cipher = data.draw(st.sampled_from(list(Cipher)))
    sealer, opener = _pair(cipher)
    frame = bytearray(_frame(sealer, [data.draw(st.binary(min_size=1, max_size=500))]))
    pos = data.draw(st.integers(0, len(frame) - 1))
    frame[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(MalformedPacket):
        opener.open(bytes(frame))


def test_keys_and_prefixes_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError):
        Sealer(Cipher.AES_256_GCM, bytes(16), SID, bytes(4))
    with pytest.raises(ValueError):
        Sealer(Cipher.AES_128_CCM, bytes(16), SID, bytes(4))
