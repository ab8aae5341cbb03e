"""Path safety: syntax rules, descriptor walk, symlinks, case and Unicode."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerwork.pathsafety import (
    NameIndex,
    ShareRoot,
    is_device_name,
    resolve_in_share,
    split_smb_path,
)
from peerwork.proto.ntstatus import NtStatus, NtStatusError


def status_of(path: str, **kw: bool) -> NtStatus:
    with pytest.raises(NtStatusError) as info:
        split_smb_path(path, **kw)
    return info.value.status


# -- split_smb_path ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("", ()),
        ("a", ("a",)),
        ("a\\b\\c.txt", ("a", "b", "c.txt")),
        ("a/b", ("a", "b")),
        ("a\\b/c", ("a", "b", "c")),
        ("dir\\", ("dir",)),
        ("file.txt::$DATA", ("file.txt",)),
        ("file.txt::$data", ("file.txt",)),
        (".hidden", (".hidden",)),
        ("con-tract.txt", ("con-tract.txt",)),
        ("COM10", ("COM10",)),
        (" leading space", (" leading space",)),
        ("a" * 255, ("a" * 255,)),
    ],
)
def test_split_accepts(path: str, parts: tuple[str, ...]) -> None:
    assert split_smb_path(path) == parts


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("..", NtStatus.OBJECT_PATH_SYNTAX_BAD),
        ("a\\..\\b", NtStatus.OBJECT_PATH_SYNTAX_BAD),
        ("a/../../etc/passwd", NtStatus.OBJECT_PATH_SYNTAX_BAD),
        ("\\etc\\passwd", NtStatus.OBJECT_NAME_INVALID),
        ("/etc/passwd", NtStatus.OBJECT_NAME_INVALID),
        ("\\\\server\\share\\x", NtStatus.OBJECT_NAME_INVALID),
        ("//server/share", NtStatus.OBJECT_NAME_INVALID),
        ("C:\\Windows", NtStatus.OBJECT_NAME_INVALID),
        ("c:x", NtStatus.OBJECT_NAME_INVALID),
        ("a\\\\b", NtStatus.OBJECT_NAME_INVALID),
        (".", NtStatus.OBJECT_NAME_INVALID),
        ("a\\.\\b", NtStatus.OBJECT_NAME_INVALID),
        ("a\x00b", NtStatus.OBJECT_NAME_INVALID),
        ("a\x1fb", NtStatus.OBJECT_NAME_INVALID),
        ("file.txt:secret", NtStatus.OBJECT_NAME_INVALID),
        ("file.txt:secret:$DATA", NtStatus.OBJECT_NAME_INVALID),
        ("dir::$DATA\\x", NtStatus.OBJECT_NAME_INVALID),
        ("::$DATA", NtStatus.OBJECT_NAME_INVALID),
        ("file::$INDEX_ALLOCATION", NtStatus.OBJECT_NAME_INVALID),
        ("a*b", NtStatus.OBJECT_NAME_INVALID),
        ("a?b", NtStatus.OBJECT_NAME_INVALID),
        ('a"b', NtStatus.OBJECT_NAME_INVALID),
        ("a<b", NtStatus.OBJECT_NAME_INVALID),
        ("a>b", NtStatus.OBJECT_NAME_INVALID),
        ("a|b", NtStatus.OBJECT_NAME_INVALID),
        ("trailing.", NtStatus.OBJECT_NAME_INVALID),
        ("trailing ", NtStatus.OBJECT_NAME_INVALID),
        ("...", NtStatus.OBJECT_NAME_INVALID),
        (".. ", NtStatus.OBJECT_NAME_INVALID),
        ("dir.\\x", NtStatus.OBJECT_NAME_INVALID),
        ("CON", NtStatus.OBJECT_NAME_INVALID),
        ("con.txt", NtStatus.OBJECT_NAME_INVALID),
        ("dir\\Nul.tar.gz", NtStatus.OBJECT_NAME_INVALID),
        ("lpt9", NtStatus.OBJECT_NAME_INVALID),
        ("COM1 .txt", NtStatus.OBJECT_NAME_INVALID),
        ("com\u00b9", NtStatus.OBJECT_NAME_INVALID),
        ("AUX", NtStatus.OBJECT_NAME_INVALID),
        ("prn.doc", NtStatus.OBJECT_NAME_INVALID),
        ("a" * 256, NtStatus.OBJECT_NAME_INVALID),
        ("\u00e9" * 128, NtStatus.OBJECT_NAME_INVALID),  # 256 UTF-8 bytes
        ("\\".join(["abcdefgh"] * 500), NtStatus.OBJECT_NAME_INVALID),
        ("bad\ud800surrogate", NtStatus.OBJECT_NAME_INVALID),
    ],
)
def test_split_refuses(path: str, status: NtStatus) -> None:
    assert status_of(path) == status


def test_leading_separator_only_when_allowed() -> None:
    assert split_smb_path("\\a\\b", allow_leading_separator=True) == ("a", "b")
    assert status_of("\\\\x\\y", allow_leading_separator=True) == NtStatus.OBJECT_NAME_INVALID
    assert status_of("\\..\\x", allow_leading_separator=True) == NtStatus.OBJECT_PATH_SYNTAX_BAD


def test_nfd_and_nfc_are_the_same_name() -> None:
    nfc = "caf\u00e9.txt"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    assert split_smb_path(nfd) == split_smb_path(nfc) == (nfc,)


def test_device_names() -> None:
    for name in ("CON", "con", "Con.txt", "NUL.", "LPT1.x.y", "CONIN$", "clock$"):
        assert is_device_name(name), name
    for name in ("CONSOLE", "nully", "COM", "LPT", "COM0x", "xCON"):
        assert not is_device_name(name), name


SEPARATOR_HEAVY = st.lists(
    st.one_of(
        st.sampled_from(["..", ".", "\\", "/", ":", "::$DATA", "CON", "\x00", "a", "é", " ", "*"]),
        st.text(max_size=12),
    ),
    max_size=30,
).map("".join)


@given(st.one_of(st.text(max_size=300), SEPARATOR_HEAVY, st.text(min_size=4000, max_size=5000)))
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_split_hostile_input_is_safe_or_refused(path: str) -> None:
    try:
        parts = split_smb_path(path)
    except NtStatusError:
        return
    for part in parts:
        assert part not in ("", ".", "..")
        assert not set(part) & set('\\/:*?"<>|\x00')
        assert part == unicodedata.normalize("NFC", part)
        assert len(part.encode()) <= 255


# -- resolution on a real folder --------------------------------------------


@pytest.fixture
def share(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    (root / "Docs" / "Sub").mkdir(parents=True)
    (root / "Docs" / "Report.TXT").write_text("r")
    (root / "Docs" / "Sub" / "deep.txt").write_text("d")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("s")
    return root


def test_resolve_case_insensitive(share: Path) -> None:
    got = resolve_in_share(share, split_smb_path("docs\\report.txt"))
    assert got == share.resolve() / "Docs" / "Report.TXT"
    got = resolve_in_share(share, split_smb_path("DOCS\\SUB\\DEEP.TXT"))
    assert got == share.resolve() / "Docs" / "Sub" / "deep.txt"


def test_resolve_missing_last_component_is_a_create_target(share: Path) -> None:
    assert resolve_in_share(share, ("docs", "new.txt")) == share.resolve() / "Docs" / "new.txt"


def test_resolve_missing_parent(share: Path) -> None:
    with pytest.raises(NtStatusError) as info:
        resolve_in_share(share, ("nope", "x.txt"))
    assert info.value.status == NtStatus.OBJECT_PATH_NOT_FOUND
    with pytest.raises(NtStatusError) as info:
        resolve_in_share(share, ("Docs", "Report.TXT", "x"))
    assert info.value.status == NtStatus.OBJECT_PATH_NOT_FOUND


def test_resolve_nfd_name_on_disk(share: Path) -> None:
    nfd = unicodedata.normalize("NFD", "r\u00e9sum\u00e9.txt")
    (share / nfd).write_text("x")
    got = resolve_in_share(share, split_smb_path("R\u00c9SUM\u00c9.TXT"))
    assert got == share.resolve() / nfd


@pytest.mark.parametrize("target", ["/etc", "/etc/passwd", "../outside", "../outside/secret.txt"])
def test_symlink_outside_is_denied(share: Path, target: str) -> None:
    (share / "link").symlink_to(target)
    for path in ("link", "link\\passwd", "LINK\\secret.txt"):
        with pytest.raises(NtStatusError) as info:
            resolve_in_share(share, split_smb_path(path))
        assert info.value.status in (NtStatus.ACCESS_DENIED,), path


def test_proc_magic_link_is_denied(share: Path) -> None:
    (share / "root").symlink_to("/proc/self/root")
    (share / "cwd").symlink_to("/proc/self/cwd")
    for path in ("root\\etc\\passwd", "cwd"):
        with pytest.raises(NtStatusError) as info:
            resolve_in_share(share, split_smb_path(path))
        assert info.value.status == NtStatus.ACCESS_DENIED


def test_symlink_inside_is_followed(share: Path) -> None:
    (share / "shortcut").symlink_to("Docs/Sub")
    got = resolve_in_share(share, split_smb_path("shortcut\\deep.txt"))
    assert got == share.resolve() / "Docs" / "Sub" / "deep.txt"
    (share / "Docs" / "up").symlink_to("..")
    assert resolve_in_share(share, split_smb_path("docs\\up\\docs")) == share.resolve() / "Docs"


def test_symlink_to_root_then_above_is_denied(share: Path) -> None:
    (share / "self").symlink_to(".")
    (share / "Docs" / "escape").symlink_to("../..")
    assert resolve_in_share(share, ("self", "Docs")) == share.resolve() / "Docs"
    with pytest.raises(NtStatusError):
        resolve_in_share(share, ("Docs", "escape", "outside"))


def test_symlink_loop_is_refused(share: Path) -> None:
    (share / "a").symlink_to("b")
    (share / "b").symlink_to("a")
    with pytest.raises(NtStatusError):
        resolve_in_share(share, ("a", "x"))


def test_share_root_that_is_a_symlink_is_refused(tmp_path: Path, share: Path) -> None:
    """A share folder swapped for a link would serve the link's target (issue 12 #7):
    the root is opened O_NOFOLLOW, so a link there is refused, wherever it points."""
    alias = tmp_path / "alias"
    alias.symlink_to(share)
    with pytest.raises(NtStatusError):
        ShareRoot(alias)
    with pytest.raises(NtStatusError):
        resolve_in_share(alias, ("docs",))


def test_share_root_reports_the_real_folder_it_holds(tmp_path: Path, share: Path) -> None:
    """What the descriptor names, not what the path said, so checks cannot be raced."""
    (tmp_path / "via").symlink_to(share.parent)
    sr = ShareRoot(tmp_path / "via" / share.name)
    try:
        assert sr.real == str(share.resolve())
    finally:
        sr.close()


def test_walk_never_follows_a_directory_swapped_for_a_symlink(share: Path) -> None:
    """The walk holds descriptors: swapping a checked folder for a link cannot redirect it."""
    sr = ShareRoot(share)
    try:
        loc = sr.locate(("Docs", "Sub", "deep.txt"))
        try:
            # Swap Docs for a link to the outside after the walk.
            (share / "Docs").rename(share / "Docs.real")
            (share / "Docs").symlink_to(share.parent / "outside")
            fd = loc.open(os.O_RDONLY)
            try:
                assert os.read(fd, 10) == b"d"  # still the file inside the share
            finally:
                os.close(fd)
        finally:
            loc.close()
        with pytest.raises(NtStatusError) as info:
            sr.locate(("Docs", "secret.txt"))
        assert info.value.status == NtStatus.ACCESS_DENIED
    finally:
        sr.close()


def test_name_index_sees_new_entries(share: Path) -> None:
    index = NameIndex(settle_ns=0)
    fd = os.open(share, os.O_PATH | os.O_DIRECTORY)
    try:
        assert index.find(fd, "docs") == ["Docs"]
        assert index.find(fd, "new") == []
        (share / "NEW").mkdir()
        assert index.find(fd, "new") == ["NEW"]
    finally:
        os.close(fd)


def test_name_index_bounded(tmp_path: Path) -> None:
    index = NameIndex(max_dirs=3)
    fds = []
    try:
        for i in range(6):
            d = tmp_path / f"d{i}"
            d.mkdir()
            fds.append(os.open(d, os.O_PATH | os.O_DIRECTORY))
            index.find(fds[-1], "x")
        assert len(index._dirs) == 3
    finally:
        for fd in fds:
            os.close(fd)


@given(path=st.one_of(SEPARATOR_HEAVY, st.text(max_size=80)))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_resolve_hostile_paths_stay_inside(share: Path, path: str) -> None:
    for name, target in (("etc", "/etc"), ("out", "../outside"), ("in", "Docs")):
        link = share / name
        if not link.is_symlink():
            link.symlink_to(target)
    try:
        parts = split_smb_path(path)
        got = resolve_in_share(share, parts)
    except NtStatusError:
        return
    real = share.resolve()
    assert got == real or real in got.parents
