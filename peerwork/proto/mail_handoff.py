"""The mail request types of the peer channel: homes, and hand-off of queued mail.

``mail.homes`` v1   which mailboxes the called PC is home for
``mail.has`` v1     which of a message's recipients still lack it there (a
                    retried hand-off skips the upload when none do)
``mail.deliver`` v1 one queued message (body stream: its bytes) for
                    recipients whose home is the called PC; the reply comes
                    only after the message is fsynced in their Maildirs

A message keeps its queue id across PCs: it is the Maildir name on the home
PC, which is what makes a repeated hand-off deliver nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peerwork.accounts import validate_account_name
from peerwork.errors import InvalidInput

from .channel_body import BodyError, RequestKind, integer, text

MAX_MAILBOXES = 1024  # per PC: far beyond a 25-person office
MAX_RECIPIENTS = 1000
MAX_SENDER = 512  # RFC 5321 allows 256 for a path; room for a display of odd ones
MAX_SIZE = 1 << 40
_ID = re.compile(r"^[0-9]{1,12}\.[0-9a-f]{16}$")
# Handler refusals of our own (ErrorCode: services use 100 and up).
NOT_HOME = 120  # "none of these mailboxes lives here": the caller should ask again where


def message_id(body: Mapping[str, Any], key: str = "id") -> str:
    """A queue id (``<seconds>.<16 hex>``): safe as a file name on the receiving side."""
    value = text(body, key, max_len=32)
    if not _ID.match(value):
        raise BodyError(f"field {key!r} is not a queue id")
    return value


def accounts(body: Mapping[str, Any], key: str, *, least: int, most: int) -> tuple[str, ...]:
    """A list of account names, each valid and lower-case, without repeats."""
    value = body.get(key)
    if not isinstance(value, list) or not least <= len(value) <= most:
        raise BodyError(f"field {key!r} must be a list of {least}..{most} account names")
    names: dict[str, None] = {}
    for item in value:
        if not isinstance(item, str) or len(item) > 64:
            raise BodyError(f"field {key!r} must hold account names")
        try:
            name = validate_account_name(item)
        except InvalidInput:
            raise BodyError(f"field {key!r}: {item[:40]!r} is not an account name") from None
        if name != item or name in names:
            raise BodyError(f"field {key!r}: {item!r} is not a distinct lower-case account name")
        names[name] = None
    return tuple(names)


@dataclass(frozen=True, slots=True)
class HomesRequest:
    def to_body(self) -> dict[str, Any]:
        return {}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> HomesRequest:
        del body
        return cls()


@dataclass(frozen=True, slots=True)
class HomesReply:
    mailboxes: tuple[str, ...]

    def to_body(self) -> dict[str, Any]:
        return {"mailboxes": list(self.mailboxes)}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> HomesReply:
        return cls(accounts(body, "mailboxes", least=0, most=MAX_MAILBOXES))


@dataclass(frozen=True, slots=True)
class HasRequest:
    id: str
    recipients: tuple[str, ...]

    def to_body(self) -> dict[str, Any]:
        return {"id": self.id, "recipients": list(self.recipients)}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> HasRequest:
        return cls(message_id(body), accounts(body, "recipients", least=1, most=MAX_RECIPIENTS))


@dataclass(frozen=True, slots=True)
class HasReply:
    missing: tuple[str, ...]  # recipients whose mailbox does not have the message yet

    def to_body(self) -> dict[str, Any]:
        return {"missing": list(self.missing)}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> HasReply:
        return cls(accounts(body, "missing", least=0, most=MAX_RECIPIENTS))


@dataclass(frozen=True, slots=True)
class DeliverRequest:
    id: str
    sender: str
    recipients: tuple[str, ...]
    size: int  # bytes the stream brings; fewer or more is a broken hand-off

    def to_body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "size": self.size,
        }

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> DeliverRequest:
        return cls(
            id=message_id(body),
            sender=text(body, "sender", max_len=MAX_SENDER),
            recipients=accounts(body, "recipients", least=1, most=MAX_RECIPIENTS),
            size=integer(body, "size", low=0, high=MAX_SIZE),
        )


@dataclass(frozen=True, slots=True)
class DeliverReply:
    delivered: tuple[str, ...]  # recipients whose Maildir now holds it (fsynced)

    def to_body(self) -> dict[str, Any]:
        return {"delivered": list(self.delivered)}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> DeliverReply:
        return cls(accounts(body, "delivered", least=0, most=MAX_RECIPIENTS))


MAIL_HOMES: RequestKind[HomesRequest, HomesReply] = RequestKind(
    "mail.homes", 1, HomesRequest.parse, HomesReply.parse
)
MAIL_HAS: RequestKind[HasRequest, HasReply] = RequestKind(
    "mail.has", 1, HasRequest.parse, HasReply.parse
)
MAIL_DELIVER: RequestKind[DeliverRequest, DeliverReply] = RequestKind(
    "mail.deliver", 1, DeliverRequest.parse, DeliverReply.parse
)
