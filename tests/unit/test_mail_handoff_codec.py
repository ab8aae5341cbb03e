"""The mail request types of the channel: round trips, and hostile bodies refused by field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.channel_body import BodyError
from peerwork.proto.mail_handoff import (
    MAIL_DELIVER,
    MAIL_HAS,
    MAIL_HOMES,
    DeliverReply,
    DeliverRequest,
    HasReply,
    HasRequest,
    HomesReply,
)

ID = "1800000000.0123456789abcdef"
names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,31}", fullmatch=True).filter(
    lambda n: n not in {"everyone", "guest", "anonymous", "administrator"}
)
name_lists = st.lists(names, min_size=1, max_size=20, unique=True).map(tuple)


@given(name_lists, st.text(max_size=100), st.integers(0, 2**40))
def test_round_trips(recipients: tuple[str, ...], sender: str, size: int) -> None:
    req = DeliverRequest(ID, sender, recipients, size)
    assert MAIL_DELIVER.parse_request(req.to_body()) == req
    assert MAIL_DELIVER.parse_reply(DeliverReply(recipients).to_body()) == DeliverReply(recipients)
    assert MAIL_HAS.parse_request(HasRequest(ID, recipients).to_body()) == HasRequest(
        ID, recipients
    )
    assert MAIL_HAS.parse_reply(HasReply(()).to_body()) == HasReply(())
    assert MAIL_HOMES.parse_reply(HomesReply(recipients).to_body()) == HomesReply(recipients)


GOOD: dict[str, Any] = {"id": ID, "sender": "a@b", "recipients": ["bob"], "size": 3}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "../../etc/passwd"}, "id"),
        ({"id": "1.2"}, "id"),
        ({"id": 5}, "id"),
        ({"recipients": []}, "recipients"),
        ({"recipients": ["Bob"]}, "recipients"),
        ({"recipients": ["bob", "bob"]}, "recipients"),
        ({"recipients": ["../x"]}, "recipients"),
        ({"recipients": ["guest"]}, "recipients"),
        ({"recipients": "bob"}, "recipients"),
        ({"recipients": ["bob"] * 2000}, "recipients"),
        ({"size": -1}, "size"),
        ({"size": True}, "size"),
        ({"size": 2**41}, "size"),
        ({"sender": "x" * 600}, "sender"),
    ],
)
def test_bad_fields_are_refused_by_name(change: dict[str, Any], field: str) -> None:
    with pytest.raises(BodyError, match=repr(field)):
        MAIL_DELIVER.parse_request(GOOD | change)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@given(st.dictionaries(st.sampled_from(["id", "sender", "recipients", "size", "missing",
                                        "delivered", "mailboxes", "x"]), json_values))  # fmt: skip
def test_hostile_bodies_parse_or_raise_body_error(body: dict[str, Any]) -> None:
    for parse in (
        MAIL_DELIVER.parse_request,
        MAIL_DELIVER.parse_reply,
        MAIL_HAS.parse_request,
        MAIL_HAS.parse_reply,
        MAIL_HOMES.parse_reply,
    ):
        try:
            parsed = parse(body)
        except BodyError:
            continue
        assert type(parsed).parse(parsed.to_body()) == parsed  # type: ignore[attr-defined]


@given(st.dictionaries(st.sampled_from(list(GOOD)), json_values))
def test_mutated_good_request(change: dict[str, Any]) -> None:
    try:
        req = MAIL_DELIVER.parse_request(GOOD | change)
    except BodyError:
        return
    assert "/" not in req.id and all("/" not in r for r in req.recipients)
