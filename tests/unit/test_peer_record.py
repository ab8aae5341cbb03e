"""The _peerwork._tcp TXT schema: round trips, what the signature covers, hostile input."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork import PROTOCOL_VERSION
from peerwork.identity import Identity, record_problem
from peerwork.proto.peer_record import (
    MAX_TXT_STRING,
    TXT_BUDGET,
    PeerAnnouncement,
    PeerRecord,
    PeerRecordError,
    build_txt,
    decode_txt_rdata,
    encode_txt_rdata,
    parse_txt,
)
from peerwork.proto.share_list import encode_shares

IDENTITY = Identity.generate("test")
OTHER = Identity.generate("other")


def announcement(**changes: object) -> PeerAnnouncement:
    base = PeerAnnouncement(
        instance="FRONTDESK",
        peer_id=IDENTITY.peer_id,
        public_key=IDENTITY.public_raw,
        workgroup="OFFICE",
        version=PROTOCOL_VERSION,
        seq=1_790_000_000_000,
        addresses=("10.0.0.1", "192.168.1.5"),
        ports={"smb": 4445, "ctl": 7445},
        roles=("files", "printers"),
        extra=encode_shares(["docs", "Scans 2024"], 600),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def wire(txt: dict[str, str | None]) -> dict[bytes, bytes | None]:
    """What a receiver gets: the TXT as it crosses the network."""
    return decode_txt_rdata(encode_txt_rdata(txt))


def verified(record: PeerRecord) -> bool:
    return record_problem(record) == ""


def test_round_trip_verifies() -> None:
    ann = announcement()
    record = parse_txt("FRONTDESK", wire(build_txt(ann, IDENTITY.sign)))
    assert verified(record), record_problem(record)
    assert record.announcement == ann
    assert record.announcement.smb_port == 4445 and record.announcement.ctl_port == 7445


def test_instance_name_is_signed_case_insensitively() -> None:
    txt = wire(build_txt(announcement(), IDENTITY.sign))
    assert verified(parse_txt("frontdesk", txt))
    renamed = parse_txt("FRONTDESK-2", txt)
    assert record_problem(renamed) == "signature does not verify"


def test_no_secrets_and_only_known_keys() -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    assert set(txt) == {"id", "pk", "wg", "v", "seq", "a", "ports", "roles", "sh", "sig"}
    assert base64.b64decode(txt["pk"] or "") == IDENTITY.public_raw
    assert txt["a"] == "10.0.0.1,192.168.1.5"
    assert txt["ports"] == "ctl:7445,smb:4445"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("wg", "EVIL"),
        ("roles", "gateway"),
        ("a", "10.66.0.9"),  # the replayed-record attack: another address
        ("a", "10.0.0.1,192.168.1.5,10.66.0.9"),
        ("ports", "ctl:7445,smb:9445"),
        ("seq", "1790000000001"),
        ("sh", "secret"),
        ("extra", "1"),
    ],
)
def test_any_altered_or_added_key_breaks_the_signature(key: str, value: str) -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    txt[key] = value
    assert record_problem(parse_txt("FRONTDESK", wire(txt))) == "signature does not verify"


@pytest.mark.parametrize("key", ["roles", "a", "ports", "sh"])
def test_removed_key_breaks_the_signature(key: str) -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    del txt[key]
    assert not verified(parse_txt("FRONTDESK", wire(txt)))


def test_reordered_keys_still_verify() -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    shuffled = dict(reversed(list(txt.items())))
    assert verified(parse_txt("FRONTDESK", wire(shuffled)))


def test_no_sequence_number_is_unverified() -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    del txt["seq"]
    assert parse_txt("FRONTDESK", wire(txt)).problem == "no sequence number (seq)"


def test_claimed_id_of_another_key_is_unverified_but_kept() -> None:
    # Signed by OTHER, but claims IDENTITY's id with OTHER's key.
    ann = announcement(public_key=OTHER.public_raw)
    record = parse_txt("FRONTDESK", wire(build_txt(ann, OTHER.sign)))
    assert record_problem(record) == "peer id does not match its public key"
    assert record.announcement.peer_id == IDENTITY.peer_id


def test_signed_with_the_wrong_key_is_unverified() -> None:
    record = parse_txt("FRONTDESK", wire(build_txt(announcement(), OTHER.sign)))
    assert record_problem(record) == "signature does not verify"


@pytest.mark.parametrize("key", ["id", "pk", "sig", "roles", "a", "ports", "seq", "v", "wg"])
def test_extra_keys_may_not_pose_as_the_records_own(key: str) -> None:
    with pytest.raises(PeerRecordError, match="reserved"):
        build_txt(announcement(extra={key: "x"}), IDENTITY.sign)


@pytest.mark.parametrize("key", ["", "Upper", "a=b", "x" * 40, "sp ace"])
def test_extra_keys_must_be_plain_names(key: str) -> None:
    with pytest.raises(PeerRecordError, match="not 1-32"):
        build_txt(announcement(extra={key: "x"}), IDENTITY.sign)


def test_oversized_record_is_refused_when_built() -> None:
    extra = {f"k{i}": "v" * 200 for i in range(8)}
    with pytest.raises(PeerRecordError, match="at most 1300"):
        build_txt(announcement(extra=extra), IDENTITY.sign)


def test_oversized_single_string_is_refused_when_built() -> None:
    with pytest.raises(PeerRecordError, match="longer than 255"):
        build_txt(announcement(extra={"k": "v" * 300}), IDENTITY.sign)


@pytest.mark.parametrize(
    "bad",
    [{"addresses": ("not-an-ip",)}, {"ports": {"smb": 0}}, {"ports": {"SMB": 445}}],
)
def test_bad_addresses_or_ports_are_refused_when_built(bad: dict[str, object]) -> None:
    with pytest.raises(PeerRecordError):
        build_txt(announcement(**bad), IDENTITY.sign)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("a", "10.0.0.1,evil", "an announced address is not an IP address"),
        ("ports", "smb:99999", "an announced port is not name:1-65535"),
        ("ports", "smb:1,smb:2", "an announced port is not name:1-65535"),
        ("ports", "smb", "an announced port is not name:1-65535"),
    ],
)
def test_unreadable_addresses_or_ports_are_flagged(key: str, value: str, problem: str) -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    txt[key] = value
    record = parse_txt("FRONTDESK", wire(txt))
    assert record.problem == problem and record_problem(record) == problem


def test_duplicate_key_in_rdata_first_wins() -> None:
    assert decode_txt_rdata(b"\x03a=1\x03A=2\x01b") == {b"a": b"1", b"b": None}


def test_truncated_rdata_is_a_clean_error() -> None:
    with pytest.raises(PeerRecordError):
        decode_txt_rdata(b"\x05abc")


def test_garbage_fields_are_flagged_not_fatal() -> None:
    record = parse_txt("X", {b"id": b"\xff\xfe", b"pk": b"***", b"v": b"abc", b"seq": b"-1"})
    assert not verified(record)
    assert record.announcement.version == 0
    assert record.announcement.seq == 0
    assert record.announcement.smb_port is None


# --- hostile input -------------------------------------------------------------------------

_values = st.one_of(st.none(), st.binary(max_size=80), st.text(max_size=80))
_keys = st.one_of(
    st.sampled_from(["id", "pk", "wg", "v", "seq", "a", "ports", "roles", "sh", "sht", "sig"]),
    st.text(max_size=10),
    st.binary(max_size=10),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=15), st.text(max_size=70))
def test_hostile_txt_dicts_never_crash(txt: dict[object, object], instance: str) -> None:
    record = parse_txt(instance, txt)  # type: ignore[arg-type]
    assert record_problem(record)
    assert len(record.announcement.extra) <= 64


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_hostile_rdata_raises_only_our_error(data: bytes) -> None:
    try:
        txt = decode_txt_rdata(data)
    except PeerRecordError:
        return
    assert not verified(parse_txt("FRONTDESK", txt))


_GOOD = encode_txt_rdata(build_txt(announcement(), IDENTITY.sign))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_real_record_never_crashes_and_never_verifies_changed(data: st.DataObject) -> None:
    raw = bytearray(_GOOD)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        txt = decode_txt_rdata(bytes(raw))
    except PeerRecordError:
        return
    record = parse_txt("FRONTDESK", txt)
    if verified(record):
        # Only mutations that leave the meaning intact (e.g. key case) may still verify.
        assert record.announcement == announcement()


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True),
        st.one_of(st.none(), st.text(max_size=300)),
        max_size=12,
    )
)
def test_any_extra_either_builds_within_limits_or_is_refused(extra: dict[str, str | None]) -> None:
    try:
        txt = build_txt(announcement(extra=extra), IDENTITY.sign)
    except PeerRecordError:
        return
    assert all(len(encode_txt_rdata({k: v})) - 1 <= MAX_TXT_STRING for k, v in txt.items())
    assert len(encode_txt_rdata(txt)) <= TXT_BUDGET
    record = parse_txt("FRONTDESK", wire(txt))
    assert verified(record)
    assert dict(record.announcement.extra) == extra
