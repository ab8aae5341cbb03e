"""Parsers of what reaches the printers service from outside, on hostile input
(hypothesis): HTTP Basic credentials, backend URIs, printer grants, the printer
names in a peer's signed record."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.agents.printers.server import basic_credentials
from peerwork.config.printers import PRINTERS, parse_backend
from peerwork.errors import ConfigError, InvalidInput
from peerwork.printer_grants import PrintAccess, parse_print_grant
from peerwork.proto.share_list import decode_printers, encode_printers


def test_basic_credentials() -> None:
    token = base64.b64encode(b"bob:pass:word").decode()
    assert basic_credentials(f"Basic {token}") == ("bob", "pass:word")
    assert basic_credentials(f"basic  {token}") == ("bob", "pass:word")
    for bad in ("Bearer x", "Basic", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(),
                "Basic " + base64.b64encode(b":pw").decode(), "Basic " + "A" * 2000):  # fmt: skip
        assert basic_credentials(bad) is None


@given(st.text(max_size=300))
def test_basic_credentials_never_raise(header: str) -> None:
    found = basic_credentials(header)
    assert found is None or (found[0] and isinstance(found[1], str))


@given(st.binary(max_size=200))
def test_basic_credentials_of_any_bytes(raw: bytes) -> None:
    found = basic_credentials("Basic " + base64.b64encode(raw).decode())
    assert found is None or ":".join(found).encode() == raw


@given(st.text(max_size=200))
def test_backend_uris_parse_or_say_why(uri: str) -> None:
    try:
        parsed = parse_backend(uri)
    except InvalidInput as exc:
        assert exc.message
    else:
        assert parsed.target and 0 <= parsed.port <= 65535


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=10), max_size=6))
def test_grant_tables_read_or_refuse(grants: dict[str, str]) -> None:
    raw = {"printer": [{"name": "p", "backend": "file:/x", "grants": grants}]}
    try:
        section = PRINTERS.read(raw)
    except ConfigError as exc:
        assert exc.message
    else:
        assert all(isinstance(level, PrintAccess) for _, level in section.printers[0].grants)


@given(st.text(max_size=40))
def test_grant_arguments_parse_or_refuse(text: str) -> None:
    try:
        who, level = parse_print_grant(text)
    except InvalidInput:
        return
    assert who == who.strip().lower() and isinstance(level, PrintAccess)


@given(st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True), max_size=40))
def test_printer_names_in_the_record_round_trip_or_say_cut(names: list[str]) -> None:
    fields = encode_printers(names, 400)
    assert all(len(k) + len(v) + 1 <= 255 for k, v in fields.items())
    decoded, cut = decode_printers(dict(fields))
    assert list(decoded) == names[: len(decoded)] and (cut or len(decoded) == len(names))


@given(st.dictionaries(st.text(max_size=5), st.none() | st.text(max_size=300), max_size=10))
def test_hostile_record_keys_never_raise(fields: dict[str, str | None]) -> None:
    names, _ = decode_printers(fields)
    assert all(isinstance(n, str) and "," not in n for n in names)


@pytest.mark.parametrize("grant", ["alice=print", "EVERYONE=Manage", " anonymous = none "])
def test_grants_as_typed(grant: str) -> None:
    who, level = parse_print_grant(grant)
    assert who in ("alice", "everyone", "anonymous") and level in PrintAccess
