"""A small, hostile-input-safe XML reader for WS-Discovery's SOAP envelopes.

Sans-IO: bytes in, a tree of frozen :class:`Node` values out. It is built on
expat directly rather than ``xml.etree`` so that the dangerous parts of XML are
refused outright instead of trusted to expat's defaults:

- any DOCTYPE (and with it every entity declaration, internal or external:
  billion laughs, quadratic blow-up and external entity fetches) is an error;
- input size, element count, nesting depth and attribute count are bounded, so
  a 32 KiB datagram can cost only a bounded amount of work and memory.

Names are resolved to ``{namespace-uri}local`` (Clark notation, as ElementTree
writes them). Each node also keeps the namespace prefixes in scope where it
starts, because WS-Discovery puts QNames inside element text (``<wsd:Types>
wsdp:Device</wsd:Types>``) and only the in-scope declarations say what
``wsdp`` means.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from xml.parsers import expat

from peerwork.errors import PeerworkError

# SOAP-over-UDP datagrams are at most 32767 bytes (wsdd's WSD_MAX_LEN); the
# HTTP metadata exchange is held to the same bound.
MAX_XML_BYTES = 32767
MAX_DEPTH = 24
MAX_ELEMENTS = 2000
MAX_ATTRIBUTES = 32
_SEP = "}"  # expat joins "uri" + _SEP + "local"; "}" cannot occur in a URI we accept


class XmlError(PeerworkError):
    """Bytes that are not acceptable XML: malformed, too big, too deep, or with a DOCTYPE."""

    code = "bad-xml"


@dataclass(frozen=True, slots=True)
class Node:
    """One element: Clark-notation tag, attributes, text (stripped) and children."""

    tag: str
    attrs: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Node, ...] = ()
    # prefix -> namespace URI in scope at this element ("" is the default namespace)
    scope: Mapping[str, str] = field(default_factory=dict)

    def child(self, tag: str) -> Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def find(self, *path: str) -> Node | None:
        """The first node reached by following ``path`` tags child by child."""
        node: Node | None = self
        for tag in path:
            if node is None:
                return None
            node = node.child(tag)
        return node

    def iter(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.iter()

    def qnames(self) -> tuple[tuple[str, str], ...]:
        """This node's text read as a whitespace-separated list of QNames, resolved to
        ``(namespace, local)`` pairs; XmlError for an undeclared prefix."""
        out = []
        for word in self.text.split():
            prefix, colon, local = word.rpartition(":")
            if not colon:
                prefix, local = "", word
            uri = self.scope.get(prefix)
            if uri is None and prefix:
                raise XmlError(f"QName {word!r} uses an undeclared prefix")
            out.append((uri or "", local))
        return tuple(out)


class _Builder:
    def __init__(self) -> None:
        self.stack: list[tuple[str, dict[str, str], list[str], list[Node], Mapping[str, str]]] = []
        self.root: Node | None = None
        self.count = 0
        self.scope: Mapping[str, str] = MappingProxyType({})
        self.pending: dict[str, str] = {}
        self.scopes: list[Mapping[str, str]] = []

    def start_ns(self, prefix: str | None, uri: str | None) -> None:
        self.pending[prefix or ""] = uri or ""

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise XmlError(f"more than {MAX_ELEMENTS} elements")
        if len(self.stack) >= MAX_DEPTH:
            raise XmlError(f"elements nested deeper than {MAX_DEPTH}")
        if len(attrs) > MAX_ATTRIBUTES:
            raise XmlError(f"more than {MAX_ATTRIBUTES} attributes on one element")
        if self.root is not None:
            raise XmlError("content after the document element")
        self.scopes.append(self.scope)
        if self.pending:
            self.scope = MappingProxyType({**self.scope, **self.pending})
            self.pending = {}
        named = {_clark(k): v for k, v in attrs.items()}
        self.stack.append((_clark(name), named, [], [], self.scope))

    def end(self, name: str) -> None:
        del name
        tag, attrs, text, children, scope = self.stack.pop()
        node = Node(tag, MappingProxyType(attrs), "".join(text).strip(), tuple(children), scope)
        self.scope = self.scopes.pop()
        if self.stack:
            self.stack[-1][3].append(node)
        else:
            self.root = node

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1][2].append(text)


def _clark(name: str) -> str:
    uri, sep, local = name.rpartition(_SEP)
    return f"{{{uri}}}{local}" if sep else local


def _refuse_doctype(*args: object) -> int:
    # expat's handler types differ in arity and return type; every one of them stops here.
    del args
    raise XmlError("DOCTYPE declarations are not accepted")


def parse_xml(data: bytes) -> Node:
    """The document element of ``data``; XmlError for anything unacceptable."""
    if len(data) > MAX_XML_BYTES:
        raise XmlError(f"{len(data)} bytes is more than the {MAX_XML_BYTES} accepted")
    builder = _Builder()
    # expat is created per document: a parser that raised mid-way must not be reused.
    # The encoding is fixed: SOAP 1.2 here is UTF-8, and a declared encoding would make
    # expat call Python's codec machinery on names chosen by the sender.
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=_SEP)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.UnparsedEntityDeclHandler = _refuse_doctype
    parser.ExternalEntityRefHandler = _refuse_doctype
    parser.StartNamespaceDeclHandler = builder.start_ns
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XmlError(f"not well-formed XML: {expat.errors.messages[exc.code]}") from None
    except (LookupError, ValueError, RecursionError) as exc:
        raise XmlError(f"unacceptable XML: {exc}") from None
    if builder.root is None:
        raise XmlError("no document element")
    return builder.root
