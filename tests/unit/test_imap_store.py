"""agents.mail.imap_store: UIDs that persist, flags in Maildir names, Maildir++ folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from peerwork.agents.mail.imap_store import UID_FILE, Folder, Mailboxes, flags_of, info_of
from peerwork.agents.mail.maildir import Maildir
from peerwork.errors import AlreadyExists, InvalidInput, NotFound


def deliver(root: Path, key: str, data: bytes = b"Subject: x\r\n\r\nbody\r\n") -> None:
    (root / "new").mkdir(parents=True, exist_ok=True)
    (root / "new" / key).write_bytes(data)


def test_uids_persist_and_grow(tmp_path: Path) -> None:
    boxes = Mailboxes(tmp_path / "Maildir")
    boxes.ensure()
    deliver(boxes.root, "100.aa")
    deliver(boxes.root, "100.bb")
    first = boxes.folder("INBOX").scan()
    assert [(e.uid, e.key, e.fresh) for e in first] == [(1, "100.aa", True), (2, "100.bb", True)]
    again = Folder(boxes.root)
    taken = again.scan(take_new=True)
    assert [e.uid for e in taken] == [1, 2] and all(e.path.parent.name == "cur" for e in taken)
    assert again.uidvalidity == boxes.folder("INBOX").status()[1]
    # A message gone (POP3 deleted it) frees no UID; a new one gets the next.
    taken[0].path.unlink()
    deliver(boxes.root, "099.zz")  # sorts first, but arrives later: a higher UID all the same
    later = Folder(boxes.root).scan()
    assert [(e.uid, e.key) for e in later] == [(2, "100.bb"), (3, "099.zz")]
    # POP3 reads the same files, flags or not.
    assert sorted(m.uid for m in Maildir(boxes.root).messages()) == ["099.zz", "100.bb"]


def test_flags_live_in_the_file_name(tmp_path: Path) -> None:
    boxes = Mailboxes(tmp_path / "Maildir")
    boxes.ensure()
    deliver(boxes.root, "1.a")
    folder = boxes.folder("INBOX")
    entry = folder.scan()[0]
    changed = folder.set_flags(entry, frozenset({"\\Seen", "\\Flagged", "$Junk"}))
    assert changed is not None and changed.path.name == "1.a:2,FS"
    assert changed.flags == frozenset({"\\Seen", "\\Flagged"})  # no keywords kept
    # Another session holding the old entry still finds the message.
    again = folder.set_flags(entry, frozenset({"\\Deleted"}))
    assert again is not None and again.path.name == "1.a:2,T"
    folder.remove(entry)
    assert folder.scan() == []
    assert folder.set_flags(entry, frozenset()) is None
    assert flags_of("x:2,DFPRST") == frozenset(
        {"\\Draft", "\\Flagged", "$Forwarded", "\\Answered", "\\Seen", "\\Deleted"}
    )
    assert info_of({"\\Seen", "\\Answered"}) == ":2,RS"


def test_damaged_uid_list_starts_a_new_epoch(tmp_path: Path) -> None:
    boxes = Mailboxes(tmp_path / "Maildir")
    boxes.ensure()
    deliver(boxes.root, "1.a")
    folder = boxes.folder("INBOX")
    folder.scan()
    (boxes.root / UID_FILE).write_text("garbage\n\x00 not numbers\n")
    entries = Folder(boxes.root).scan()
    assert [e.uid for e in entries] == [1]


def test_folders(tmp_path: Path) -> None:
    boxes = Mailboxes(tmp_path / "Maildir")
    boxes.ensure()
    assert boxes.names() == ["INBOX", "Drafts", "Sent", "Trash"]
    boxes.create("Work")
    boxes.create("Work.2026")
    assert (boxes.root / ".Work.2026" / "cur").is_dir()
    with pytest.raises(AlreadyExists):
        boxes.create("Work")
    with pytest.raises(InvalidInput):
        boxes.delete("Work")  # it has a subfolder
    boxes.rename("Work.2026", "Archive")
    assert "Archive" in boxes.subscribed() and "Work.2026" not in boxes.subscribed()
    boxes.delete("Archive")
    with pytest.raises(NotFound):
        boxes.folder("Archive")
    uid = boxes.folder("Sent").add(b"Subject: s\r\n\r\n", ["\\Seen"], 1_000_000_000.0)
    sent = boxes.folder("Sent").scan()
    assert [e.uid for e in sent] == [uid] and sent[0].mtime == 1_000_000_000.0
    assert sent[0].flags == frozenset({"\\Seen"})


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "a..b", ".hidden", "x.", "", "a*", "a%", "~x", "INBOX.sub", "a\x00b"]
)
def test_bad_folder_names_refused(tmp_path: Path, name: str) -> None:
    boxes = Mailboxes(tmp_path / "Maildir")
    boxes.ensure()
    with pytest.raises(InvalidInput):
        boxes.create(name)
    assert sorted(p.name for p in boxes.root.iterdir() if p.name.startswith(".")) == [
        ".Drafts",
        ".Sent",
        ".Trash",
    ]
