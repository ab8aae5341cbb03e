"""The forwarder's cache: answers kept for their TTL, NXDOMAIN/NODATA for the SOA's
negative TTL (RFC 2308), served with the TTLs counted down; pure (``now`` is given).

Failures (SERVFAIL, REFUSED) and TTL-0 answers are not kept. The cache is
bounded in entries; when full the oldest entry goes first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, DNSRecord

from peerwork.proto.dns import DnsError, Question, parse_message

MAX_TTL = 86400
MAX_NEGATIVE_TTL = 300


@dataclass(frozen=True, slots=True)
class _Entry:
    stored: float
    expires: float
    wire: bytes


class DnsCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Question, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, question: Question, now: float) -> DNSRecord | None:
        """A fresh copy of the cached reply with TTLs lowered by its age, or None."""
        entry = self._entries.get(question)
        if entry is None or entry.expires <= now:
            if entry is not None:
                del self._entries[question]
            self.misses += 1
            return None
        try:
            reply = parse_message(entry.wire)
        except DnsError:
            del self._entries[question]
            return None
        age = int(now - entry.stored)
        for rr in (*reply.rr, *reply.auth, *reply.ar):
            if int(rr.rtype) != QTYPE.OPT:
                rr.ttl = max(0, int(rr.ttl) - age)
        self.hits += 1
        return reply

    def put(self, question: Question, reply: DNSRecord, now: float) -> None:
        ttl = cache_ttl(reply)
        if ttl <= 0:
            return
        self._entries.pop(question, None)
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        self._entries[question] = _Entry(now, now + ttl, bytes(reply.pack()))

    def clear(self) -> None:
        self._entries.clear()


def cache_ttl(reply: DNSRecord) -> int:
    """How long ``reply`` may be kept: 0 for not at all."""
    rcode = int(reply.header.rcode)
    if reply.header.tc or rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
        return 0
    if rcode == RCODE.NOERROR and reply.rr:
        return min(MAX_TTL, *(int(rr.ttl) for rr in reply.rr))
    soas = [rr for rr in reply.auth if int(rr.rtype) == QTYPE.SOA]
    if not soas:
        return 0  # RFC 2308 §5: no SOA, no negative caching
    soa = soas[0]
    return min(MAX_NEGATIVE_TTL, int(soa.ttl), int(soa.rdata.times[-1]))
