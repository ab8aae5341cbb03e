"""The WS-Discovery codec: golden wsdd captures, round trips, matching, hostile input.

``tests/data/wsd/wsdd-*.xml`` were sent by the real wsdd 0.7.0 (Debian) in
discovery mode; ``tests/helpers/wsd_capture.py`` captures them again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto import wsd
from peerwork.proto.wsd_xml import MAX_DEPTH, MAX_ELEMENTS, MAX_XML_BYTES, XmlError, parse_xml

DATA = Path(__file__).resolve().parent.parent / "data" / "wsd"
PROBE = (DATA / "wsdd-probe.xml").read_bytes()
GET = (DATA / "wsdd-get.xml").read_bytes()
OURS = "urn:uuid:3b3b217d-f58b-5f20-87e8-d86f9c6d1458"
ENVELOPE = (
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    b'xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" %s>'
    b"<soap:Header><wsa:Action>%s</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID>"
    b"</soap:Header><soap:Body>%s</soap:Body></soap:Envelope>"
)


def envelope(action: bytes, body: bytes, xmlns: bytes = b"") -> bytes:
    return ENVELOPE % (xmlns, action, body)


# -- golden captures ---------------------------------------------------------------------


def test_wsdd_probe_parses_and_packs_back_to_the_same_bytes() -> None:
    msg = wsd.parse(PROBE)
    assert msg.action is wsd.Action.PROBE
    assert msg.body == wsd.Probe(types=(wsd.DEVICE,))
    assert msg.header.to == wsd.DISCOVERY_URN
    assert msg.header.message_id.startswith("urn:uuid:")
    assert wsd.pack(msg) == PROBE


def test_wsdd_get_parses_and_packs_back_to_the_same_bytes() -> None:
    msg = wsd.parse(GET)
    assert msg.body == wsd.Get()
    assert msg.header.to.startswith("urn:uuid:")
    assert msg.header.reply_to == wsd.ANONYMOUS
    assert msg.header.sender.startswith("urn:uuid:")
    assert wsd.pack(msg) == GET


def test_wsdd_probe_matches_a_computer() -> None:
    probe = wsd.parse(PROBE).body
    assert isinstance(probe, wsd.Probe)
    assert wsd.probe_matches(probe, (wsd.DEVICE, wsd.COMPUTER))
    assert not wsd.probe_matches(probe, (wsd.COMPUTER,))


# -- matching ----------------------------------------------------------------------------


def test_types_are_matched_by_namespace_not_by_prefix() -> None:
    data = envelope(
        wsd.Action.PROBE.value.encode(),
        b"<wsd:Probe><wsd:Types>dp:Device</wsd:Types></wsd:Probe>",
        b'xmlns:dp="http://schemas.xmlsoap.org/ws/2006/02/devprof"',
    )
    probe = wsd.parse(data).body
    assert probe == wsd.Probe(types=(wsd.DEVICE,))
    # "wsdp" bound to another namespace is not a DPWS device.
    other = envelope(
        wsd.Action.PROBE.value.encode(),
        b"<wsd:Probe><wsd:Types>wsdp:Device</wsd:Types></wsd:Probe>",
        b'xmlns:wsdp="urn:printers"',
    )
    probe2 = wsd.parse(other).body
    assert isinstance(probe2, wsd.Probe)
    assert not wsd.probe_matches(probe2, (wsd.DEVICE, wsd.COMPUTER))


def test_probe_without_types_matches_and_with_scopes_does_not() -> None:
    assert wsd.probe_matches(wsd.Probe(), (wsd.DEVICE,))
    assert not wsd.probe_matches(wsd.Probe(scopes=("ldap:///ou=x",)), (wsd.DEVICE,))


def test_undeclared_prefix_in_types_is_an_error() -> None:
    data = envelope(
        wsd.Action.PROBE.value.encode(),
        b"<wsd:Probe><wsd:Types>nope:Device</wsd:Types></wsd:Probe>",
    )
    with pytest.raises(wsd.WsdError, match="undeclared prefix"):
        wsd.parse(data)


def test_recent_ids_drop_repeats_and_stay_bounded() -> None:
    recent = wsd.RecentIds(capacity=3)
    assert not recent.seen("a")
    assert recent.seen("a")
    for i in range(10):
        recent.seen(str(i))
    assert len(recent) == 3
    assert not recent.seen("a")  # long forgotten


# -- round trips -------------------------------------------------------------------------

_token = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="<>&\"'"),
    min_size=1,
    max_size=40,
)
_uni = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Co", "Cn")),
    min_size=1,
    max_size=40,
)
_types = st.lists(st.sampled_from([wsd.DEVICE, wsd.COMPUTER, (wsd.WSA, "X")]), max_size=3).map(
    tuple
)
_target = st.builds(
    wsd.Target,
    endpoint=_token,
    types=_types,
    xaddrs=st.lists(_token, max_size=3).map(tuple),
    metadata_version=st.integers(0, 2**31),
)
_metadata = st.builds(
    wsd.DeviceMetadata,
    endpoint=_token,
    computer=_uni,
    friendly_name=_uni,
    firmware_version=_token,
    serial_number=_token,
    manufacturer=_uni,
    model_name=_uni,
    device_category=_token,
)
_body = st.one_of(
    st.builds(wsd.Hello, _target),
    st.builds(wsd.Bye, _token),
    st.builds(wsd.Probe, _types, st.lists(_token, max_size=3).map(tuple)),
    st.builds(wsd.ProbeMatches, st.lists(_target, max_size=3).map(tuple)),
    st.builds(wsd.Resolve, _token),
    st.builds(wsd.ResolveMatches, st.none() | _target),
    st.just(wsd.Get()),
    st.builds(wsd.GetResponse, _metadata),
)
_header = st.builds(
    wsd.Header,
    message_id=_token,
    to=st.just("") | _token,
    relates_to=st.just("") | _token,
    reply_to=st.just("") | _token,
    sender=st.just("") | _token,
    app_sequence=st.none()
    | st.builds(wsd.AppSequence, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), _token),
)


@settings(max_examples=300, deadline=None)
@given(_header, _body)
def test_parse_inverts_pack(header: wsd.Header, body: wsd.Body) -> None:
    msg = wsd.Message(header, body)
    assert wsd.parse(wsd.pack(msg)) == msg


def test_get_response_names_computer_and_workgroup() -> None:
    md = wsd.DeviceMetadata(OURS, "PC1/Workgroup:OFFICE", "PC1")
    back = wsd.parse(wsd.pack(wsd.Message(wsd.Header("urn:uuid:2"), wsd.GetResponse(md))))
    assert isinstance(back.body, wsd.GetResponse)
    assert back.body.metadata.computer_name == "PC1"
    assert back.body.metadata.belongs_to == "Workgroup:OFFICE"


# -- hostile input -----------------------------------------------------------------------


def _parse_or_refuse(data: bytes) -> None:
    """The only outcomes allowed: a Message, or WsdError."""
    try:
        msg = wsd.parse(data)
    except wsd.WsdError as exc:
        assert exc.message
    else:
        assert isinstance(msg, wsd.Message)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    _parse_or_refuse(data)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([PROBE, GET]), st.data())
def test_mutated_captures(base: bytes, data: st.DataObject) -> None:
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf)))
        kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "flip" and pos < len(buf):
            buf[pos] ^= data.draw(st.integers(1, 255))
        elif kind == "insert":
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=32))
        elif kind == "delete":
            del buf[pos : pos + data.draw(st.integers(1, 64))]
        else:
            del buf[pos:]
    _parse_or_refuse(bytes(buf))


_HELLO = wsd.pack(
    wsd.Message(
        wsd.Header("urn:uuid:1", app_sequence=wsd.AppSequence(7, 8)),
        wsd.Hello(wsd.Target(OURS, (wsd.DEVICE,), ("http://10.0.0.1:5357/x",))),
    )
)


_FIELDS = [
    (b">1</wsd:MetadataVersion>", b">%s</wsd:MetadataVersion>"),
    (b'InstanceId="7"', b'InstanceId="%s"'),
    (b'MessageNumber="8"', b'MessageNumber="%s"'),
    (b">wsdp:Device<", b">%s<"),
    (b">urn:uuid:1<", b">%s<"),
]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_FIELDS), st.text(st.characters(exclude_categories=("Cs",)), max_size=30))
def test_hostile_text_in_every_field(field: tuple[bytes, bytes], text: str) -> None:
    """Any text (escaped, so the XML stays well-formed) where a number, a QName or an
    id belongs: a Message or WsdError, never another exception."""
    old, template = field
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    _parse_or_refuse(_HELLO.replace(old, template % escaped.encode()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<a>", "</a>", "<b x='1'>", "</b>", "text", "&amp;", "<c/>"])))
def test_random_markup(parts: list[str]) -> None:
    _parse_or_refuse("".join(parts).encode())


def test_oversized_is_refused_before_parsing() -> None:
    big = PROBE.replace(b"</wsd:Probe>", b"<x>" + b"a" * MAX_XML_BYTES + b"</x></wsd:Probe>")
    with pytest.raises(wsd.WsdError, match="more than the"):
        wsd.parse(big)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 10_000, 200_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    data = b"<a>" * depth + b"</a>" * depth
    with pytest.raises(XmlError):
        parse_xml(data[:MAX_XML_BYTES] if depth > 1000 else data)


def test_many_elements_are_refused() -> None:
    data = b"<a>" + b"<b/>" * (MAX_ELEMENTS + 1) + b"</a>"
    with pytest.raises(XmlError, match="elements"):
        parse_xml(data)


@pytest.mark.parametrize(
    "doc",
    [
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
        # external entity (file read)
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        # external DTD
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://10.0.0.1/x.dtd"><r/>',
        # parameter entity
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p "x">]><r/>',
    ],
)
def test_doctype_is_refused(doc: bytes) -> None:
    with pytest.raises(XmlError, match="DOCTYPE"):
        parse_xml(doc)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"<x/>", "not a SOAP"),
        (envelope(b"urn:unknown", b""), "unsupported action"),
        (envelope(wsd.Action.PROBE.value.encode(), b""), "without a Probe"),
        (envelope(wsd.Action.RESOLVE.value.encode(), b"<wsd:Resolve/>"), "endpoint"),
        (
            envelope(wsd.Action.PROBE.value.encode(), b"<wsd:Probe><wsd:Types>%s</wsd:Types>"
                     b"</wsd:Probe>" % b" ".join([b"wsd:T"] * 40)),
            "more than",
        ),
        (PROBE.replace(b"urn:uuid:38544af2", b"x" * 600), "longer than"),
        (_HELLO.replace(b">1<", ">\u00b2<".encode()), "not a number"),
        (
            PROBE.replace(b"</wsa:MessageID>", b'</wsa:MessageID><wsd:AppSequence InstanceId="x" '
                          b'MessageNumber="1"/>'),
            "AppSequence",
        ),
    ],
)  # fmt: skip
def test_malformed_messages_say_why(data: bytes, why: str) -> None:
    with pytest.raises(wsd.WsdError, match=why):
        wsd.parse(data)
