"""Removing a member: a new revocation list and a new workgroup key for those who stay.

Sans-IO. :func:`rotate` makes, on the member that runs ``remove-peer``:

- a new workgroup key (the removed PC held the old one and could otherwise
  still invite and certify);
- the revocation list, one number higher, naming the removed peer (serial 0:
  every certificate it ever had), signed by the new key;
- a certificate of the new key for every remaining member;
- the *succession*: the old key's signature over the new public key and the
  list, which is how a member that receives all this (``trust.rekey`` over
  the channel) knows it comes from the workgroup it belongs to.

:func:`check_rekey` is the receiving member's side: it accepts only a
succession signed by the key it holds, a list signed by the new key that is
newer than its own, and a certificate of the new key for itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peerwork.errors import InvalidInput
from peerwork.identity import verify_signature
from peerwork.proto.membership import MemberCert, RevocationList, Revoked, key_id_of
from peerwork.workgroup import Workgroup, cert_problem, issue, list_signed_by

SUCCESSION_DOMAIN = b"peerwork-rekey-v1\x00"


def succession_bytes(new_public: bytes, revoked: RevocationList) -> bytes:
    return SUCCESSION_DOMAIN + new_public + revoked.pack()


@dataclass(frozen=True, slots=True)
class Rekey:
    key_raw: bytes
    revoked: RevocationList
    succession: bytes  # the old key's signature over succession_bytes()
    certs: Mapping[str, MemberCert]  # remaining member's peer id -> its new certificate

    @property
    def public_raw(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.key_raw).public_key().public_bytes_raw()


def rotate(wg: Workgroup, *, remove: str, members: Sequence[tuple[str, str]], now: float) -> Rekey:
    """``remove``: the peer id to revoke; ``members``: (peer id, PC name) of those who stay."""
    if remove == wg.cert.peer_id:
        raise InvalidInput("a PC cannot remove itself; remove it from another member")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    old = wg.revoked
    entries = tuple(old.revoked) if old is not None else ()
    if not any(r.peer_id == remove and r.serial == 0 for r in entries):
        entries = (*entries, Revoked(remove, 0))
    revoked = RevocationList(
        key_id=key_id_of(public),
        number=(old.number if old is not None else 0) + 1,
        issued=int(now),
        revoked=entries,
    ).signed_with(key.sign)
    certs = {
        peer_id: issue(key, peer_id=peer_id, name=name, workgroup=wg.name, now=now)
        for peer_id, name in members
        if peer_id != remove
    }
    succession = wg.key.sign(succession_bytes(public, revoked))
    return Rekey(key.private_bytes_raw(), revoked, succession, certs)


def check_rekey(
    wg: Workgroup, *, key_raw: bytes, cert: MemberCert, revoked: RevocationList, succession: bytes
) -> str:
    """Why a received rekey must not be installed on ``wg``'s PC; empty if it may."""
    try:
        public = Ed25519PrivateKey.from_private_bytes(key_raw).public_key().public_bytes_raw()
    except ValueError:
        return "the new workgroup key is not an Ed25519 key"
    if not verify_signature(wg.public_raw, succession, succession_bytes(public, revoked)):
        return "the new key is not signed by this workgroup's key"
    if not list_signed_by(revoked, public):
        return "the revocation list is not signed by the new key"
    if wg.revoked is not None and revoked.number <= wg.revoked.number:
        return f"revocation list {revoked.number} is not newer than {wg.revoked.number}"
    if cert.peer_id != wg.cert.peer_id:
        return "the certificate is another peer's"
    if revoked.covers(cert.peer_id, cert.serial):
        return "this PC is on the revocation list"
    return cert_problem(cert, public)
