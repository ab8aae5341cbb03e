"""The _peerwork._tcp TXT schema: round trips, signature coverage, hostile input."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork import PROTOCOL_VERSION
from peerwork.identity import Identity
from peerwork.proto.peer_record import (
    MAX_TXT_STRING,
    TXT_BUDGET,
    PeerAnnouncement,
    PeerRecordError,
    build_txt,
    decode_txt_rdata,
    encode_txt_rdata,
    parse_txt,
)

IDENTITY = Identity.generate("test")
OTHER = Identity.generate("other")


def announcement(**changes: object) -> PeerAnnouncement:
    base = PeerAnnouncement(
        instance="FRONTDESK",
        peer_id=IDENTITY.peer_id,
        public_key=IDENTITY.public_raw,
        workgroup="OFFICE",
        version=PROTOCOL_VERSION,
        roles=("files", "printers"),
        smb_port=4445,
        shares=("docs", "Scans 2024"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def wire(txt: dict[str, str]) -> dict[bytes, bytes | None]:
    """What a receiver gets: the TXT as it crosses the network."""
    return decode_txt_rdata(encode_txt_rdata(txt))


def test_round_trip_verifies() -> None:
    ann = announcement()
    record = parse_txt("FRONTDESK", wire(build_txt(ann, IDENTITY.sign)))
    assert record.verified, record.problem
    assert record.announcement == ann


def test_instance_name_is_signed_case_insensitively() -> None:
    txt = wire(build_txt(announcement(), IDENTITY.sign))
    assert parse_txt("frontdesk", txt).verified
    renamed = parse_txt("FRONTDESK-2", txt)
    assert not renamed.verified
    assert renamed.problem == "signature does not verify"


def test_no_secrets_and_only_known_keys() -> None:
    txt = build_txt(announcement(ctl_port=9000), IDENTITY.sign)
    assert set(txt) == {"id", "pk", "wg", "v", "roles", "smb", "ctl", "sh", "sig"}
    assert base64.b64decode(txt["pk"]) == IDENTITY.public_raw


def test_smb_absent_when_no_file_service() -> None:
    txt = build_txt(announcement(smb_port=None, shares=()), IDENTITY.sign)
    assert "smb" not in txt and "sh" not in txt
    record = parse_txt("FRONTDESK", wire(txt))
    assert record.verified and record.announcement.smb_port is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("wg", "EVIL"), ("roles", "gateway"), ("smb", "445"), ("sh", "secret"), ("extra", "1")],
)
def test_any_altered_or_added_key_breaks_the_signature(key: str, value: str) -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    txt[key] = value
    record = parse_txt("FRONTDESK", wire(txt))
    assert not record.verified
    assert record.problem == "signature does not verify"


def test_removed_key_breaks_the_signature() -> None:
    txt = build_txt(announcement(), IDENTITY.sign)
    del txt["roles"]
    assert not parse_txt("FRONTDESK", wire(txt)).verified


def test_claimed_id_of_another_key_is_unverified_but_kept() -> None:
    # Signed by OTHER, but claims IDENTITY's id with OTHER's key.
    ann = announcement(public_key=OTHER.public_raw)
    record = parse_txt("FRONTDESK", wire(build_txt(ann, OTHER.sign)))
    assert not record.verified
    assert record.problem == "peer id does not match its public key"
    assert record.announcement.peer_id == IDENTITY.peer_id
    assert record.announcement.shares == ("docs", "Scans 2024")


def test_signed_with_the_wrong_key_is_unverified() -> None:
    record = parse_txt("FRONTDESK", wire(build_txt(announcement(), OTHER.sign)))
    assert not record.verified
    assert record.problem == "signature does not verify"


def test_many_shares_split_across_keys_within_limits() -> None:
    names = tuple(f"share-number-{i:03d}" for i in range(40))
    txt = build_txt(announcement(shares=names), IDENTITY.sign)
    assert "sh1" in txt
    assert all(len(f"{k}={v}".encode()) <= MAX_TXT_STRING for k, v in txt.items())
    assert len(encode_txt_rdata(txt)) <= TXT_BUDGET
    record = parse_txt("FRONTDESK", wire(txt))
    assert record.verified
    assert record.announcement.shares == names
    assert not record.announcement.shares_truncated


def test_too_many_shares_are_truncated_with_a_flag() -> None:
    names = tuple(f"a-rather-long-share-name-{i:04d}" for i in range(200))
    txt = build_txt(announcement(shares=names), IDENTITY.sign)
    assert txt["sht"] == "1"
    assert len(encode_txt_rdata(txt)) <= TXT_BUDGET
    record = parse_txt("FRONTDESK", wire(txt))
    assert record.verified
    assert record.announcement.shares_truncated
    got = record.announcement.shares
    assert 0 < len(got) < len(names) and got == names[: len(got)]


def test_share_name_too_long_for_one_txt_string_is_truncated() -> None:
    huge = "\U0001f600" * 80  # 80 characters, 320 bytes of UTF-8
    txt = build_txt(announcement(shares=("docs", huge, "after")), IDENTITY.sign)
    record = parse_txt("FRONTDESK", wire(txt))
    assert record.verified
    assert record.announcement.shares == ("docs",)
    assert record.announcement.shares_truncated


def test_unicode_share_names_round_trip() -> None:
    names = ("Büro", "請求書", "a b c")
    record = parse_txt("FRONTDESK", wire(build_txt(announcement(shares=names), IDENTITY.sign)))
    assert record.verified and record.announcement.shares == names


def test_duplicate_key_in_rdata_first_wins() -> None:
    assert decode_txt_rdata(b"\x03a=1\x03A=2\x01b") == {b"a": b"1", b"b": None}


def test_truncated_rdata_is_a_clean_error() -> None:
    with pytest.raises(PeerRecordError):
        decode_txt_rdata(b"\x05abc")


def test_garbage_fields_are_flagged_not_fatal() -> None:
    record = parse_txt("X", {b"id": b"\xff\xfe", b"pk": b"***", b"v": b"abc", b"smb": b"99999"})
    assert not record.verified
    assert record.announcement.version == 0
    assert record.announcement.smb_port is None


# --- hostile input -------------------------------------------------------------------------

_values = st.one_of(st.none(), st.binary(max_size=80), st.text(max_size=80))
_keys = st.one_of(
    st.sampled_from(["id", "pk", "wg", "v", "roles", "smb", "ctl", "sh", "sh1", "sht", "sig"]),
    st.text(max_size=10),
    st.binary(max_size=10),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=15), st.text(max_size=70))
def test_hostile_txt_dicts_never_crash(txt: dict[object, object], instance: str) -> None:
    record = parse_txt(instance, txt)  # type: ignore[arg-type]
    assert not record.verified
    assert record.problem


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_hostile_rdata_raises_only_our_error(data: bytes) -> None:
    try:
        txt = decode_txt_rdata(data)
    except PeerRecordError:
        return
    record = parse_txt("FRONTDESK", txt)
    assert not record.verified


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
    if record.verified:
        # Only mutations that leave the meaning intact (e.g. key case) may still verify.
        assert record.announcement == announcement()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters=",", blacklist_categories=("Cs",)),
            min_size=1,
            max_size=80,
        ),
        max_size=60,
    ),
)
def test_any_share_list_fits_and_verifies(names: list[str]) -> None:
    txt = build_txt(announcement(shares=tuple(names)), IDENTITY.sign)
    assert all(len(f"{k}={v}".encode()) <= MAX_TXT_STRING for k, v in txt.items())
    assert len(encode_txt_rdata(txt)) <= TXT_BUDGET
    record = parse_txt("FRONTDESK", wire(txt))
    assert record.verified
    got = record.announcement.shares
    stripped = [n.strip() for n in names if n.strip()]
    assert list(got) == stripped[: len(got)]
    assert record.announcement.shares_truncated == (len(got) < len(stripped))
