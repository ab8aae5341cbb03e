"""Codecs of the SMB2 file commands: round trips, exact layouts, hostile bytes."""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto import smb2_info as info
from peerwork.proto.ntstatus import NtStatus
from peerwork.proto.smb2_create import (
    CloseRequest,
    CloseResponse,
    CreateContext,
    CreateRequest,
    CreateResponse,
    FileTimes,
    FlushRequest,
    maximal_access_context,
    on_disk_id_context,
    parse_create_contexts,
)
from peerwork.proto.smb2_directory import (
    DirInfoClass,
    QueryDirectoryRequest,
    encode_entry,
    fixed_size,
    pack_entries,
    parse_entries,
)
from peerwork.proto.smb2_header import MalformedPacket
from peerwork.proto.smb2_readwrite import (
    LockElement,
    LockRequest,
    ReadRequest,
    WriteRequest,
    read_response_head,
    write_response,
)

FID = bytes(range(16))


@dataclass(frozen=True)
class Entry:
    name: str
    size: int = 10
    allocation_size: int = 4096
    creation_time: int = 1
    last_access_time: int = 2
    last_write_time: int = 3
    change_time: int = 4
    attributes: int = 0x20
    file_id: int = 77


def test_create_request_round_trip_with_contexts() -> None:
    req = CreateRequest(
        oplock_level=0,
        impersonation_level=2,
        desired_access=0x120089,
        file_attributes=0,
        share_access=7,
        disposition=1,
        options=0x40,
        name="dir\\file.txt",
        contexts=(
            CreateContext(b"MxAc", b""),
            CreateContext(b"QFid", b""),
            CreateContext(b"DHnQ", b"\0" * 16),
        ),
    )
    back = CreateRequest.parse(req.pack())
    assert back == req
    assert back.context(b"QFid") is not None
    assert back.context(b"RqLs") is None


def test_create_request_without_name() -> None:
    req = CreateRequest(0, 2, 0x80, 0, 7, 1, 1, "")
    assert CreateRequest.parse(req.pack()).name == ""


def test_create_response_layout() -> None:
    times = FileTimes(1, 2, 3, 4, 4096, 5, 0x20)
    ctx = (maximal_access_context(0x1F01FF), on_disk_id_context(9, 1))
    raw = CreateResponse(2, times, FID, ctx).pack()
    assert struct.unpack_from("<HBBI", raw) == (89, 0, 0, 2)
    assert raw[64:80] == FID
    off, length = struct.unpack_from("<II", raw, 80)
    assert off == 64 + 88 and length == len(raw) - 88
    parsed = parse_create_contexts(raw[88:])
    assert [c.name for c in parsed] == [b"MxAc", b"QFid"]
    assert struct.unpack("<II", parsed[0].data) == (0, 0x1F01FF)
    assert len(parsed[1].data) == 32
    # Each chained context starts 8-aligned.
    (nxt,) = struct.unpack_from("<I", raw, 88)
    assert nxt % 8 == 0


def test_create_response_without_contexts_has_offsets_zero() -> None:
    raw = CreateResponse(1, FileTimes(), FID).pack()
    assert struct.unpack_from("<II", raw, 80) == (0, 0)
    assert len(raw) >= 89


def test_close_and_flush() -> None:
    assert CloseRequest.parse(CloseRequest(1, FID).pack()) == CloseRequest(1, FID)
    assert CloseRequest(1, FID).postquery
    raw = CloseResponse(FileTimes(1, 2, 3, 4, 5, 6, 7)).pack()
    assert len(raw) == 60 and struct.unpack_from("<HH", raw) == (60, 1)
    assert struct.unpack_from("<HH", CloseResponse().pack()) == (60, 0)
    assert FlushRequest.parse(FlushRequest(FID).pack()) == FlushRequest(FID)


def test_read_write_lock_round_trips() -> None:
    r = ReadRequest(65536, 123, FID, 1)
    assert ReadRequest.parse(r.pack()) == r
    assert read_response_head(5)[:2] == b"\x11\x00" and read_response_head(5)[2] == 0x50
    w = WriteRequest.parse(WriteRequest(7, FID, memoryview(b"hello")).pack())
    assert (w.offset, w.file_id, bytes(w.data)) == (7, FID, b"hello")
    assert struct.unpack_from("<HHI", write_response(5)) == (17, 0, 5)
    lk = LockRequest(FID, (LockElement(0, 10, 0x12), LockElement(10, 0, 4)))
    back = LockRequest.parse(lk.pack())
    assert back == lk and back.locks[0].exclusive and back.locks[1].is_unlock
    assert not LockElement(0, 1, 0x14).valid_flags


def test_query_directory_request_round_trip() -> None:
    q = QueryDirectoryRequest(0x25, 1, 0, FID, "*.txt", 65536)
    assert QueryDirectoryRequest.parse(q.pack()) == q


@pytest.mark.parametrize("klass", list(DirInfoClass))
def test_entries_are_aligned_and_chained(klass: DirInfoClass) -> None:
    entries = [Entry("."), Entry(".."), Entry("a.txt"), Entry("ünïcode name.doc")]
    assert len(encode_entry(klass, entries[2])) == fixed_size(klass) + 10
    buf, n = pack_entries(klass, entries, 65536)
    assert n == 4
    parsed = parse_entries(klass, buf)
    assert [name for name, _ in parsed] == [e.name for e in entries]
    pos = 0
    for _ in range(3):
        (nxt,) = struct.unpack_from("<I", buf, pos)
        assert nxt % 8 == 0 and nxt > 0
        pos += nxt
    assert struct.unpack_from("<I", buf, pos) == (0,)


def test_pack_entries_stops_at_limit_and_single() -> None:
    entries = [Entry(f"file{i:03}") for i in range(100)]
    buf, n = pack_entries(DirInfoClass.ID_BOTH_DIRECTORY, entries, 1000)
    assert 0 < n < 100 and len(buf) <= 1000
    _, one = pack_entries(DirInfoClass.NAMES, entries, 65536, single=True)
    assert one == 1
    assert pack_entries(DirInfoClass.DIRECTORY, entries, 10) == (b"", 0)


def test_id_both_layout() -> None:
    raw = encode_entry(DirInfoClass.ID_BOTH_DIRECTORY, Entry("x", file_id=0x1122))
    assert struct.unpack_from("<QQ", raw, 40) == (10, 4096)  # EndOfFile, AllocationSize
    assert struct.unpack_from("<I", raw, 56) == (0x20,)
    assert struct.unpack_from("<Q", raw, 96) == (0x1122,)
    assert raw[104:] == "x".encode("utf-16-le")


def test_query_and_set_info_round_trip() -> None:
    q = info.QueryInfoRequest(1, 18, 4096, 0, 0, FID)
    assert info.QueryInfoRequest.parse(q.pack()) == q
    s = info.SetInfoRequest(1, 10, 0, FID, info.Rename(True, 0, "new\\name.txt").pack())
    back = info.SetInfoRequest.parse(s.pack())
    assert back == s
    assert info.Rename.parse(back.data) == info.Rename(True, 0, "new\\name.txt")


def test_info_class_sizes() -> None:
    basic = info.Basic(1, 2, 3, 4, 0x20)
    assert len(basic.pack()) == 40 and info.Basic.parse(basic.pack()) == basic
    std = info.Standard(4096, 10, 1, False, False)
    assert len(std.pack()) == 24
    all_ = info.all_information(basic, std, 5, 0x1F01FF, 0, 0, "\\a")
    assert len(all_) == 100 + 4
    assert len(info.network_open(basic, 4096, 10)) == 56
    assert len(info.attribute_tag(0x20)) == 8
    assert len(info.compression(10)) == 16
    assert len(info.stream_information(10, 4096)) == 24 + 14
    assert len(info.fs_size(1, 2, 8, 512)) == 24
    assert len(info.fs_full_size(1, 2, 2, 8, 512)) == 32
    assert len(info.fs_device()) == 8
    assert len(info.fs_sector_size()) == 28
    assert len(info.fs_volume(0, 1, "share")) == 18 + 10
    assert info.fs_attribute().endswith("NTFS".encode("utf-16-le"))
    assert info.Basic.time_or_none(0) is None
    assert info.Basic.time_or_none(0xFFFFFFFFFFFFFFFF) is None
    assert info.Basic.time_or_none(5) == 5


def test_fit_output() -> None:
    data = b"x" * 200
    all_ = info.FileInfoClass.ALL
    assert info.fit_output(1, all_, data, 150) == (NtStatus.BUFFER_OVERFLOW, data[:150])
    # Smaller than the fixed part: a mismatch even for a variable-size class.
    assert info.fit_output(1, all_, data, 50) == (NtStatus.INFO_LENGTH_MISMATCH, b"")
    basic = info.FileInfoClass.BASIC
    assert info.fit_output(1, basic, data, 50) == (NtStatus.INFO_LENGTH_MISMATCH, b"")
    assert info.fit_output(1, basic, data, 200) == (NtStatus.SUCCESS, data)


def test_security_descriptor_layout() -> None:
    sd = info.security_descriptor(7, "S-1-1-0", "S-1-22-2-100", [("S-1-1-0", 0x1200A9)])
    rev, _sbz, control, o_owner, o_group, o_sacl, o_dacl = struct.unpack_from("<BBHIIII", sd)
    assert rev == 1 and control == 0x8004 and o_sacl == 0
    assert sd[o_owner : o_owner + 12] == bytes([1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    acl_rev, _s, acl_size, ace_count = struct.unpack_from("<BBHH", sd, o_dacl)
    assert (acl_rev, ace_count) == (2, 1) and o_dacl + acl_size <= len(sd)
    assert struct.unpack_from("<BBHI", sd, o_dacl + 8) == (0, 0, 20, 0x1200A9)
    assert sd[o_group + 1] == 2  # two sub-authorities: 2, 100
    only_owner = info.security_descriptor(1, "S-1-1-0", "S-1-1-0", [])
    assert struct.unpack_from("<HIIII", only_owner, 2) == (0x8000, 20, 0, 0, 0)


# --- hostile input -------------------------------------------------------------------

PARSERS = [
    CreateRequest.parse,
    CloseRequest.parse,
    FlushRequest.parse,
    ReadRequest.parse,
    WriteRequest.parse,
    LockRequest.parse,
    QueryDirectoryRequest.parse,
    info.QueryInfoRequest.parse,
    info.SetInfoRequest.parse,
    parse_create_contexts,
    info.Basic.parse,
    info.Rename.parse,
    lambda b: parse_entries(DirInfoClass.ID_BOTH_DIRECTORY, b),
    lambda b: parse_entries(DirInfoClass.NAMES, b),
]

GOOD = [
    CreateRequest(0, 2, 0x80, 0, 7, 1, 0, "a\\b.txt", (CreateContext(b"MxAc", b""),)).pack(),
    CloseRequest(1, FID).pack(),
    ReadRequest(10, 0, FID).pack(),
    WriteRequest(0, FID, memoryview(b"abc")).pack(),
    LockRequest(FID, (LockElement(0, 1, 2),)).pack(),
    QueryDirectoryRequest(3, 0, 0, FID, "*", 1000).pack(),
    info.QueryInfoRequest(1, 4, 40, 0, 0, FID).pack(),
    info.SetInfoRequest(1, 10, 0, FID, info.Rename(False, 0, "x").pack()).pack(),
    pack_entries(DirInfoClass.ID_BOTH_DIRECTORY, [Entry("a"), Entry("b")], 4096)[0],
]


def _try_all(data: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(MalformedPacket):
            parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_malformed(data: bytes) -> None:
    _try_all(data)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(GOOD),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 400),
)
def test_mutated_messages_raise_only_malformed(
    base: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(base)
    for pos, val in flips:
        if pos < len(data):
            data[pos] = val
    _try_all(bytes(data[: max(cut, 1)]))
    _try_all(bytes(data))
