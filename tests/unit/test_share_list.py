"""The share list inside the peer record: split across keys, cut short with a flag."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.peer_record import MAX_TXT_STRING, encode_txt_rdata
from peerwork.proto.share_list import decode_shares, encode_shares


def test_many_shares_split_across_keys_within_limits() -> None:
    names = tuple(f"share-number-{i:03d}" for i in range(40))
    fields = encode_shares(names, 720)
    assert "sh1" in fields and "sht" not in fields
    assert all(len(f"{k}={v}".encode()) <= MAX_TXT_STRING for k, v in fields.items())
    assert len(encode_txt_rdata(dict(fields))) <= 720
    assert decode_shares(fields) == (names, False)


def test_too_many_shares_are_truncated_with_a_flag() -> None:
    names = tuple(f"a-rather-long-share-name-{i:04d}" for i in range(200))
    fields = encode_shares(names, 720)
    assert fields["sht"] == "1"
    assert len(encode_txt_rdata(dict(fields))) <= 720
    got, truncated = decode_shares(fields)
    assert truncated and 0 < len(got) < len(names) and got == names[: len(got)]


def test_share_name_too_long_for_one_txt_string_is_truncated() -> None:
    huge = "\U0001f600" * 80  # 80 characters, 320 bytes of UTF-8
    assert decode_shares(encode_shares(["docs", huge, "after"], 720)) == (("docs",), True)


def test_unicode_share_names_round_trip() -> None:
    names = ("Büro", "請求書", "a b c")
    assert decode_shares(encode_shares(names, 720)) == (names, False)


def test_no_shares_no_keys() -> None:
    assert encode_shares([], 720) == {}
    assert decode_shares({}) == ((), False)


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
    st.integers(0, 1000),
)
def test_any_share_list_fits_its_budget(names: list[str], budget: int) -> None:
    fields = encode_shares(names, budget)
    assert all(len(f"{k}={v}".encode()) <= MAX_TXT_STRING for k, v in fields.items())
    assert len(encode_txt_rdata(dict(fields))) <= max(budget, 6)
    got, truncated = decode_shares(fields)
    stripped = [n.strip() for n in names if n.strip()]
    assert list(got) == stripped[: len(got)]
    assert truncated == (len(got) < len(stripped))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.one_of(st.none(), st.text(max_size=300))))
def test_hostile_share_keys_never_crash(fields: dict[str, str | None]) -> None:
    names, _ = decode_shares(fields)
    assert len(names) <= 512
