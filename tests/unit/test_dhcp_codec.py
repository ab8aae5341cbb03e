"""peerwork.proto.dhcp: BOOTP header, options, overload, RFC 3396/3397, hostile input."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.dhcp import (
    FIXED_LEN,
    HEADER,
    MAGIC,
    MAX_PACKET,
    MIN_PACKET,
    DhcpError,
    DhcpPacket,
    MessageType,
    Op,
    Opt,
    decode_addresses,
    decode_domain_search,
    decode_fqdn,
    decode_u32,
    encode_addresses,
    encode_domain_search,
    encode_fqdn,
    encode_u32,
    message_type_option,
)

DATA = Path(__file__).parent.parent / "data" / "dhcp"
MAC = bytes.fromhex("020000aabbcc")


def discover(**options: bytes) -> DhcpPacket:
    opts = {Opt.MESSAGE_TYPE: message_type_option(MessageType.DISCOVER)}
    opts.update({int(k.removeprefix("o")): v for k, v in options.items()})
    return DhcpPacket(Op.REQUEST, 0x12345678, MAC, {int(k): v for k, v in opts.items()})


def test_round_trip_and_accessors() -> None:
    packet = discover(o12=b"pc1", o50=IPv4Address("192.168.0.7").packed, o55=bytes([1, 3, 6]))
    wire = packet.pack()
    assert len(wire) == MIN_PACKET
    assert wire[HEADER.size : FIXED_LEN] == MAGIC
    back = DhcpPacket.parse(wire)
    assert back == packet
    assert back.message_type is MessageType.DISCOVER
    assert back.requested_ip == IPv4Address("192.168.0.7")
    assert back.hostname == "pc1"
    assert back.parameter_list == (1, 3, 6)
    assert back.mac == "02:00:00:aa:bb:cc"
    assert back.client_id == b"\x01" + MAC
    assert back.server_id is None and not back.broadcast


def test_long_option_is_split_and_joined_rfc3396() -> None:
    search = encode_domain_search([f"n{i}.example-{i}.org" for i in range(30)])
    assert len(search) > 255
    packet = discover(o119=search)
    wire = packet.pack()
    assert wire.count(bytes([Opt.DOMAIN_SEARCH])) >= 2
    assert DhcpPacket.parse(wire).options[Opt.DOMAIN_SEARCH] == search


def test_overload_options_in_file_and_sname() -> None:
    head = bytearray(DhcpPacket(Op.REQUEST, 1, MAC).pack()[:FIXED_LEN])
    # file (offset 108) carries the hostname, sname (offset 44) the requested address.
    file_opts = bytes([Opt.HOSTNAME, 3]) + b"pc9" + bytes([Opt.END])
    sname_opts = bytes([Opt.REQUESTED_IP, 4]) + IPv4Address("10.0.0.9").packed
    head[108 : 108 + len(file_opts)] = file_opts
    head[44 : 44 + len(sname_opts)] = sname_opts
    wire = bytes(head) + bytes([Opt.OVERLOAD, 1, 3, Opt.MESSAGE_TYPE, 1, 3, Opt.END])
    packet = DhcpPacket.parse(wire)
    assert packet.hostname == "pc9"
    assert packet.requested_ip == IPv4Address("10.0.0.9")
    assert packet.message_type is MessageType.REQUEST
    assert packet.sname == b"" and packet.file == b""
    # Packed back, every option sits in the options field.
    assert DhcpPacket.parse(packet.pack()).options == packet.options


def test_value_helpers() -> None:
    addrs = (IPv4Address("192.168.0.1"), IPv4Address("8.8.8.8"))
    assert decode_addresses(encode_addresses(addrs)) == addrs
    assert decode_u32(encode_u32(86400)) == 86400
    with pytest.raises(DhcpError):
        decode_addresses(b"\x01\x02\x03")
    with pytest.raises(DhcpError):
        decode_u32(b"\x00")
    assert decode_fqdn(encode_fqdn("pc1.office.lan")) == "pc1.office.lan"
    assert decode_fqdn(b"\x00\x00\x00pc2.office.lan") == "pc2.office.lan"
    packet = discover(o81=b"\x04\x00\x00" + b"\x03pc3\x06office\x03lan\x00")
    assert packet.hostname == "pc3"


def test_domain_search_compression_rfc3397_example() -> None:
    # RFC 3397 §3's example: eng.apple.com and marketing.apple.com.
    wire = encode_domain_search(["eng.apple.com", "marketing.apple.com"])
    assert wire == (
        b"\x03eng\x05apple\x03com\x00" + b"\x09marketing\xc0\x04"
    )  # the second name points at "apple.com" (offset 4)
    assert decode_domain_search(wire) == ("eng.apple.com", "marketing.apple.com")
    assert decode_domain_search(encode_domain_search(["office.lan"])) == ("office.lan",)


@pytest.mark.parametrize(
    "value",
    [
        b"\xc0\x00",  # points at itself
        b"\x03abc\xc0\x06",  # points forward
        b"\x03abc",  # no terminating label
        b"\x05ab",  # label past the end
        b"\x80abc\x00",  # reserved label type
        b"\xc0",  # pointer cut off
        (b"\x3f" + b"a" * 63) * 5 + b"\x00",  # longer than 253
    ],
)
def test_hostile_domain_search(value: bytes) -> None:
    with pytest.raises(DhcpError):
        decode_domain_search(value)


def test_pointer_chain_is_bounded() -> None:
    # Each name is a pointer to the previous name's pointer: 200 hops deep.
    value = bytearray(b"\x00")
    for _ in range(200):
        value += struct.pack("!H", 0xC000 | (len(value) - (1 if len(value) == 1 else 2)))
    with pytest.raises(DhcpError):
        decode_domain_search(bytes(value))


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"", "shorter"),
        (b"\x01" * (FIXED_LEN - 1), "shorter"),
        (bytes(MAX_PACKET + 1), "longer"),
        (bytes(HEADER.size) + MAGIC + b"\xff", "op 0"),
        (b"\x01\x01\x11" + bytes(HEADER.size - 3) + MAGIC + b"\xff", "hardware address"),
        (b"\x01\x01\x06" + bytes(HEADER.size - 3) + b"\x00\x00\x00\x00\xff", "cookie"),
        (b"\x01\x01\x06" + bytes(HEADER.size - 3) + MAGIC + b"\x35\x05\x01", "claims"),
        (b"\x01\x01\x06" + bytes(HEADER.size - 3) + MAGIC + b"\x35", "cut off"),
        (b"\x01\x01\x06" + bytes(HEADER.size - 3) + MAGIC + b"\x35\x01\x01", "END"),
        (b"\x01\x01\x06" + bytes(HEADER.size - 3) + MAGIC + b"\x34\x01\x07\xff", "overload"),
    ],
)
def test_malformed_packets(wire: bytes, why: str) -> None:
    with pytest.raises(DhcpError, match=why):
        DhcpPacket.parse(wire)


def test_overload_inside_file_is_refused() -> None:
    head = bytearray(DhcpPacket(Op.REQUEST, 1, MAC).pack()[:FIXED_LEN])
    head[108:112] = bytes([Opt.OVERLOAD, 1, 1, Opt.END])
    with pytest.raises(DhcpError, match="overload"):
        DhcpPacket.parse(bytes(head) + bytes([Opt.OVERLOAD, 1, 1, Opt.END]))


def test_bad_message_type_reads_as_none() -> None:
    for value in (b"", b"\x09", b"\x01\x01"):
        assert discover(o53=value).message_type is None


def test_golden_captures_round_trip() -> None:
    """Real client packets (udhcpc, dhclient) captured in a test namespace."""
    captures = sorted(DATA.glob("*.bin"))
    assert captures, f"no captures in {DATA}"
    for path in captures:
        wire = path.read_bytes()
        packet = DhcpPacket.parse(wire)
        assert packet.message_type is not None
        again = packet.pack()
        # Options keep their order and values; only padding may differ.
        assert DhcpPacket.parse(again) == packet
        assert again.rstrip(b"\0") == wire.rstrip(b"\0"), path.name


options = st.dictionaries(
    st.integers(1, 254).filter(lambda c: c != Opt.OVERLOAD),
    st.binary(max_size=300),
    max_size=8,
)


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(
    st.sampled_from(Op),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=16),
    options,
    st.integers(0, 0xFFFF),
    st.binary(max_size=64).map(lambda b: b.rstrip(b"\0")),
    st.binary(max_size=128).map(lambda b: b.rstrip(b"\0")),
)
def test_round_trip_property(
    op: Op, xid: int, chaddr: bytes, opts: dict[int, bytes], flags: int, sname: bytes, file: bytes
) -> None:
    packet = DhcpPacket(op, xid, chaddr, opts, flags=flags, sname=sname, file=file)
    try:
        wire = packet.pack()
    except DhcpError:
        assert sum(len(v) + 2 * (len(v) // 255 + 1) for v in opts.values()) > MAX_PACKET - 300
        return
    back = DhcpPacket.parse(wire)
    # An empty value packs as a zero-length option and reads back as b"".
    assert back == packet


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(st.binary(max_size=700))
def test_any_bytes_parse_or_refuse(wire: bytes) -> None:
    try:
        packet = DhcpPacket.parse(wire)
    except DhcpError:
        return
    # Whatever parses packs back to the same header and options.
    assert DhcpPacket.parse(packet.pack()) == packet


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(st.data())
def test_mutated_real_packet(data: st.DataObject) -> None:
    wire = bytearray(discover(o12=b"pc1", o55=bytes([1, 3, 6, 15, 119]), o61=b"\x01" + MAC).pack())
    for _ in range(data.draw(st.integers(1, 8))):
        where = data.draw(st.integers(0, len(wire) - 1))
        wire[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    try:
        packet = DhcpPacket.parse(bytes(wire[:cut]))
    except DhcpError:
        return
    _ = (packet.hostname, packet.message_type, packet.requested_ip, packet.client_id)


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(st.lists(st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,4}", fullmatch=True)))
def test_domain_search_round_trip(names: list[str]) -> None:
    assert decode_domain_search(encode_domain_search(names)) == tuple(names)


@settings(deadline=None)  # load on a shared machine, not the codec, sets the time
@given(st.binary(max_size=300))
def test_domain_search_hostile(value: bytes) -> None:
    try:
        names = decode_domain_search(value)
    except DhcpError:
        return
    assert all(len(n) <= 253 for n in names)
