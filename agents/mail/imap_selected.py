"""The selected state of an IMAP session: one folder's messages by number, and what changed.

:class:`Selected` keeps the session's view (entries in UID order; the message
number is the position) and answers FETCH, STORE, SEARCH, COPY/MOVE, EXPUNGE
and CLOSE. :meth:`Selected.sync` rescans the folder and tells the client what
others changed (EXPUNGE, FETCH FLAGS, EXISTS, RECENT): POP3 deletions, new
deliveries, another IMAP session's flags.
"""

from __future__ import annotations

import asyncio

from peerwork.proto.imap import CopyArgs, Fetch, SetOnly, Store, StoreMode
from peerwork.proto.imap_items import FetchItem, FetchKind, SearchKey
from peerwork.proto.imap_syntax import SequenceSet

from .imap_fetch import Piece, Structures, fetch_pieces, flag_list, write_pieces
from .imap_search import search
from .imap_store import LETTERS, Entry, Folder

SYSTEM_FLAGS = tuple(sorted(LETTERS))
FULL_RESCAN = 10.0
# Items answered from the folder scan alone, without opening the message.
_FROM_SCAN = {FetchKind.FLAGS, FetchKind.UID, FetchKind.RFC822_SIZE, FetchKind.INTERNALDATE}


def uid_set(uids: list[int]) -> str:
    """``1:3,7`` for COPYUID/APPENDUID."""
    ranges: list[list[int]] = []
    for uid in uids:
        if ranges and uid == ranges[-1][1] + 1:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ranges)


class Selected:
    def __init__(self, name: str, folder: Folder, read_only: bool) -> None:
        self.name = name
        self.folder = folder
        self.read_only = read_only
        self.view: list[Entry] = []
        self.recent: set[int] = set()
        self.structures = Structures()
        self.uidvalidity = 0
        self.next_uid = 1
        self._stamp: tuple[int, ...] = ()
        self._scanned = 0.0

    async def open(self) -> list[bytes]:
        """SELECT/EXAMINE: scan and return the untagged answers."""
        self.view = await asyncio.to_thread(self.folder.scan, take_new=not self.read_only)
        self.recent = {e.uid for e in self.view if e.fresh}
        self.uidvalidity, self.next_uid = self.folder.uidvalidity, self.folder.next_uid
        flags = " ".join(SYSTEM_FLAGS)
        out = [
            f"* FLAGS ({flags})\r\n",
            f"* OK [PERMANENTFLAGS ({flags})] flags kept in the Maildir\r\n",
            f"* {len(self.view)} EXISTS\r\n",
            f"* {len(self.recent)} RECENT\r\n",
        ]
        unseen = next((i for i, e in enumerate(self.view, 1) if "\\Seen" not in e.flags), None)
        if unseen is not None:
            out.append(f"* OK [UNSEEN {unseen}] first unseen\r\n")
        out += [
            f"* OK [UIDVALIDITY {self.uidvalidity}] UIDs valid\r\n",
            f"* OK [UIDNEXT {self.next_uid}] predicted next UID\r\n",
        ]
        return [line.encode() for line in out]

    def targets(self, sequence: SequenceSet, uid: bool) -> list[tuple[int, Entry]]:
        if uid:
            largest = self.view[-1].uid if self.view else 0
            return [(i, e) for i, e in enumerate(self.view, 1) if sequence.contains(e.uid, largest)]
        count = len(self.view)
        return [(i, e) for i, e in enumerate(self.view, 1) if sequence.contains(i, count)]

    async def sync(self, *, expunges: bool = True, cheap: bool = False) -> list[bytes]:
        """What changed on disk since the view was taken (RFC 3501 7.3.1, 7.4.1).

        ``cheap`` (IDLE's frequent looks): skip the scan while the folders' mtimes
        stand still, but rescan every :data:`FULL_RESCAN` seconds regardless (a
        change within one timestamp tick would not move them)."""
        clock = asyncio.get_running_loop().time()
        stamp = await asyncio.to_thread(self.folder.stamp)
        if cheap and stamp == self._stamp and clock - self._scanned < FULL_RESCAN:
            return []
        self._stamp, self._scanned = stamp, clock
        now = await asyncio.to_thread(self.folder.scan, take_new=not self.read_only)
        by_uid = {e.uid: e for e in now}
        out: list[bytes] = []
        if expunges:
            for number in range(len(self.view), 0, -1):
                if self.view[number - 1].uid not in by_uid:
                    out.append(b"* %d EXPUNGE\r\n" % number)
                    self.recent.discard(self.view[number - 1].uid)
                    del self.view[number - 1]
        for number, entry in enumerate(self.view, 1):
            fresh = by_uid.get(entry.uid)
            if fresh is not None and fresh.flags != entry.flags:
                self.view[number - 1] = fresh
                out.append(self._flags_line(number, fresh, False))
        known = self.view[-1].uid if self.view else 0
        added = [e for e in now if e.uid > known]
        if added:
            self.view.extend(added)
            self.recent.update(e.uid for e in added if e.fresh)
            out.append(b"* %d EXISTS\r\n" % len(self.view))
            out.append(b"* %d RECENT\r\n" % len(self.recent))
        self.next_uid = max(self.next_uid, self.folder.next_uid)
        return out

    def _flags_line(self, number: int, entry: Entry, with_uid: bool) -> bytes:
        uid = b"UID %d " % entry.uid if with_uid else b""
        flags = flag_list(entry.flags, entry.uid in self.recent)
        return b"* %d FETCH (%sFLAGS %s)\r\n" % (number, uid, flags)

    async def fetch(self, args: Fetch, uid: bool, writer: asyncio.StreamWriter) -> None:
        items = args.items
        if uid and not any(i.kind is FetchKind.UID for i in items):
            items = (FetchItem(FetchKind.UID), *items)
        marks_seen = not self.read_only and any(i.sets_seen for i in items)
        if marks_seen and not any(i.kind is FetchKind.FLAGS for i in items):
            items = (*items, FetchItem(FetchKind.FLAGS))
        reads_file = any(i.kind not in _FROM_SCAN for i in items)
        for number, entry in self.targets(args.set, uid):
            current = entry
            if marks_seen and "\\Seen" not in entry.flags:
                changed = await asyncio.to_thread(
                    self.folder.set_flags, entry, entry.flags | {"\\Seen"}
                )
                current = changed or entry
                self.view[number - 1] = current
            if reads_file:
                pieces = await asyncio.to_thread(self._pieces, current, number, items)
            else:
                pieces = self._pieces(current, number, items)  # flags and sizes: no disk
            await write_pieces(writer, pieces)

    def _pieces(self, entry: Entry, number: int, items: tuple[FetchItem, ...]) -> list[Piece]:
        try:
            return fetch_pieces(
                entry,
                number,
                items,
                recent=entry.uid in self.recent,
                structures=self.structures,
            )
        except FileNotFoundError:
            latest = self.folder.current(entry)
            if latest is None:
                # Gone under us; RFC 3501 allows answering what is still known.
                return [b"* %d FETCH (UID %d FLAGS (\\Deleted))\r\n" % (number, entry.uid)]
            return fetch_pieces(
                latest, number, items, recent=entry.uid in self.recent, structures=self.structures
            )

    async def store(self, args: Store, uid: bool) -> list[bytes]:
        out = []
        wanted = frozenset(args.flags) - {"\\Recent"}
        for number, entry in self.targets(args.set, uid):
            if args.mode is StoreMode.ADD:
                flags = entry.flags | wanted
            elif args.mode is StoreMode.REMOVE:
                flags = entry.flags - wanted
            else:
                flags = wanted
            changed = await asyncio.to_thread(self.folder.set_flags, entry, flags)
            if changed is None:
                continue
            self.view[number - 1] = changed
            if not args.silent:
                out.append(self._flags_line(number, changed, uid))
        return out

    async def search(self, key: SearchKey, uid: bool) -> bytes:
        found = await asyncio.to_thread(search, key, list(self.view), self.recent)
        numbers = [e.uid if uid else n for n, e in found]
        return b"* SEARCH" + b"".join(b" %d" % n for n in numbers) + b"\r\n"

    async def copy(self, args: CopyArgs, uid: bool, target: Folder) -> str | None:
        """COPYUID code text, or None when no message matched."""
        chosen = self.targets(args.set, uid)
        if not chosen:
            return None

        def copy_all() -> list[int]:
            uids = []
            for _, entry in chosen:
                for _attempt in range(3):  # another session may rename it (flags) meanwhile
                    latest = self.folder.current(entry)
                    if latest is None:
                        break
                    try:
                        uids.append(target.add(latest.path, latest.flags, latest.mtime))
                        break
                    except FileNotFoundError:
                        continue
            return uids

        new_uids = await asyncio.to_thread(copy_all)
        source = uid_set([e.uid for _, e in chosen])
        return f"COPYUID {target.uidvalidity} {source} {uid_set(new_uids)}"

    async def expunge(self, only: SetOnly | None = None) -> list[bytes]:
        """Remove what is marked \\Deleted (within ``only`` for UID EXPUNGE)."""
        out = []
        largest = self.view[-1].uid if self.view else 0
        for number in range(len(self.view), 0, -1):
            entry = self.view[number - 1]
            if "\\Deleted" not in entry.flags:
                continue
            if only is not None and not only.set.contains(entry.uid, largest):
                continue
            await asyncio.to_thread(self.folder.remove, entry)
            del self.view[number - 1]
            self.recent.discard(entry.uid)
            out.append(b"* %d EXPUNGE\r\n" % number)
        return out

    async def remove(self, chosen: list[tuple[int, Entry]]) -> list[bytes]:
        """MOVE's second half: the moved messages leave this folder."""
        out = []
        for number, entry in sorted(chosen, key=lambda pair: pair[0], reverse=True):
            await asyncio.to_thread(self.folder.remove, entry)
            del self.view[number - 1]
            self.recent.discard(entry.uid)
            out.append(b"* %d EXPUNGE\r\n" % number)
        return out
