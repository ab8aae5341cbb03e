"""peerwork.proto.dns: dnslib behind one error type; truncation; hostile input."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from dnslib import AAAA, EDNS0, QTYPE, RR, A, DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.dns import (
    MAX_MESSAGE,
    UDP_PLAIN,
    DnsError,
    Question,
    first_question,
    pack_reply,
    parse_message,
    udp_limit,
)


def query(name: str = "pc1.office.lan", qtype: str = "A") -> bytes:
    return bytes(DNSRecord.question(name, qtype).pack())


def test_parse_and_question() -> None:
    wire = query("PC1.Office.LAN.")
    record = parse_message(wire)
    assert first_question(record) == Question("pc1.office.lan", QTYPE.A)
    assert first_question(record).type_name == "A"  # type: ignore[union-attr]
    assert udp_limit(record) == UDP_PLAIN
    # Exact inverse: what parses packs to the same bytes.
    assert bytes(record.pack()) == wire


def test_edns_size_is_capped() -> None:
    q = DNSRecord.question("x.lan")
    q.add_ar(EDNS0(udp_len=65000))
    assert udp_limit(parse_message(bytes(q.pack()))) == 4096
    q = DNSRecord.question("x.lan")
    q.add_ar(EDNS0(udp_len=100))
    assert udp_limit(parse_message(bytes(q.pack()))) == UDP_PLAIN


def test_big_reply_is_truncated_for_udp() -> None:
    request = parse_message(query("big.office.lan", "AAAA"))
    reply = request.reply()
    for i in range(60):
        reply.add_answer(RR("big.office.lan", QTYPE.AAAA, rdata=AAAA(f"fd00::{i + 1}"), ttl=60))
    full = pack_reply(reply)
    assert len(full) > UDP_PLAIN
    cut = parse_message(pack_reply(reply, UDP_PLAIN))
    assert cut.header.tc == 1 and not cut.rr
    assert len(parse_message(full).rr) == 60


def test_no_question_or_two() -> None:
    record = DNSRecord()
    assert first_question(parse_message(bytes(record.pack()))) is None
    record = DNSRecord.question("a.lan")
    record.add_question(DNSRecord.question("b.lan").q)
    assert first_question(parse_message(bytes(record.pack()))) is None


DATA = Path(__file__).parent.parent / "data" / "dns"


def test_golden_captures_round_trip() -> None:
    """dig's query (EDNS, cookie) and dnsmasq's authoritative answer, captured on
    loopback: parsed and packed back to the same bytes."""
    query_wire = (DATA / "dig-query.bin").read_bytes()
    reply_wire = (DATA / "dnsmasq-reply.bin").read_bytes()
    query = parse_message(query_wire)
    assert first_question(query) == Question("www.example.com", QTYPE.A)
    assert udp_limit(query) == 1232
    assert bytes(query.pack()) == query_wire
    reply = parse_message(reply_wire)
    assert str(reply.a.rdata) == "203.0.113.10" and reply.header.aa
    # dnsmasq writes a name uncompressed where dnslib points back to the question's:
    # the same message in fewer bytes, so compare what they say, not the bytes.
    again = pack_reply(reply)
    assert len(again) <= len(reply_wire)
    assert str(parse_message(again)) == str(reply)


HEADER_1Q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"\x00" * 11,
        HEADER_1Q,  # a question announced, none there
        HEADER_1Q + b"\x03pc1\x06office",  # name cut off
        HEADER_1Q + b"\xc0\x0c\x00\x01\x00\x01",  # pointer to itself
        HEADER_1Q + b"\xc0\x20\x00\x01\x00\x01",  # pointer forward, past the end
        HEADER_1Q + b"\x03pc1\x00\x00",  # type cut off
        HEADER_1Q + b"\x03\xff\xfe\xfd\x00\x00\x01\x00\x01",  # label not UTF-8
        bytes(MAX_MESSAGE + 1),
    ],
)
def test_malformed(wire: bytes) -> None:
    with pytest.raises(DnsError):
        parse_message(wire)


def test_compression_loop_through_two_pointers() -> None:
    # Name at 12 jumps to 17, whose label covers... a pointer back to 12: a cycle that
    # no single "points backwards" check catches; it must end in DnsError, not hang.
    body = b"\x02ab\xc0\x11" + b"\x01x\xc0\x0c"
    wire = HEADER_1Q + body + b"\x00\x01\x00\x01"
    with pytest.raises(DnsError):
        parse_message(wire)


def test_reply_round_trip() -> None:
    request = parse_message(query())
    reply = request.reply()
    reply.add_answer(RR("pc1.office.lan", QTYPE.A, rdata=A("192.168.0.7"), ttl=300))
    back = parse_message(pack_reply(reply, udp_limit(request)))
    assert str(back.a.rdata) == "192.168.0.7" and back.header.id == request.header.id


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(st.binary(max_size=600))
def test_any_bytes_parse_or_refuse(wire: bytes) -> None:
    try:
        record = parse_message(wire)
    except DnsError:
        return
    first_question(record)
    udp_limit(record)


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(st.data())
def test_mutated_queries(data: st.DataObject) -> None:
    q = DNSRecord.question("pc1.office.lan", "A")
    q.add_ar(EDNS0(udp_len=1232))
    wire = bytearray(q.pack())
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(wire) - 1))
        wire[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    try:
        record = parse_message(bytes(wire[:cut]))
    except DnsError:
        return
    try:
        reply = pack_reply(record.reply(), udp_limit(record))
    except DnsError:
        return
    assert len(reply) <= udp_limit(record)
    assert parse_message(reply).header.id == record.header.id


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(st.from_regex(r"[a-z0-9-]{1,30}(\.[a-z0-9-]{1,30}){0,5}", fullmatch=True))
def test_questions_round_trip(name: str) -> None:
    assert first_question(parse_message(query(name))) == Question(name, QTYPE.A)
