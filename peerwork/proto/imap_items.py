"""FETCH data items and SEARCH keys of IMAP4rev1 (RFC 3501 6.4.4, 6.4.5): parsed and packed.

Sans-IO, on top of :mod:`peerwork.proto.imap_syntax`'s :class:`Reader`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from .imap_syntax import MAX_DEPTH, ImapSyntaxError, Reader, SequenceSet, is_atom, quoted

MAX_FIELDS = 100  # header field names in one HEADER.FIELDS
MAX_PART_DEPTH = 32
MAX_SEARCH_KEYS = 256


class FetchKind(enum.Enum):
    FLAGS = "FLAGS"
    INTERNALDATE = "INTERNALDATE"
    RFC822_SIZE = "RFC822.SIZE"
    UID = "UID"
    ENVELOPE = "ENVELOPE"
    BODYSTRUCTURE = "BODYSTRUCTURE"
    BODY = "BODY"  # the structure without extension data
    RFC822 = "RFC822"
    RFC822_HEADER = "RFC822.HEADER"
    RFC822_TEXT = "RFC822.TEXT"
    SECTION = "BODY[]"  # BODY[...] and BODY.PEEK[...]


class SectionText(enum.Enum):
    ALL = ""
    HEADER = "HEADER"
    HEADER_FIELDS = "HEADER.FIELDS"
    HEADER_FIELDS_NOT = "HEADER.FIELDS.NOT"
    TEXT = "TEXT"
    MIME = "MIME"


@dataclass(frozen=True, slots=True)
class Section:
    """``1.2.HEADER.FIELDS (FROM TO)``: ``part`` numbers, then what of that part."""

    part: tuple[int, ...] = ()
    text: SectionText = SectionText.ALL
    fields: tuple[str, ...] = ()

    def pack(self) -> str:
        pieces = [str(n) for n in self.part]
        if self.text is not SectionText.ALL:
            pieces.append(self.text.value)
        spec = ".".join(pieces)
        if self.text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
            spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One data item; ``partial`` is ``<offset.length>`` of a section."""

    kind: FetchKind
    section: Section | None = None
    peek: bool = False
    partial: tuple[int, int] | None = None

    @property
    def sets_seen(self) -> bool:
        return (self.kind is FetchKind.SECTION and not self.peek) or self.kind in (
            FetchKind.RFC822,
            FetchKind.RFC822_TEXT,
        )

    def pack(self) -> str:
        if self.kind is not FetchKind.SECTION:
            return str(self.kind.value)
        assert self.section is not None
        name = f"BODY{'.PEEK' if self.peek else ''}[{self.section.pack()}]"
        if self.partial is not None:
            name += f"<{self.partial[0]}.{self.partial[1]}>"
        return name

    def response_name(self) -> str:
        """How the answer names it: no ``.PEEK``, only the origin of a partial."""
        if self.kind is not FetchKind.SECTION:
            return str(self.kind.value)
        assert self.section is not None
        name = f"BODY[{self.section.pack()}]"
        if self.partial is not None:
            name += f"<{self.partial[0]}>"
        return name


_MACROS = {
    "ALL": (FetchKind.FLAGS, FetchKind.INTERNALDATE, FetchKind.RFC822_SIZE, FetchKind.ENVELOPE),
    "FAST": (FetchKind.FLAGS, FetchKind.INTERNALDATE, FetchKind.RFC822_SIZE),
    "FULL": (
        FetchKind.FLAGS,
        FetchKind.INTERNALDATE,
        FetchKind.RFC822_SIZE,
        FetchKind.ENVELOPE,
        FetchKind.BODY,
    ),
}
_SIMPLE = {k.value: k for k in FetchKind if k is not FetchKind.SECTION}


def parse_fetch_items(reader: Reader) -> tuple[FetchItem, ...]:
    if reader.peek() == ord("("):
        items = []
        for _ in reader.list_items():
            items.append(_fetch_item(reader))
            if len(items) > 64:
                raise ImapSyntaxError("too many fetch items")
        return tuple(items)
    word = reader.atom(extra_stop=b"[").upper()
    if word in _MACROS:
        return tuple(FetchItem(k) for k in _MACROS[word])
    return (_fetch_item(reader, word),)


def _fetch_item(reader: Reader, word: str | None = None) -> FetchItem:
    if word is None:
        word = reader.atom(extra_stop=b"[").upper()
    if word in ("BODY", "BODY.PEEK") and reader.peek() == ord("["):
        section = _section(reader)
        partial = None
        if reader.maybe(b"<"):
            offset = reader.number()
            reader.expect(b".")
            length = reader.number()
            reader.expect(b">")
            if length == 0:
                raise ImapSyntaxError("a partial fetch of 0 octets")
            partial = (offset, length)
        return FetchItem(FetchKind.SECTION, section, word == "BODY.PEEK", partial)
    if word in _SIMPLE:
        return FetchItem(_SIMPLE[word])
    raise ImapSyntaxError(f"unknown fetch item {word[:40]!r}")


def _section(reader: Reader) -> Section:
    reader.expect(b"[")
    if reader.maybe(b"]"):
        return Section()
    spec = reader.atom(extra_stop=b"[").upper()
    parts: list[int] = []
    pieces = spec.split(".")
    while pieces and pieces[0].isdigit():
        number = int(pieces.pop(0)) if len(pieces[0]) <= 9 else 0
        if number == 0:
            raise ImapSyntaxError("part numbers start at 1")
        parts.append(number)
    if len(parts) > MAX_PART_DEPTH:
        raise ImapSyntaxError("part number too deep")
    try:
        text = SectionText(".".join(pieces))
    except ValueError:
        raise ImapSyntaxError(f"unknown section {spec[:40]!r}") from None
    if text is SectionText.MIME and not parts:
        raise ImapSyntaxError("MIME needs a part number")
    fields: tuple[str, ...] = ()
    if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        reader.sp()
        names = []
        for _ in reader.list_items():
            names.append(reader.astring().decode("ascii", "replace").upper())
            if len(names) > MAX_FIELDS:
                raise ImapSyntaxError("too many header fields")
        if not names or not all(is_atom(n) for n in names):
            raise ImapSyntaxError("header field names are atoms")
        fields = tuple(names)
    reader.expect(b"]")
    return Section(tuple(parts), text, fields)


class SearchOp(enum.Enum):
    ALL = "ALL"
    AND = "AND"  # a parenthesised list of keys
    NOT = "NOT"
    OR = "OR"
    SEQ = "SEQ"  # a bare sequence set
    UID = "UID"
    ANSWERED = "ANSWERED"
    DELETED = "DELETED"
    DRAFT = "DRAFT"
    FLAGGED = "FLAGGED"
    SEEN = "SEEN"
    RECENT = "RECENT"
    NEW = "NEW"
    OLD = "OLD"
    UNANSWERED = "UNANSWERED"
    UNDELETED = "UNDELETED"
    UNDRAFT = "UNDRAFT"
    UNFLAGGED = "UNFLAGGED"
    UNSEEN = "UNSEEN"
    KEYWORD = "KEYWORD"
    UNKEYWORD = "UNKEYWORD"
    BCC = "BCC"
    CC = "CC"
    FROM = "FROM"
    TO = "TO"
    SUBJECT = "SUBJECT"
    BODY = "BODY"
    TEXT = "TEXT"
    HEADER = "HEADER"
    LARGER = "LARGER"
    SMALLER = "SMALLER"
    BEFORE = "BEFORE"
    ON = "ON"
    SINCE = "SINCE"
    SENTBEFORE = "SENTBEFORE"
    SENTON = "SENTON"
    SENTSINCE = "SENTSINCE"


_NO_ARG = {
    SearchOp.ALL,
    SearchOp.ANSWERED,
    SearchOp.DELETED,
    SearchOp.DRAFT,
    SearchOp.FLAGGED,
    SearchOp.SEEN,
    SearchOp.RECENT,
    SearchOp.NEW,
    SearchOp.OLD,
    SearchOp.UNANSWERED,
    SearchOp.UNDELETED,
    SearchOp.UNDRAFT,
    SearchOp.UNFLAGGED,
    SearchOp.UNSEEN,
}
_TEXT_ARG = {
    SearchOp.BCC,
    SearchOp.CC,
    SearchOp.FROM,
    SearchOp.TO,
    SearchOp.SUBJECT,
    SearchOp.BODY,
    SearchOp.TEXT,
    SearchOp.KEYWORD,
    SearchOp.UNKEYWORD,
}
_DATE_ARG = {
    SearchOp.BEFORE,
    SearchOp.ON,
    SearchOp.SINCE,
    SearchOp.SENTBEFORE,
    SearchOp.SENTON,
    SearchOp.SENTSINCE,
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class SearchKey:
    """One search criterion; ``AND``/``NOT``/``OR`` hold theirs in ``children``."""

    op: SearchOp
    text: tuple[str, ...] = ()
    number: int = 0
    day: dt.date | None = None
    set: SequenceSet | None = None
    children: tuple[SearchKey, ...] = ()

    def pack(self) -> bytes:
        op = self.op
        if op is SearchOp.AND:
            return b"(" + b" ".join(c.pack() for c in self.children) + b")"
        if op is SearchOp.SEQ:
            assert self.set is not None
            return self.set.pack().encode()
        head = str(op.value).encode()
        if op in (SearchOp.NOT, SearchOp.OR):
            return b" ".join([head, *(c.pack() for c in self.children)])
        if op is SearchOp.UID:
            assert self.set is not None
            return head + b" " + self.set.pack().encode()
        if op in (SearchOp.LARGER, SearchOp.SMALLER):
            return head + b" %d" % self.number
        if op in _DATE_ARG:
            assert self.day is not None
            return head + b" " + format_date(self.day).encode()
        if op in _TEXT_ARG or op is SearchOp.HEADER:
            return b" ".join([head, *(quoted(t.encode()) for t in self.text)])
        return head


def format_date(day: dt.date) -> str:
    return f"{day.day}-{MONTHS[day.month - 1]}-{day.year:04d}"


def parse_date(text: str) -> dt.date:
    day, _, rest = text.partition("-")
    month, _, year = rest.partition("-")
    try:
        return dt.date(int(year), MONTHS.index(month.capitalize()) + 1, int(day))
    except ValueError:
        raise ImapSyntaxError(f"bad date {text[:20]!r}") from None


class _SearchParser:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.count = 0

    def keys(self) -> SearchKey:
        """Space-separated keys up to the end of the command (an implicit AND)."""
        found = [self.key()]
        while not self.reader.at_end():
            self.reader.sp()
            found.append(self.key())
        return found[0] if len(found) == 1 else SearchKey(SearchOp.AND, children=tuple(found))

    def key(self) -> SearchKey:
        self.count += 1
        if self.count > MAX_SEARCH_KEYS:
            raise ImapSyntaxError("too many search keys")
        reader = self.reader
        if reader.peek() == ord("("):
            children = []
            for _ in reader.list_items():
                children.append(self.key())
            if not children:
                raise ImapSyntaxError("empty search list")
            return SearchKey(SearchOp.AND, children=tuple(children))
        if (lead := reader.peek()) is not None and chr(lead) in "0123456789*":
            return SearchKey(SearchOp.SEQ, set=reader.sequence_set())
        word = reader.atom()
        try:
            op = SearchOp(word.upper())
        except ValueError:
            raise ImapSyntaxError(f"unknown search key {word[:40]!r}") from None
        if op in (SearchOp.AND, SearchOp.SEQ):
            raise ImapSyntaxError(f"unknown search key {word[:40]!r}")
        if op in _NO_ARG:
            return SearchKey(op)
        reader.sp()
        if op in (SearchOp.NOT, SearchOp.OR):
            reader.depth += 1
            if reader.depth > MAX_DEPTH:
                raise ImapSyntaxError("search keys nested too deep")
            children = [self.key()]
            if op is SearchOp.OR:
                reader.sp()
                children.append(self.key())
            reader.depth -= 1
            return SearchKey(op, children=tuple(children))
        if op is SearchOp.UID:
            return SearchKey(op, set=reader.sequence_set())
        if op in (SearchOp.LARGER, SearchOp.SMALLER):
            return SearchKey(op, number=reader.number())
        if op in _DATE_ARG:
            return SearchKey(op, day=parse_date(reader.astring().decode("ascii", "replace")))
        if op is SearchOp.HEADER:
            name = reader.nstring_text()
            reader.sp()
            return SearchKey(op, text=(name, reader.nstring_text()))
        return SearchKey(op, text=(reader.nstring_text(),))


def parse_search(reader: Reader) -> SearchKey:
    return _SearchParser(reader).keys()
