"""peerwork.proto.pop3: command lines, hostile ones included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.pop3 import MAX_LINE, Command, Pop3SyntaxError, Verb, err, ok, parse_command


def test_commands() -> None:
    assert parse_command(b"user alice\r\n") == Command(Verb.USER, ("alice",))
    assert parse_command(b"PASS two words\r\n") == Command(Verb.PASS, ("two words",))
    assert parse_command(b"TOP 3 0\r\n").numbers == (3, 0)
    assert parse_command(b"LIST\n") == Command(Verb.LIST)
    assert parse_command(b"UIDL 2").numbers == (2,)
    assert ok("2 messages") == b"+OK 2 messages\r\n" and ok() == b"+OK\r\n"
    assert err("no") == b"-ERR no\r\n"


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"HELO x",
        b"RETR",
        b"RETR x",
        b"RETR -1",
        b"TOP 1",
        b"STAT 1",
        b"USER a\x00b",
        b"USER \xff",
        b"LIST  1",
        b"USER " + b"a" * 41,
        b"NOOP " + b"x" * MAX_LINE,
        b"RETR \xd9\xa1",
    ],
)
def test_bad_lines_refused(line: bytes) -> None:
    with pytest.raises(Pop3SyntaxError):
        parse_command(line)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_refuse(line: bytes) -> None:
    try:
        command = parse_command(line)
    except Pop3SyntaxError:
        return
    # What parses packs back to an equivalent command (case of the verb aside).
    assert parse_command(command.pack()) == command
    _ = command.numbers


@given(st.sampled_from(list(Verb)), st.lists(st.from_regex(r"[0-9]{1,5}", fullmatch=True)))
def test_mutated_commands(verb: Verb, args: list[str]) -> None:
    line = " ".join([verb.value, *args]).encode()
    try:
        command = parse_command(line)
    except Pop3SyntaxError:
        return
    assert command.verb is verb
