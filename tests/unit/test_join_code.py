"""Join codes: what a person types, forgiving about case, dashes and look-alikes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.errors import InvalidInput
from peerwork.identity import Identity
from peerwork.proto.join_code import SECRET_BITS, JoinCode


def test_generated_code_names_its_issuer_and_round_trips() -> None:
    me = Identity.generate("pc1")
    code = JoinCode.generate(me.peer_id)
    text = code.text()
    assert len(text) == 23 and text.count("-") == 3
    assert code.names(me.peer_id)
    assert JoinCode.parse(text) == code
    assert JoinCode.parse(text.lower().replace("-", " ")) == code
    assert SECRET_BITS >= 40 and len(code.secret) * 5 == SECRET_BITS


def test_lookalike_digits_are_read_as_letters() -> None:
    assert JoinCode.parse("abcde-f0g1h-8bcde-fghij") == JoinCode("ABCDE", "FOGIH", "BBCDEFGHIJ")


def test_codes_differ() -> None:
    codes = {JoinCode.generate("a" * 32).text() for _ in range(50)}
    assert len(codes) == 50


@pytest.mark.parametrize("text", ["", "ABCDE-FGHIJ-KLMNO", "ABCDE-FGHIJ-KLMNO-PQRS9", "x" * 100])
def test_not_a_code(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a join code"):
        JoinCode.parse(text)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_hostile_text_is_refused_or_round_trips(text: str) -> None:
    try:
        code = JoinCode.parse(text)
    except InvalidInput:
        return
    assert JoinCode.parse(code.text()) == code
