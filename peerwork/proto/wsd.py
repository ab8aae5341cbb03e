"""WS-Discovery (2005/04) and DPWS metadata messages: parse and pack, sans-IO.

What a Windows PC needs to list this PC in Explorer's Network folder, in the
shape wsdd (the reference) sends and accepts:

- over SOAP-over-UDP (3702, 239.255.255.250): Hello, Bye, Probe,
  ProbeMatches, Resolve, ResolveMatches;
- over HTTP (5357): the WS-Transfer Get and its GetResponse, whose metadata
  carries the computer name and ``Workgroup:<NAME>`` (``pub:Computer`` =
  ``<NAME>/Workgroup:<WG>``).

:func:`parse` turns bytes into a :class:`Message` (header plus one body
value) or raises :class:`WsdError`; :func:`pack` is its inverse for every
message it returns (``parse(pack(m)) == m``). Input is read by
:mod:`peerwork.proto.wsd_xml`, which refuses DOCTYPEs and bounds size, depth and
element count; text fields are bounded here. Nothing here opens a socket,
reads a clock or draws a random number: message ids and sequence numbers are
the caller's.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass

from peerwork.errors import PeerworkError

from .wsd_xml import Node, XmlError, parse_xml

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSX = "http://schemas.xmlsoap.org/ws/2004/09/mex"
WSDP = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
PNPX = "http://schemas.microsoft.com/windows/pnpx/2005/10"
PUB = "http://schemas.microsoft.com/windows/pub/2005/07"
WST = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
PREFIXES = {"soap": SOAP, "wsa": WSA, "wsd": WSD, "wsx": WSX, "wsdp": WSDP, "pnpx": PNPX,
            "pub": PUB}  # fmt: skip
_PREFIX_OF = {uri: prefix for prefix, uri in PREFIXES.items()}

# The well-known "To" of multicast discovery messages and the anonymous reply address.
DISCOVERY_URN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = WSA + "/role/anonymous"

QName = tuple[str, str]  # (namespace URI, local name)
DEVICE: QName = (WSDP, "Device")
COMPUTER: QName = (PUB, "Computer")

# Bounds on what a message may carry (far above anything Windows or wsdd sends).
MAX_FIELD = 512
MAX_LIST = 16


class WsdError(PeerworkError):
    """A message that is not acceptable WS-Discovery: logged and dropped by the agent."""

    code = "bad-ws-discovery"


class Action(enum.Enum):
    HELLO = WSD + "/Hello"
    BYE = WSD + "/Bye"
    PROBE = WSD + "/Probe"
    PROBE_MATCHES = WSD + "/ProbeMatches"
    RESOLVE = WSD + "/Resolve"
    RESOLVE_MATCHES = WSD + "/ResolveMatches"
    GET = WST + "/Get"
    GET_RESPONSE = WST + "/GetResponse"


@dataclass(frozen=True, slots=True)
class AppSequence:
    """Ordering of a target's multicast messages (WS-Discovery §7)."""

    instance_id: int
    message_number: int
    sequence_id: str = ""


@dataclass(frozen=True, slots=True)
class Header:
    message_id: str
    to: str = ""
    relates_to: str = ""
    reply_to: str = ""
    sender: str = ""  # wsa:From
    app_sequence: AppSequence | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """What Hello, ProbeMatch and ResolveMatch say about a target service."""

    endpoint: str  # e.g. urn:uuid:…
    types: tuple[QName, ...] = ()
    xaddrs: tuple[str, ...] = ()  # transport addresses: the metadata URL
    metadata_version: int = 1


@dataclass(frozen=True, slots=True)
class Hello:
    target: Target


@dataclass(frozen=True, slots=True)
class Bye:
    endpoint: str


@dataclass(frozen=True, slots=True)
class Probe:
    types: tuple[QName, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbeMatches:
    matches: tuple[Target, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolve:
    endpoint: str


@dataclass(frozen=True, slots=True)
class ResolveMatches:
    match: Target | None = None


@dataclass(frozen=True, slots=True)
class Get:
    """WS-Transfer Get: the whole request is its header (``To`` names the endpoint)."""


@dataclass(frozen=True, slots=True)
class DeviceMetadata:
    """The DPWS metadata of a Windows-visible computer, as wsdd answers a Get."""

    endpoint: str
    computer: str  # "<NAME>/Workgroup:<WG>" (pub:Computer)
    friendly_name: str = ""
    firmware_version: str = "1.0"
    serial_number: str = "1"
    manufacturer: str = "peerwork"
    model_name: str = "peerwork"
    device_category: str = "Computers"

    @property
    def computer_name(self) -> str:
        return self.computer.partition("/")[0]

    @property
    def belongs_to(self) -> str:
        return self.computer.partition("/")[2]


@dataclass(frozen=True, slots=True)
class GetResponse:
    metadata: DeviceMetadata


Body = Hello | Bye | Probe | ProbeMatches | Resolve | ResolveMatches | Get | GetResponse
_ACTION_OF: dict[type, Action] = {
    Hello: Action.HELLO,
    Bye: Action.BYE,
    Probe: Action.PROBE,
    ProbeMatches: Action.PROBE_MATCHES,
    Resolve: Action.RESOLVE,
    ResolveMatches: Action.RESOLVE_MATCHES,
    Get: Action.GET,
    GetResponse: Action.GET_RESPONSE,
}


@dataclass(frozen=True, slots=True)
class Message:
    header: Header
    body: Body

    @property
    def action(self) -> Action:
        return _ACTION_OF[type(self.body)]


# -- parsing -----------------------------------------------------------------------------


def _t(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def _text(node: Node | None, what: str, *, required: bool = False) -> str:
    if node is None or not node.text:
        if required:
            raise WsdError(f"{what} is missing")
        return ""
    if len(node.text) > MAX_FIELD:
        raise WsdError(f"{what} is longer than {MAX_FIELD} characters")
    return node.text


def _words(node: Node | None, what: str) -> tuple[str, ...]:
    words = tuple(_text(node, what).split())
    if len(words) > MAX_LIST:
        raise WsdError(f"{what} lists more than {MAX_LIST} entries")
    return words


def _types(node: Node | None) -> tuple[QName, ...]:
    if node is None:
        return ()
    _text(node, "Types")  # bounds the length
    try:
        names = node.qnames()
    except XmlError as exc:
        raise WsdError(f"Types: {exc.message}") from None
    if len(names) > MAX_LIST:
        raise WsdError(f"Types lists more than {MAX_LIST} entries")
    return names


def _endpoint(parent: Node, what: str) -> str:
    return _text(
        parent.find(_t(WSA, "EndpointReference"), _t(WSA, "Address")),
        f"{what} endpoint address",
        required=True,
    )


def _target(node: Node, what: str) -> Target:
    version = _text(node.child(_t(WSD, "MetadataVersion")), "MetadataVersion") or "1"
    # isascii: str.isdigit() also accepts superscripts and the like, which int() refuses.
    if not (version.isascii() and version.isdigit()) or len(version) > 10:
        raise WsdError(f"{what}: MetadataVersion {version[:20]!r} is not a number")
    return Target(
        endpoint=_endpoint(node, what),
        types=_types(node.child(_t(WSD, "Types"))),
        xaddrs=_words(node.child(_t(WSD, "XAddrs")), "XAddrs"),
        metadata_version=int(version),
    )


def _app_sequence(node: Node | None) -> AppSequence | None:
    if node is None:
        return None
    try:
        instance = int(node.attrs.get("InstanceId", ""))
        number = int(node.attrs.get("MessageNumber", ""))
    except ValueError:
        raise WsdError("AppSequence needs numeric InstanceId and MessageNumber") from None
    if not (0 <= instance < 2**32 and 0 <= number < 2**32):
        raise WsdError("AppSequence numbers must be unsigned 32-bit")
    seq = node.attrs.get("SequenceId", "")
    if len(seq) > MAX_FIELD:
        raise WsdError("AppSequence SequenceId is too long")
    return AppSequence(instance, number, seq)


def _header(node: Node) -> tuple[Action, Header]:
    raw_action = _text(node.child(_t(WSA, "Action")), "Action", required=True)
    try:
        action = Action(raw_action)
    except ValueError:
        raise WsdError(f"unsupported action {raw_action[:100]!r}") from None
    header = Header(
        message_id=_text(node.child(_t(WSA, "MessageID")), "MessageID", required=True),
        to=_text(node.child(_t(WSA, "To")), "To"),
        relates_to=_text(node.child(_t(WSA, "RelatesTo")), "RelatesTo"),
        reply_to=_text(node.find(_t(WSA, "ReplyTo"), _t(WSA, "Address")), "ReplyTo"),
        sender=_text(node.find(_t(WSA, "From"), _t(WSA, "Address")), "From"),
        app_sequence=_app_sequence(node.child(_t(WSD, "AppSequence"))),
    )
    return action, header


def _body(action: Action, body: Node) -> Body:
    def need(local: str, ns: str = WSD) -> Node:
        node = body.child(_t(ns, local))
        if node is None:
            raise WsdError(f"{action.name} message without a {local} element")
        return node

    if action is Action.HELLO:
        return Hello(_target(need("Hello"), "Hello"))
    if action is Action.BYE:
        return Bye(_endpoint(need("Bye"), "Bye"))
    if action is Action.PROBE:
        probe = need("Probe")
        return Probe(
            _types(probe.child(_t(WSD, "Types"))), _words(probe.child(_t(WSD, "Scopes")), "Scopes")
        )
    if action is Action.PROBE_MATCHES:
        nodes = [c for c in need("ProbeMatches").children if c.tag == _t(WSD, "ProbeMatch")]
        if len(nodes) > MAX_LIST:
            raise WsdError(f"more than {MAX_LIST} ProbeMatch elements")
        return ProbeMatches(tuple(_target(n, "ProbeMatch") for n in nodes))
    if action is Action.RESOLVE:
        return Resolve(_endpoint(need("Resolve"), "Resolve"))
    if action is Action.RESOLVE_MATCHES:
        match = need("ResolveMatches").child(_t(WSD, "ResolveMatch"))
        return ResolveMatches(None if match is None else _target(match, "ResolveMatch"))
    if action is Action.GET:
        return Get()
    return GetResponse(_metadata(need("Metadata", WSX)))


def _metadata(node: Node) -> DeviceMetadata:
    fields: dict[str, str] = {}
    endpoint = computer = ""
    for section in node.children:
        if section.tag != _t(WSX, "MetadataSection"):
            continue
        dialect = section.attrs.get("Dialect", "")
        if dialect in (WSDP + "/ThisDevice", WSDP + "/ThisModel"):
            for holder in section.children:
                for prop in holder.children:
                    fields[prop.tag.rpartition("}")[2]] = _text(prop, prop.tag)
        elif dialect == WSDP + "/Relationship":
            host = section.find(_t(WSDP, "Relationship"), _t(WSDP, "Host"))
            if host is not None:
                endpoint = _endpoint(host, "Host")
                computer = _text(host.child(_t(PUB, "Computer")), "Computer")
    if not computer:
        raise WsdError("GetResponse metadata names no pub:Computer")
    return DeviceMetadata(
        endpoint=endpoint,
        computer=computer,
        friendly_name=fields.get("FriendlyName", ""),
        firmware_version=fields.get("FirmwareVersion", ""),
        serial_number=fields.get("SerialNumber", ""),
        manufacturer=fields.get("Manufacturer", ""),
        model_name=fields.get("ModelName", ""),
        device_category=fields.get("DeviceCategory", ""),
    )


def parse(data: bytes) -> Message:
    """One SOAP envelope (a datagram or an HTTP body) as a Message; WsdError otherwise."""
    try:
        root = parse_xml(data)
    except XmlError as exc:
        raise WsdError(exc.message) from None
    if root.tag != _t(SOAP, "Envelope"):
        raise WsdError("not a SOAP 1.2 envelope")
    header, body = root.child(_t(SOAP, "Header")), root.child(_t(SOAP, "Body"))
    if header is None or body is None:
        raise WsdError("SOAP envelope without Header or Body")
    action, head = _header(header)
    return Message(head, _body(action, body))


# -- packing -----------------------------------------------------------------------------


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = text
    return node


def _qnames(names: tuple[QName, ...]) -> str:
    try:
        return " ".join(f"{_PREFIX_OF[ns]}:{local}" for ns, local in names)
    except KeyError as exc:
        raise ValueError(f"no prefix for namespace {exc.args[0]!r}") from None


def _pack_endpoint(parent: ET.Element, endpoint: str) -> None:
    _el(_el(parent, "wsa:EndpointReference"), "wsa:Address", endpoint)


def _pack_target(parent: ET.Element, target: Target) -> None:
    _pack_endpoint(parent, target.endpoint)
    if target.types:
        _el(parent, "wsd:Types", _qnames(target.types))
    if target.xaddrs:
        _el(parent, "wsd:XAddrs", " ".join(target.xaddrs))
    _el(parent, "wsd:MetadataVersion", str(target.metadata_version))


def _pack_metadata(parent: ET.Element, md: DeviceMetadata) -> None:
    meta = _el(parent, "wsx:Metadata")
    device = _el(_el(meta, "wsx:MetadataSection", Dialect=WSDP + "/ThisDevice"), "wsdp:ThisDevice")
    _el(device, "wsdp:FriendlyName", md.friendly_name)
    _el(device, "wsdp:FirmwareVersion", md.firmware_version)
    _el(device, "wsdp:SerialNumber", md.serial_number)
    model = _el(_el(meta, "wsx:MetadataSection", Dialect=WSDP + "/ThisModel"), "wsdp:ThisModel")
    _el(model, "wsdp:Manufacturer", md.manufacturer)
    _el(model, "wsdp:ModelName", md.model_name)
    _el(model, "pnpx:DeviceCategory", md.device_category)
    rel = _el(
        _el(meta, "wsx:MetadataSection", Dialect=WSDP + "/Relationship"),
        "wsdp:Relationship",
        Type=WSDP + "/host",
    )
    host = _el(rel, "wsdp:Host")
    _pack_endpoint(host, md.endpoint)
    _el(host, "wsdp:Types", _qnames((COMPUTER,)))
    _el(host, "wsdp:ServiceId", md.endpoint)
    _el(host, "pub:Computer", md.computer)


def _pack_body(parent: ET.Element, body: Body) -> None:
    if isinstance(body, Hello):
        _pack_target(_el(parent, "wsd:Hello"), body.target)
    elif isinstance(body, Bye):
        _pack_endpoint(_el(parent, "wsd:Bye"), body.endpoint)
    elif isinstance(body, Probe):
        probe = _el(parent, "wsd:Probe")
        if body.types:
            _el(probe, "wsd:Types", _qnames(body.types))
        if body.scopes:
            _el(probe, "wsd:Scopes", " ".join(body.scopes))
    elif isinstance(body, ProbeMatches):
        matches = _el(parent, "wsd:ProbeMatches")
        for target in body.matches:
            _pack_target(_el(matches, "wsd:ProbeMatch"), target)
    elif isinstance(body, Resolve):
        _pack_endpoint(_el(parent, "wsd:Resolve"), body.endpoint)
    elif isinstance(body, ResolveMatches):
        matches = _el(parent, "wsd:ResolveMatches")
        if body.match is not None:
            _pack_target(_el(matches, "wsd:ResolveMatch"), body.match)
    elif isinstance(body, GetResponse):
        _pack_metadata(parent, body.metadata)


def pack(msg: Message) -> bytes:
    """The SOAP envelope of ``msg`` as UTF-8 bytes (with an XML declaration, as wsdd sends)."""
    root = ET.Element("soap:Envelope", {f"xmlns:{p}": uri for p, uri in PREFIXES.items()})
    head = _el(root, "soap:Header")
    h = msg.header
    if h.to:
        _el(head, "wsa:To", h.to)
    _el(head, "wsa:Action", msg.action.value)
    _el(head, "wsa:MessageID", h.message_id)
    if h.relates_to:
        _el(head, "wsa:RelatesTo", h.relates_to)
    if h.reply_to:
        _el(_el(head, "wsa:ReplyTo"), "wsa:Address", h.reply_to)
    if h.sender:
        _el(_el(head, "wsa:From"), "wsa:Address", h.sender)
    if h.app_sequence is not None:
        seq = h.app_sequence
        attrs = {"InstanceId": str(seq.instance_id), "MessageNumber": str(seq.message_number)}
        if seq.sequence_id:
            attrs["SequenceId"] = seq.sequence_id
        _el(head, "wsd:AppSequence", **attrs)
    _pack_body(_el(root, "soap:Body"), msg.body)
    return (
        b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode").encode()
    )


# -- target-side decisions ---------------------------------------------------------------


def probe_matches(probe: Probe, types: tuple[QName, ...]) -> bool:
    """WS-Discovery §5.3: every probed type must be ours, and we carry no scopes, so a
    probe naming any scope does not match (as wsdd and Windows targets answer)."""
    return not probe.scopes and all(t in types for t in probe.types)


class RecentIds:
    """Message ids seen lately, to drop the repeats SOAP-over-UDP sends (Appendix I):
    bounded, oldest forgotten first."""

    def __init__(self, capacity: int = 256) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def seen(self, message_id: str) -> bool:
        """True if ``message_id`` was seen before; otherwise remember it and say False."""
        if message_id in self._ids:
            self._ids.move_to_end(message_id)
            return True
        self._ids[message_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)
