"""SEARCH over a selected folder: flags and sizes from the scan, headers and text from the files.

Blocking (reads message files): the server runs :func:`search` in a thread.
Text keys match case-insensitively as substrings (RFC 3501 6.4.4); BODY and
TEXT stream the file in chunks with an overlap, never loading it whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

from peerwork.proto.imap_items import SearchKey, SearchOp

from .imap_fetch import CHUNK, read_head
from .imap_store import Entry

_FLAG_KEYS = {
    SearchOp.ANSWERED: ("\\Answered", True),
    SearchOp.DELETED: ("\\Deleted", True),
    SearchOp.DRAFT: ("\\Draft", True),
    SearchOp.FLAGGED: ("\\Flagged", True),
    SearchOp.SEEN: ("\\Seen", True),
    SearchOp.UNANSWERED: ("\\Answered", False),
    SearchOp.UNDELETED: ("\\Deleted", False),
    SearchOp.UNDRAFT: ("\\Draft", False),
    SearchOp.UNFLAGGED: ("\\Flagged", False),
    SearchOp.UNSEEN: ("\\Seen", False),
}
_ADDRESS_KEYS = {
    SearchOp.FROM: "from",
    SearchOp.TO: "to",
    SearchOp.CC: "cc",
    SearchOp.BCC: "bcc",
    SearchOp.SUBJECT: "subject",
}


@dataclass
class _Message:
    entry: Entry
    number: int
    recent: bool
    _fields: Message | None = field(default=None)

    def fields(self) -> Message:
        if self._fields is None:
            self._fields = BytesHeaderParser(policy=compat32).parsebytes(
                read_head(self.entry.path).header
            )
        return self._fields


def search(key: SearchKey, entries: Sequence[Entry], recent: set[int]) -> list[tuple[int, Entry]]:
    """The (message number, entry) pairs ``key`` matches."""
    largest_uid = entries[-1].uid if entries else 0
    found = []
    for number, entry in enumerate(entries, 1):
        message = _Message(entry, number, entry.uid in recent)
        try:
            if _match(key, message, len(entries), largest_uid):
                found.append((number, entry))
        except FileNotFoundError:
            continue  # expunged by another session meanwhile
    return found


def _match(key: SearchKey, m: _Message, count: int, largest_uid: int) -> bool:
    op = key.op
    if op is SearchOp.ALL:
        return True
    if op is SearchOp.AND:
        return all(_match(k, m, count, largest_uid) for k in key.children)
    if op is SearchOp.OR:
        return any(_match(k, m, count, largest_uid) for k in key.children)
    if op is SearchOp.NOT:
        return not _match(key.children[0], m, count, largest_uid)
    if op in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[op]
        return (flag in m.entry.flags) == present
    if op is SearchOp.SEQ:
        assert key.set is not None
        return key.set.contains(m.number, count)
    if op is SearchOp.UID:
        assert key.set is not None
        return key.set.contains(m.entry.uid, largest_uid)
    if op is SearchOp.RECENT:
        return m.recent
    if op is SearchOp.NEW:
        return m.recent and "\\Seen" not in m.entry.flags
    if op is SearchOp.OLD:
        return not m.recent
    if op is SearchOp.KEYWORD:
        return key.text[0] in m.entry.flags
    if op is SearchOp.UNKEYWORD:
        return key.text[0] not in m.entry.flags
    if op is SearchOp.LARGER:
        return m.entry.size > key.number
    if op is SearchOp.SMALLER:
        return m.entry.size < key.number
    if op in (SearchOp.BEFORE, SearchOp.ON, SearchOp.SINCE):
        return _date_match(op, dt.datetime.fromtimestamp(m.entry.mtime, dt.UTC).date(), key)
    if op in (SearchOp.SENTBEFORE, SearchOp.SENTON, SearchOp.SENTSINCE):
        sent = _sent_date(m.fields())
        return sent is not None and _date_match(op, sent, key)
    if op in _ADDRESS_KEYS:
        return _contains(" ".join(m.fields().get_all(_ADDRESS_KEYS[op]) or []), key.text[0])
    if op is SearchOp.HEADER:
        name, needle = key.text
        values = m.fields().get_all(name)
        return values is not None and (not needle or _contains(" ".join(values), needle))
    if op is SearchOp.BODY:
        return _file_contains(m.entry, key.text[0], read_head(m.entry.path).body_start)
    if op is SearchOp.TEXT:
        return _file_contains(m.entry, key.text[0], 0)
    raise ValueError(f"unhandled search key {op}")


def _date_match(op: SearchOp, day: dt.date, key: SearchKey) -> bool:
    assert key.day is not None
    if op in (SearchOp.BEFORE, SearchOp.SENTBEFORE):
        return day < key.day
    if op in (SearchOp.ON, SearchOp.SENTON):
        return day == key.day
    return day >= key.day


def _sent_date(fields: Message) -> dt.date | None:
    value = fields.get("date")
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value)).date()
    except (ValueError, TypeError, IndexError):
        return None


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _file_contains(entry: Entry, needle: str, start: int) -> bool:
    """Case-insensitive substring search through the file from ``start``, chunk by chunk."""
    wanted = needle.encode("utf-8").lower()
    if not wanted:
        return True
    overlap = len(wanted) - 1
    tail = b""
    with entry.path.open("rb") as handle:
        handle.seek(start)
        while chunk := handle.read(CHUNK):
            window = tail + chunk.lower()
            if wanted in window:
                return True
            tail = window[-overlap:] if overlap else b""
    return False
