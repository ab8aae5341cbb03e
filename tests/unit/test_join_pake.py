"""The join PAKE: right code joins, wrong code and relays fail, hostile messages refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.join_pake import MSG_LEN, JoinerSide, MemberSide, PakeFailed
from peerwork.proto.join_code import JoinCode

JOINER = "j" * 32
MEMBER = "m" * 32
CODE = JoinCode("MMMMM", "CODEA", "SECRETSECR")


def run(
    joiner_code: JoinCode, member_code: JoinCode, *, joiner_sees: str = MEMBER
) -> tuple[bool, bytes | None]:
    joiner = JoinerSide(joiner_code, joiner_id=JOINER, member_id=joiner_sees)
    member = MemberSide(member_code, joiner_id=JOINER, member_id=MEMBER)
    msg_b = member.answer(joiner.start())
    if not member.check(joiner.confirm(msg_b)):
        return False, None
    confirm_b, sealed = member.seal(b"the workgroup key")
    return True, joiner.open(confirm_b, sealed)


def test_right_code_joins() -> None:
    assert run(CODE, CODE) == (True, b"the workgroup key")


def test_wrong_code_is_caught_by_the_member() -> None:
    wrong = JoinCode("MMMMM", "CODEA", "SECRETSECS")
    assert run(wrong, CODE) == (False, None)


def test_a_relay_between_two_tls_sessions_fails() -> None:
    # The joiner's TLS session proved a different peer (the relay), so its
    # PAKE identities differ from the member's: same code, no agreement.
    assert run(CODE, CODE, joiner_sees="r" * 32) == (False, None)


def test_member_that_does_not_know_the_code_is_caught_by_the_joiner() -> None:
    joiner = JoinerSide(CODE, joiner_id=JOINER, member_id=MEMBER)
    fake = MemberSide(JoinCode("MMMMM", "CODEA", "GUESSGUESS"), joiner_id=JOINER, member_id=MEMBER)
    msg_b = fake.answer(joiner.start())
    joiner.confirm(msg_b)
    fake.confirmed = True  # a fake member that skips its check and sends anyway
    confirm_b, sealed = fake.seal(b"a key of the attacker's")
    with pytest.raises(PakeFailed, match="could not prove"):
        joiner.open(confirm_b, sealed)


def test_member_seals_nothing_before_the_joiner_confirms() -> None:
    member = MemberSide(CODE, joiner_id=JOINER, member_id=MEMBER)
    with pytest.raises(PakeFailed):
        member.seal(b"x")


def test_deterministic_vector_of_the_spake2_package() -> None:
    # The package with fixed entropy: the same inputs give the same messages and key,
    # so an upgrade that changes the wire is noticed here.
    from spake2 import SPAKE2_A, SPAKE2_B

    def entropy(n: int) -> bytes:
        return b"\x01" * n

    a = SPAKE2_A(b"password", idA=b"A", idB=b"B", entropy_f=entropy)
    b = SPAKE2_B(b"password", idA=b"A", idB=b"B", entropy_f=entropy)
    msg_a, msg_b = a.start(), b.start()
    key = a.finish(msg_b)
    assert key == b.finish(msg_a)
    assert msg_a.hex() == VECTOR_MSG_A
    assert key.hex() == VECTOR_KEY


VECTOR_MSG_A = "41abc40b0934be43102f4e18504d932fe37d2b1f08c0620c969b7000555fe96bd3"
VECTOR_KEY = "80f8c2ca9248607835a2427ff0d3af89c5fd5582b56dec4fdccc893e07a26c43"


# Pure-Python SPAKE2: an example takes ~0.1 s, more on a loaded machine.
@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_hostile_pake_messages_are_refused(msg: bytes) -> None:
    member = MemberSide(CODE, joiner_id=JOINER, member_id=MEMBER)
    try:
        member.answer(msg)
    except PakeFailed:
        return
    assert len(msg) == MSG_LEN
    assert not member.check(b"\x00" * 32)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=80), st.binary(max_size=200))
def test_hostile_member_answers_are_refused(confirm: bytes, sealed: bytes) -> None:
    joiner = JoinerSide(CODE, joiner_id=JOINER, member_id=MEMBER)
    member = MemberSide(CODE, joiner_id=JOINER, member_id=MEMBER)
    joiner.confirm(member.answer(joiner.start()))
    with pytest.raises(PakeFailed):
        joiner.open(confirm, sealed)
