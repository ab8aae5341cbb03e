"""Join codes: what ``peerwork invite`` prints and ``peerwork join`` is typed.

Four groups of five base32 characters (RFC 4648 alphabet, upper case), e.g.
``K7QXM-3FJ2A-P9WZT-HCE4R`` — 20 characters a person reads over the phone::

    issuer hint (5) - code id (5) - secret (10, two groups)

- *issuer hint*: the first five characters of the issuing member's peer id, so
  ``join`` knows which PC to ask (25 bits: plenty among 25 PCs);
- *code id*: which of the member's outstanding invites this is (sent in the
  clear, like a user name; it is no secret);
- *secret*: 50 random bits, the PAKE password. It never travels: the PAKE
  proves knowledge of it, and a man in the middle or a fake member gets one
  guess per exchange, which the issuer counts.

Reading is forgiving where people are: case, spaces and dashes do not matter,
and 0, 1 and 8 (not in the alphabet) are read as O, I and B.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from peerwork.errors import InvalidInput

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
GROUP = 5
SECRET_BITS = 50
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})
_CODE_RE = re.compile(f"^[{ALPHABET}]{{{4 * GROUP}}}$")
_GROUP_RE = re.compile(f"^[{ALPHABET}]{{{GROUP}}}$")


def _random_group(count: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(count))


@dataclass(frozen=True, slots=True)
class JoinCode:
    hint: str
    code_id: str
    secret: str

    def __post_init__(self) -> None:
        if not (_GROUP_RE.match(self.hint) and _GROUP_RE.match(self.code_id)):
            raise InvalidInput("a join code's hint and id are five base32 characters each")
        if not re.fullmatch(f"[{ALPHABET}]{{{2 * GROUP}}}", self.secret):
            raise InvalidInput("a join code's secret is ten base32 characters")

    @classmethod
    def generate(cls, issuer_peer_id: str) -> JoinCode:
        """A fresh code naming ``issuer_peer_id`` (a base32 peer id)."""
        hint = issuer_peer_id[:GROUP].upper()
        return cls(hint, _random_group(GROUP), _random_group(2 * GROUP))

    def text(self) -> str:
        s = self.secret
        return f"{self.hint}-{self.code_id}-{s[:GROUP]}-{s[GROUP:]}"

    def password(self) -> bytes:
        return self.secret.encode("ascii")

    def names(self, peer_id: str) -> bool:
        """Whether this code could have been issued by ``peer_id``."""
        return peer_id.upper().startswith(self.hint)

    @classmethod
    def parse(cls, text: str) -> JoinCode:
        if len(text) > 64:
            raise InvalidInput("that is not a join code (too long)")
        compact = re.sub(r"[\s-]", "", text).upper().translate(_LOOKALIKES)
        if not _CODE_RE.match(compact):
            raise InvalidInput(
                "that is not a join code: it is four groups of five letters and digits "
                "2-7, e.g. K7QXM-3FJ2A-P9WZT-HCE4R, as 'peerwork invite' printed it"
            )
        return cls(compact[:GROUP], compact[GROUP : 2 * GROUP], compact[2 * GROUP :])
