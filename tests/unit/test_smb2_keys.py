"""SMB 3 key derivation and signing, checked against independent implementations:
cryptography's SP800-108 KBKDFHMAC and smbprotocol's signature function."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

from peerwork.proto.smb2_header import FLAGS_SERVER_TO_REDIR, FLAGS_SIGNED, Smb2Header
from peerwork.proto.smb2_keys import PREAUTH_ZERO, derive, kdf, preauth_update, signing_algorithm
from peerwork.proto.smb2_negctx import Cipher, SigningAlgorithm
from peerwork.proto.smb2_negotiate import DIALECT_210, DIALECT_300, DIALECT_302, DIALECT_311
from peerwork.proto.smb2_signing import Signer

SESSION_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def _reference(key: bytes, label: bytes, context: bytes, length: int = 16) -> bytes:
    return KBKDFHMAC(
        algorithm=hashes.SHA256(),
        mode=Mode.CounterMode,
        length=length,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=label,
        context=context,
        fixed=None,
    ).derive(key)


def test_kdf_matches_sp800_108_reference() -> None:
    for label, ctx, n in ((b"SMB2AESCMAC\x00", b"SmbSign\x00", 16), (b"x\x00", b"y" * 64, 32)):
        assert kdf(SESSION_KEY, label, ctx, n) == _reference(SESSION_KEY, label, ctx, n)


@pytest.mark.parametrize("dialect", [DIALECT_300, DIALECT_302])
def test_smb30_keys_use_fixed_labels(dialect: int) -> None:
    keys = derive(dialect, SESSION_KEY, cipher=Cipher.AES_128_CCM)
    assert keys.signing == _reference(SESSION_KEY, b"SMB2AESCMAC\x00", b"SmbSign\x00")
    assert keys.encryption == _reference(SESSION_KEY, b"SMB2AESCCM\x00", b"ServerOut\x00")
    assert keys.decryption == _reference(SESSION_KEY, b"SMB2AESCCM\x00", b"ServerIn \x00")
    assert keys.application == _reference(SESSION_KEY, b"SMB2APP\x00", b"SmbRpc\x00")


def test_smb311_keys_bind_the_preauth_hash_and_cipher_size() -> None:
    h = preauth_update(preauth_update(PREAUTH_ZERO, b"negotiate"), b"response")
    assert (
        h
        == hashlib.sha512(
            hashlib.sha512(PREAUTH_ZERO + b"negotiate").digest() + b"response"
        ).digest()
    )
    keys = derive(DIALECT_311, SESSION_KEY, h, Cipher.AES_256_GCM)
    assert keys.signing == _reference(SESSION_KEY, b"SMBSigningKey\x00", h)
    assert keys.encryption == _reference(SESSION_KEY, b"SMBS2CCipherKey\x00", h, 32)
    assert keys.decryption == _reference(SESSION_KEY, b"SMBC2SCipherKey\x00", h, 32)
    other = derive(DIALECT_311, SESSION_KEY, preauth_update(h, b"x"), Cipher.AES_256_GCM)
    assert other.signing != keys.signing  # a tampered exchange yields other keys
    assert len(derive(DIALECT_311, SESSION_KEY, h, Cipher.AES_128_GCM).encryption) == 16
    with pytest.raises(ValueError):
        derive(DIALECT_210, SESSION_KEY)


def test_long_session_keys_feed_only_the_aes256_cipher_keys_whole() -> None:
    """A Kerberos-length session key: signing and AES-128 keys use its first 16 bytes,
    AES-256 cipher keys all of it (MS-SMB2 3.3.5.5.3, as smbprotocol does)."""
    long_key = SESSION_KEY + bytes(range(16))
    h = PREAUTH_ZERO
    k256 = derive(DIALECT_311, long_key, h, Cipher.AES_256_GCM)
    assert k256.signing == derive(DIALECT_311, SESSION_KEY, h, Cipher.AES_256_GCM).signing
    assert k256.encryption == _reference(long_key, b"SMBS2CCipherKey\x00", h, 32)
    k128 = derive(DIALECT_311, long_key, h, Cipher.AES_128_GCM)
    assert k128.encryption == _reference(SESSION_KEY, b"SMBS2CCipherKey\x00", h)
    assert derive(DIALECT_300, long_key).signing == derive(DIALECT_300, SESSION_KEY).signing


def test_signing_algorithm_per_dialect() -> None:
    assert signing_algorithm(DIALECT_210, None) is SigningAlgorithm.HMAC_SHA256
    assert signing_algorithm(DIALECT_302, SigningAlgorithm.AES_GMAC) is SigningAlgorithm.AES_CMAC
    assert signing_algorithm(DIALECT_311, None) is SigningAlgorithm.AES_CMAC
    assert signing_algorithm(DIALECT_311, SigningAlgorithm.AES_GMAC) is SigningAlgorithm.AES_GMAC


@pytest.mark.parametrize(
    ("algorithm", "dialect"),
    [
        (SigningAlgorithm.HMAC_SHA256, DIALECT_210),
        (SigningAlgorithm.AES_CMAC, DIALECT_300),
        (SigningAlgorithm.AES_GMAC, DIALECT_311),
    ],
)
@pytest.mark.parametrize("command", [0x08, 0x0C])
@pytest.mark.parametrize("response", [False, True])
def test_signatures_match_smbprotocol(
    algorithm: SigningAlgorithm, dialect: int, command: int, response: bool
) -> None:
    connection = pytest.importorskip("smbprotocol.connection")
    flags = FLAGS_SERVER_TO_REDIR if response else 0
    head = Smb2Header(command=command, message_id=0x1234, flags=flags, session_id=7).pack()
    body = [b"fixed part", memoryview(b"data" * 5000)]
    signer = Signer(SESSION_KEY, algorithm)
    signed = signer.sign_header(head, body)
    ref = object.__new__(connection.Connection)
    ref.dialect = dialect
    ref.signing_algorithm_id = algorithm if dialect == DIALECT_311 else None
    whole = signed + b"".join(bytes(p) for p in body)
    expect = ref._generate_signature(whole, SESSION_KEY, 0x1234, response, command)
    assert signed[48:64] == expect
    assert int.from_bytes(signed[16:20], "little") & FLAGS_SIGNED
    assert signer.verify(whole)
    tampered = bytearray(whole)
    tampered[-1] ^= 1
    assert not signer.verify(bytes(tampered))
    # The response's signature differs from the request's under GMAC (nonce role bit).
    if algorithm is SigningAlgorithm.AES_GMAC:
        other = Smb2Header(command=command, message_id=0x1234, flags=flags ^ 1, session_id=7)
        assert signer.sign_header(other.pack(), body)[48:64] != expect
