"""DNS messages on the wire, through dnslib, with one error type for anything malformed.

dnslib parses and packs exactly (its own golden tests), but a hostile packet
can make it raise any of several exceptions — its ``DNSError``, ``BufferError``,
``struct.error``, ``UnicodeDecodeError``, or ``RecursionError`` on a chain of
compression pointers. :func:`parse_message` turns every one of them into
:class:`DnsError`, so a server has exactly one thing to catch and drop.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnslib import QTYPE, DNSRecord

from peerwork.errors import InvalidInput

MAX_MESSAGE = 65535  # a DNS message's length field (TCP) can't say more
UDP_PLAIN = 512  # RFC 1035's UDP limit for a client without EDNS
UDP_EDNS_CAP = 4096  # the most we answer over UDP whatever a client advertises
MIN_MESSAGE = 12  # the header alone


class DnsError(InvalidInput):
    """A DNS message that is truncated, oversized, or otherwise malformed."""

    code = "dns-malformed"


@dataclass(frozen=True, slots=True)
class Question:
    name: str  # lower case, no trailing dot ("pc1.office.lan"; "" for the root)
    qtype: int  # dnslib QTYPE value (1 = A)

    @property
    def type_name(self) -> str:
        return str(QTYPE.get(self.qtype, f"TYPE{self.qtype}"))


def parse_message(data: bytes) -> DNSRecord:
    if len(data) < MIN_MESSAGE:
        raise DnsError(f"DNS message of {len(data)} bytes is shorter than its header")
    if len(data) > MAX_MESSAGE:
        raise DnsError(f"DNS message of {len(data)} bytes is longer than {MAX_MESSAGE}")
    try:
        return DNSRecord.parse(data)
    except (Exception, RecursionError) as exc:  # dnslib raises several unrelated types
        raise DnsError(f"malformed DNS message: {type(exc).__name__}: {exc}") from None


def first_question(record: DNSRecord) -> Question | None:
    """The question a server answers (clients send exactly one; more is not answered)."""
    if len(record.questions) != 1:
        return None
    q = record.questions[0]
    return Question(str(q.qname).rstrip(".").lower(), int(q.qtype))


def udp_limit(request: DNSRecord) -> int:
    """How large a UDP reply to ``request`` may be: 512, or its EDNS size up to 4096."""
    for rr in request.ar:
        if int(rr.rtype) == QTYPE.OPT:
            return max(UDP_PLAIN, min(int(rr.rclass), UDP_EDNS_CAP))
    return UDP_PLAIN


def pack_reply(reply: DNSRecord, limit: int = MAX_MESSAGE) -> bytes:
    """``reply`` on the wire; if longer than ``limit`` (UDP), the header and question
    only with TC set, so the client retries over TCP (RFC 1035 §4.2.1)."""
    try:
        data = bytes(reply.pack())
        if len(data) > limit:
            data = bytes(reply.truncate().pack())
    except (Exception, RecursionError) as exc:
        raise DnsError(f"cannot encode DNS reply: {type(exc).__name__}: {exc}") from None
    if len(data) > MAX_MESSAGE:
        raise DnsError(f"DNS reply of {len(data)} bytes does not fit in a message")
    return data
