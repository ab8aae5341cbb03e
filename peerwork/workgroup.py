"""The workgroup as a trust domain: its signing key, membership certificates, revocation.

Design
======

*The workgroup key.* ``peerwork init --workgroup NAME`` makes an
Ed25519 key pair for the workgroup (``HOME/workgroup/workgroup.key``, 0600,
in a 0700 folder). Every member holds the private key: there is no server and
no single PC that must be on for someone to join, so any member can invite.

*Membership certificates* (:class:`peerwork.proto.membership.MemberCert`, a
compact binary codec of ours): the workgroup key signs a peer id (the hash of
a PC's own Ed25519 key), the PC name, the workgroup name, a random serial and
the time of issue. A member announces its certificate in its signed peer
record (TXT key ``mc``, base64, about 200 characters); every receiver checks
it against the workgroup key it holds and against the revocation list. A
record without a valid certificate that claims our workgroup's name is *not a
member*: listed with a warning, refused by the channel, and therefore given
nothing that travels over it (mail hand-off, replication, lease tables).

*Creating*: plain ``peerwork init --workgroup NAME`` (``--join-later``
makes no key). The key is *solo* (``HOME/workgroup/solo``) until it certifies
another PC; a join replaces a solo key.

*Joining* (:mod:`peerwork.join_pake`, :mod:`agents.trust`): ``peerwork
invite`` on any member makes a single-use, expiring code
(:mod:`peerwork.proto.join_code`); ``peerwork join CODE`` on the new PC runs
SPAKE2 with the issuing member over the channel (mutual TLS with the two peer
keys). The PAKE identities are the two peer ids the TLS handshake proved, so a
relay between two TLS sessions computes different keys on each side and
fails. Both sides confirm the key before anything else is said; only then
does the member send, sealed with the PAKE key inside the TLS channel, the
workgroup key and the newcomer's certificate. The code never travels; a man in
the middle or a fake member learns nothing it can test offline (one guess per
exchange, and the issuer counts exchanges: a code is burnt after
:data:`peerwork.invites.MAX_CODE_TRIES`, expires after its TTL and is spent by its first use).

*Revocation* (:mod:`peerwork.rekey`). ``peerwork remove-peer NAME`` on a
member adds the peer id (serial 0: every certificate it ever had) to a
signed, numbered revocation list
(:class:`peerwork.proto.membership.RevocationList`). Because the removed PC
held the workgroup key, removal also rotates it: a new key, a certificate of
it for every remaining member, and the old key's signature over the new
public key and the list (the *succession*). The remover hands all that to
each remaining member over the channel (``trust.rekey``, member to member,
inside mutual TLS) before installing it itself; a receiver installs it only
if the succession is signed by the key it holds and the list is newer than
its own. Receivers check the revocation list before the certificate, so a
removed PC that keeps announcing its old certificate shows as *revoked*, and
whatever it certifies with the old key is signed by "another workgroup's
key" and counts for nobody.

*What a removed PC that was hostile before its removal can still do*, stated
honestly: while it was a member it had the workgroup key, so it could have
certified extra peer ids (worthless after the rotation, like every
certificate of the old key), and it could read everything members sent it
over the channel — account NT hashes once accounts replicate, mail, files
of shares it could reach. Rotation cannot take that back: change those
passwords. It can also still talk to a member that was switched off during
the removal until that member catches up, and could offer it a forged
rotation signed by the old key it holds.

*Catching up* (:mod:`agents.trust_catchup`): a member that was off during
a removal asks a member holding a key it does not; it gets the list and the
new key if its own key vouches for them (the succession) and the list is
newer. Members remember who they saw as members (``members-seen.txt``) and
carry that over a rotation (``members-before.txt``): only those are caught
up. Limits: one rotation is kept; a removed peer id is refused by the join
desk (it comes back only with a new peer key).

This module is the state on disk and the checks; no sockets, no clock of its
own (``now`` is handed in).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peerwork.atomic import atomic_write_bytes
from peerwork.errors import ConfigError, InvalidInput
from peerwork.identity import verify_signature
from peerwork.models import PeerTrust
from peerwork.proto.membership import (
    MemberCert,
    MembershipError,
    RevocationList,
    key_id_of,
)

log = logging.getLogger(__name__)

WORKGROUP_DIR = "workgroup"
KEY_FILE = "workgroup.key"
CERT_FILE = "member.crt"
REVOKED_FILE = "revoked.bin"
# Present while the key was made here and has certified no other PC: a join may replace it.
SOLO_FILE = "solo"
# The last rotation this PC went through: the previous public key and its signature over
# the current key and list, so a member that missed it can be caught up (peerwork.rekey).
SUCCESSION_FILE = "succession.bin"
# Peer ids this PC has seen announce a valid certificate of the current key, and those
# it had seen under the previous one: only those are caught up after a rotation (a
# removed PC holds the previous key and could certify anyone with it).
SEEN_FILE = "members-seen.txt"
PREVIOUS_FILE = "members-before.txt"
MAX_SEEN = 4096


def workgroup_dir(home: Path) -> Path:
    return home / WORKGROUP_DIR


@dataclass(frozen=True, slots=True)
class Standing:
    """What a peer's record is to this workgroup: ``trust`` and, if not a member, why."""

    trust: PeerTrust
    problem: str = ""

    @property
    def member(self) -> bool:
        return self.trust is PeerTrust.MEMBER


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Workgroup:
    """This PC's membership: the workgroup key, its own certificate, the revocation list.

    ``load`` returns None for a PC that has not created or joined a workgroup
    (an older home, or one waiting for ``peerwork join``): such a PC keeps the
    trust-on-first-use behaviour of before.
    """

    def __init__(
        self,
        folder: Path,
        name: str,
        key: Ed25519PrivateKey,
        cert: MemberCert,
        revoked: RevocationList | None = None,
        succession: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.folder = folder
        self.succession = succession  # (previous public key, its signature), see rekey
        self.seen = _read_ids(folder / SEEN_FILE)
        self.previous = _read_ids(folder / PREVIOUS_FILE)
        self.name = name
        self.key = key
        self.cert = cert
        self.revoked = revoked
        self.public_raw = _raw_public(key)
        self.key_id = key_id_of(self.public_raw)
        self._checked: dict[tuple[str, str, str, str], Standing] = {}

    # ----- creating, joining, loading

    @classmethod
    def create(
        cls, home: Path, *, workgroup: str, peer_id: str, pc_name: str, now: float
    ) -> Workgroup:
        key = Ed25519PrivateKey.generate()
        cert = issue(key, peer_id=peer_id, name=pc_name, workgroup=workgroup, now=now)
        wg = cls.install(home, key_raw=key.private_bytes_raw(), cert=cert)
        atomic_write_bytes(wg.folder / SOLO_FILE, b"", mode=0o644)
        return wg

    @classmethod
    def install(
        cls,
        home: Path,
        *,
        key_raw: bytes,
        cert: MemberCert,
        revoked: RevocationList | None = None,
        succession: tuple[bytes, bytes] | None = None,
        previous: frozenset[str] = frozenset(),
    ) -> Workgroup:
        """Store a workgroup key and this PC's certificate (create, or a join's result);
        ``succession``: the rotation that made this key (previous public key, signature)."""
        try:
            key = Ed25519PrivateKey.from_private_bytes(key_raw)
        except ValueError:
            raise InvalidInput("the workgroup key received is not an Ed25519 key") from None
        problem = cert_problem(cert, _raw_public(key))
        if problem:
            raise InvalidInput(f"the membership certificate received is invalid: {problem}")
        if revoked is not None and not list_signed_by(revoked, _raw_public(key)):
            raise InvalidInput("the revocation list received is not signed by the workgroup key")
        folder = workgroup_dir(home)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write_bytes(folder / KEY_FILE, pem, mode=0o600)
        atomic_write_bytes(folder / CERT_FILE, cert.pack(), mode=0o644)
        # A received key (join, rekey) is shared with others by definition.
        (folder / SOLO_FILE).unlink(missing_ok=True)
        if revoked is not None:
            atomic_write_bytes(folder / REVOKED_FILE, revoked.pack(), mode=0o644)
        else:
            # A list of an earlier key must not outlive it.
            (folder / REVOKED_FILE).unlink(missing_ok=True)
        if succession is not None:
            atomic_write_bytes(folder / SUCCESSION_FILE, b"".join(succession), mode=0o644)
        else:
            (folder / SUCCESSION_FILE).unlink(missing_ok=True)
        _write_ids(folder / PREVIOUS_FILE, previous)
        (folder / SEEN_FILE).unlink(missing_ok=True)  # seen under the key this replaces
        return cls(folder, cert.workgroup, key, cert, revoked, succession)

    @classmethod
    def load(cls, home: Path) -> Workgroup | None:
        folder = workgroup_dir(home)
        try:
            pem = (folder / KEY_FILE).read_bytes()
        except FileNotFoundError:
            return None
        try:
            key = serialization.load_pem_private_key(pem, None)
            cert = MemberCert.parse((folder / CERT_FILE).read_bytes())
        except (OSError, ValueError, MembershipError) as exc:
            raise ConfigError(
                f"the workgroup membership in {folder} is unreadable: {exc}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"the workgroup key in {folder} is not an Ed25519 key")
        revoked = None
        try:
            revoked = RevocationList.parse((folder / REVOKED_FILE).read_bytes())
        except FileNotFoundError:
            pass
        except (OSError, MembershipError) as exc:
            log.error("%s is unreadable (%s); no revocations known", folder / REVOKED_FILE, exc)
        succession = None
        try:
            raw = (folder / SUCCESSION_FILE).read_bytes()
            if len(raw) == 96:
                succession = (raw[:32], raw[32:])
        except FileNotFoundError:
            pass
        return cls(folder, cert.workgroup, key, cert, revoked, succession)

    @property
    def solo(self) -> bool:
        """True while this PC made the key and certified nobody else with it: joining
        another workgroup then replaces it and loses nothing anyone else relies on."""
        return (self.folder / SOLO_FILE).exists()

    def mark_shared(self) -> None:
        """About to certify another PC: from now on the key is not this PC's alone."""
        (self.folder / SOLO_FILE).unlink(missing_ok=True)

    # ----- what members do

    def issue(self, *, peer_id: str, name: str, now: float) -> MemberCert:
        return issue(self.key, peer_id=peer_id, name=name, workgroup=self.name, now=now)

    def key_raw(self) -> bytes:
        """The private key, to hand to a newcomer inside the PAKE-sealed channel only."""
        return self.key.private_bytes_raw()

    def standing(self, *, peer_id: str, name: str, workgroup: str, cert_text: str) -> Standing:
        """Whether a verified record (peer ``peer_id`` announcing ``name`` in
        ``workgroup`` with certificate ``cert_text``) is a member of ours."""
        memo = (peer_id, name.upper(), workgroup.upper(), cert_text)
        known = self._checked.get(memo)
        if known is None:
            known = self._standing(peer_id, name, workgroup, cert_text)
            if len(self._checked) > 4096:  # a flood of made-up records stays bounded
                self._checked.clear()
            self._checked[memo] = known
        return known

    def _standing(self, peer_id: str, name: str, workgroup: str, cert_text: str) -> Standing:
        if not cert_text:
            return Standing(
                PeerTrust.NOT_A_MEMBER,
                f"claims workgroup {workgroup} but shows no membership certificate",
            )
        try:
            cert = MemberCert.from_text(cert_text)
        except MembershipError as exc:
            return Standing(PeerTrust.NOT_A_MEMBER, f"its membership certificate: {exc.message}")
        if self.revoked is not None and self.revoked.covers(peer_id, cert.serial):
            # Checked first: after a removal the key rotates, and a removed PC's
            # certificate (of the old key) must still read as revoked, not as a stranger's.
            return Standing(PeerTrust.REVOKED, "removed from the workgroup")
        problem = cert_problem(cert, self.public_raw)
        if not problem and cert.peer_id != peer_id:
            problem = "the certificate is another peer's"
        if not problem and cert.workgroup.upper() != workgroup.upper():
            problem = f"the certificate is for workgroup {cert.workgroup}"
        if problem:
            return Standing(PeerTrust.NOT_A_MEMBER, problem)
        self.note_member(peer_id)
        return Standing(PeerTrust.MEMBER)

    def note_member(self, peer_id: str) -> None:
        """Remember a member seen under this key (see :data:`SEEN_FILE`)."""
        if peer_id in self.seen or len(self.seen) >= MAX_SEEN:
            return
        self.seen.add(peer_id)
        try:
            _write_ids(self.folder / SEEN_FILE, self.seen)
        except OSError as exc:
            log.error("cannot record member %s in %s: %s", peer_id, self.folder, exc)

    def members_known(self) -> frozenset[str]:
        """Who counts as a member of this key, to carry over a rotation."""
        return frozenset({*self.seen, self.cert.peer_id})


def issue(
    key: Ed25519PrivateKey, *, peer_id: str, name: str, workgroup: str, now: float
) -> MemberCert:
    cert = MemberCert(
        key_id=key_id_of(_raw_public(key)),
        serial=secrets.randbits(63),
        issued=int(now),
        peer_id=peer_id,
        name=name.upper(),
        workgroup=workgroup.upper(),
    )
    return cert.signed_with(key.sign)


def list_signed_by(revoked: RevocationList, workgroup_public: bytes) -> bool:
    return revoked.key_id == key_id_of(workgroup_public) and verify_signature(
        workgroup_public, revoked.signature, revoked.signed_bytes()
    )


def cert_problem(cert: MemberCert, workgroup_public: bytes) -> str:
    """Why ``cert`` is not signed by the workgroup key ``workgroup_public``; empty if it is."""
    if cert.key_id != key_id_of(workgroup_public):
        return "signed by another workgroup's key"
    if not verify_signature(workgroup_public, cert.signature, cert.signed_bytes()):
        return "its signature does not verify"
    return ""


def _read_ids(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="ascii", errors="replace").split()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        log.error("%s is unreadable (%s)", path, exc)
        return set()
    return {line for line in lines[:MAX_SEEN] if line.isalnum() and len(line) <= 64}


def _write_ids(path: Path, ids: set[str] | frozenset[str]) -> None:
    atomic_write_bytes(path, "".join(f"{i}\n" for i in sorted(ids)).encode("ascii"), mode=0o644)
