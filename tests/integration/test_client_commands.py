"""``peerwork browse/ls/get/put/rm/mkdir/rmdir/mv`` (pysmb) against a real SMB server.

Every test runs twice: against Samba's smbd (tests/helpers/smbd.py) and
against peerwork's own agent (``peerwork init``, ``user add``, ``agent``,
``share``: the way a user starts it), both on 127.0.0.1 and a free port.
Every command runs as a subprocess of the real ``peerwork`` entry point.

The large-copy test moves 256 MiB each way by default (a few seconds); set
``PEERWORK_BIG_COPY_MB=1024`` for the 1 GB version from issue 3.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.smbd import SambaServer, ShareSpec, free_port, smbd_available

PEERWORK = [sys.executable, "-m", "peerwork.cli.main"]
USER = "pwclient"
PASSWORD = "Cl1ent-Pass!"
RSS_LIMIT_MB = 200


@dataclass(frozen=True, slots=True)
class Server:
    port: int
    share_dir: Path  # "share": read and write for USER
    ro_dir: Path  # "ro": read only for USER

    def url(self, share: str = "share", path: str = "") -> str:
        base = f"//127.0.0.1:{self.port}/{share}"
        return f"{base}/{path}" if path else base


@contextmanager
def _smbd(share_dir: Path, ro_dir: Path) -> Iterator[int]:
    if not smbd_available():
        pytest.skip("Samba's smbd is not installed")
    shares: dict[str, Path | ShareSpec] = {
        "share": share_dir,
        "ro": ShareSpec(ro_dir, read=(USER,)),
    }
    with SambaServer(shares, users={USER: PASSWORD}) as smbd:
        yield smbd.port


@contextmanager
def _peerwork_agent(home: Path, share_dir: Path, ro_dir: Path) -> Iterator[int]:
    init_home(home, owner=USER, smb_port=free_port(), bind="127.0.0.1", discovery=False)
    peerwork(home, "user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
    with AgentProcess(home) as agent:
        peerwork(home, "share", str(share_dir), "--name", "share")
        peerwork(home, "share", str(ro_dir), "--name", "ro", "--grant", f"{USER}=read")
        yield agent.smb_port()


@pytest.fixture(scope="module", params=["smbd", "peerwork"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp(f"served-{request.param}")
    share_dir, ro_dir = root / "share", root / "ro"
    share_dir.mkdir()
    ro_dir.mkdir()
    (ro_dir / "readme.txt").write_text("read only\n")
    if request.param == "smbd":
        running = _smbd(share_dir, ro_dir)
    else:
        running = _peerwork_agent(root / "home", share_dir, ro_dir)
    with running as port:
        yield Server(port, share_dir, ro_dir)


def run(
    *args: str,
    password: str | None = PASSWORD,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 120,
    user: str = USER,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERWORK_")}
    env["PEERWORK_HOME"] = str(Path(cwd or ".").absolute() / ".pw-home-unused")
    if password is not None:
        env["PEERWORK_PASSWORD"] = password
    return subprocess.run(
        [*PEERWORK, *args, "--user", user],
        env=env,
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return result.stdout


def one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def make_file(path: Path, size: int) -> None:
    """Incompressible-looking content, fast: a random MiB with a counter per block."""
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        written, i = 0, 0
        while written < size:
            chunk = (i.to_bytes(8, "little") + block)[: min(1 << 20, size - written)]
            f.write(chunk)
            written += len(chunk)
            i += 1


# -- listing --------------------------------------------------------------


def test_browse_lists_shares(server: Server) -> None:
    out = ok(run("browse", f"127.0.0.1:{server.port}"))
    names = [line.split()[0] for line in out.splitlines()]
    assert "share" in names and "ro" in names
    assert "IPC$" not in names
    rows = json.loads(ok(run("browse", f"//127.0.0.1:{server.port}", "--json")))
    assert {r["name"] for r in rows} >= {"share", "ro"}
    assert all(r["type"] == "disk" for r in rows)
    # `ls` of a peer without a share lists its shares, like browse
    assert json.loads(ok(run("ls", f"//127.0.0.1:{server.port}", "--json"))) == rows


def test_ls_root_subfolder_and_json(server: Server) -> None:
    (server.share_dir / "lsdir").mkdir()
    (server.share_dir / "lsdir" / "one.txt").write_bytes(b"12345")
    out = ok(run("ls", server.url()))
    assert "lsdir/" in out
    rows = json.loads(ok(run("ls", server.url("share", "lsdir"), "--json")))
    assert rows == [
        {
            "name": "one.txt",
            "type": "file",
            "size": 5,
            "mtime": rows[0]["mtime"],
            "read_only": False,
        }
    ]


# -- copies and changes ---------------------------------------------------------


def test_put_get_round_trip(server: Server, tmp_path: Path) -> None:
    src = tmp_path / "report.bin"
    make_file(src, 3 * (1 << 20) + 17)
    ok(run("put", str(src), server.url("share", "report.bin"), "-q"))
    assert sha256(server.share_dir / "report.bin") == sha256(src)
    ok(run("get", server.url("share", "report.bin"), "back.bin", "-q", cwd=tmp_path))
    assert sha256(tmp_path / "back.bin") == sha256(src)
    assert not (tmp_path / "back.bin.part").exists()


def test_put_into_folder_keeps_name_and_get_into_folder(server: Server, tmp_path: Path) -> None:
    (server.share_dir / "inbox").mkdir()
    src = tmp_path / "memo.txt"
    src.write_text("memo\n")
    ok(run("put", str(src), server.url("share", "inbox")))
    assert (server.share_dir / "inbox" / "memo.txt").read_text() == "memo\n"
    dest = tmp_path / "down"
    dest.mkdir()
    ok(run("get", server.url("share", "inbox/memo.txt"), str(dest)))
    assert (dest / "memo.txt").read_text() == "memo\n"
    # a trailing slash names a folder: a missing one is an error, never a new file
    one_clear_line(run("get", server.url("share", "inbox/memo.txt"), f"{tmp_path}/nodir/"),
                   "no such local folder")  # fmt: skip
    assert not (tmp_path / "nodir").exists()
    one_clear_line(run("put", str(src), server.url("share", "nodir") + "/"), "no such folder")
    assert not (server.share_dir / "nodir").exists()


def test_password_from_stdin(server: Server) -> None:
    out = ok(run("ls", server.url(), "--password-stdin", password=None, stdin=PASSWORD + "\n"))
    assert out is not None


def test_mkdir_mv_rm_rmdir(server: Server) -> None:
    ok(run("mkdir", server.url("share", "work")))
    assert (server.share_dir / "work").is_dir()
    (server.share_dir / "work" / "a.txt").write_text("a")
    ok(run("mv", server.url("share", "work/a.txt"), "work/b.txt"))
    assert (server.share_dir / "work" / "b.txt").read_text() == "a"
    assert not (server.share_dir / "work" / "a.txt").exists()
    one_clear_line(run("rmdir", server.url("share", "work")), "not empty")
    ok(run("rm", server.url("share", "work/b.txt")))
    assert not (server.share_dir / "work" / "b.txt").exists()
    ok(run("rmdir", server.url("share", "work")))
    assert not (server.share_dir / "work").exists()


# -- bad input: one clear line, non-zero exit, nothing changed -------------------


def test_wrong_password(server: Server) -> None:
    line = one_clear_line(
        run("ls", server.url(), password="not-it"),
        f"logon failed for {USER} on 127.0.0.1:{server.port}: wrong user name or password",
    )
    assert "not-it" not in line


def test_missing_share(server: Server) -> None:
    one_clear_line(run("ls", server.url("nosuch")), "nosuch", "no such share")


def test_missing_file_leaves_nothing_behind(server: Server, tmp_path: Path) -> None:
    one_clear_line(
        run("get", server.url("share", "ghost.txt"), cwd=tmp_path), "ghost.txt", "no such file"
    )
    assert list(tmp_path.iterdir()) == []
    one_clear_line(run("rm", server.url("share", "ghost.txt")), "no such file")
    one_clear_line(run("ls", server.url("share", "ghost/dir")), "ghost")


def test_connection_refused() -> None:
    port = free_port()
    one_clear_line(run("ls", f"//127.0.0.1:{port}/share"), "connection refused")


@pytest.mark.parametrize(
    ("remote_path", "needle"),
    [
        ("../etc/passwd", ".."),
        ("a/../../x", ".."),
        ("..\\..\\x", ".."),
        ("file.txt:secret", "stream"),
        ("NUL", "device"),
        ("sub/com1.txt", "device"),
        ("*.txt", "not allowed"),
    ],
)
def test_escape_attempts_refused_before_connecting(
    remote_path: str, needle: str, tmp_path: Path
) -> None:
    # Nothing listens on this port: the refusal must come before any connection.
    port = free_port()
    for args in (
        ("get", f"//127.0.0.1:{port}/share/{remote_path}"),
        ("put", str(tmp_path / "x"), f"//127.0.0.1:{port}/share/{remote_path}"),
        ("rm", f"//127.0.0.1:{port}/share/{remote_path}"),
    ):
        (tmp_path / "x").write_text("x")
        one_clear_line(run(*args, cwd=tmp_path), needle)


def test_read_only_share_refuses_writes(server: Server, tmp_path: Path) -> None:
    before = sorted(p.name for p in server.ro_dir.iterdir())
    src = tmp_path / "new.txt"
    src.write_text("new\n")
    one_clear_line(run("put", str(src), server.url("ro", "new.txt")), "denied")
    one_clear_line(run("rm", server.url("ro", "readme.txt")), "denied")
    one_clear_line(run("mkdir", server.url("ro", "d")), "denied")
    one_clear_line(run("mv", server.url("ro", "readme.txt"), "r2.txt"), "denied")
    assert sorted(p.name for p in server.ro_dir.iterdir()) == before
    assert (server.ro_dir / "readme.txt").read_text() == "read only\n"
    ok(run("get", server.url("ro", "readme.txt"), cwd=tmp_path))


# -- resume -------------------------------------------------------------------------


def test_get_resumes_from_part_file(server: Server, tmp_path: Path) -> None:
    src = server.share_dir / "resume-get.bin"
    make_file(src, 5 * (1 << 20) + 3)
    data = src.read_bytes()
    (tmp_path / "resume-get.bin.part").write_bytes(data[: 2 * (1 << 20) + 11])
    res = run("get", server.url("share", "resume-get.bin"), cwd=tmp_path)
    assert "resumed at byte 2097163" in ok(res) + res.stderr
    assert sha256(tmp_path / "resume-get.bin") == sha256(src)


def test_get_starts_over_when_part_does_not_match(server: Server, tmp_path: Path) -> None:
    src = server.share_dir / "resume-bad.bin"
    make_file(src, 1 << 20)
    (tmp_path / "resume-bad.bin.part").write_bytes(b"\0" * 300_000)
    res = run("get", server.url("share", "resume-bad.bin"), cwd=tmp_path)
    assert "resumed" not in ok(res) + res.stderr
    assert sha256(tmp_path / "resume-bad.bin") == sha256(src)
    # --no-resume ignores even a matching .part.
    (tmp_path / "resume-bad.bin.part").write_bytes(src.read_bytes()[:4096])
    res = run("get", server.url("share", "resume-bad.bin"), "--no-resume", cwd=tmp_path)
    assert "resumed" not in ok(res) + res.stderr
    assert sha256(tmp_path / "resume-bad.bin") == sha256(src)


def test_put_resumes_from_its_part_file_and_never_mixes_versions(
    server: Server, tmp_path: Path
) -> None:
    src = tmp_path / "resume-put.bin"
    make_file(src, 4 * (1 << 20) + 5)
    part = server.share_dir / ".resume-put.bin.peerwork-part"
    part.write_bytes(src.read_bytes()[: 1 << 20])  # what an interrupted put leaves
    res = run("put", str(src), server.url("share", "resume-put.bin"))
    assert f"resumed at byte {1 << 20}" in ok(res) + res.stderr
    assert sha256(server.share_dir / "resume-put.bin") == sha256(src)
    assert not part.exists()
    # An existing remote file of the same size whose tail matches, but whose middle
    # differs, is replaced whole: put resumes only its own part files.
    old = bytearray(src.read_bytes())
    old[1000:1010] = b"0123456789"
    (server.share_dir / "resume-put.bin").write_bytes(bytes(old))
    res = run("put", str(src), server.url("share", "resume-put.bin"))
    assert "resumed" not in ok(res) + res.stderr
    assert sha256(server.share_dir / "resume-put.bin") == sha256(src)
    # A part file that differs is started over.
    part.write_bytes(b"x" * 100)
    res = run("put", str(src), server.url("share", "resume-put.bin"))
    assert "resumed" not in ok(res) + res.stderr
    assert sha256(server.share_dir / "resume-put.bin") == sha256(src)
    assert not part.exists()


@pytest.mark.slow
def test_get_killed_midway_then_resumed(server: Server, tmp_path: Path) -> None:
    src = server.share_dir / "killed.bin"
    make_file(src, 200 * (1 << 20))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERWORK_")}
    env["PEERWORK_PASSWORD"] = PASSWORD
    env["PEERWORK_HOME"] = str(tmp_path / ".pw-home-unused")
    proc = subprocess.Popen(
        [*PEERWORK, "get", server.url("share", "killed.bin"), "-q", "--user", USER],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    part = tmp_path / "killed.bin.part"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if part.exists() and part.stat().st_size >= 8 * (1 << 20):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=30)
    if proc.returncode == 0:
        pytest.skip("the copy finished before it could be interrupted")
    have = part.stat().st_size
    assert 0 < have < src.stat().st_size
    assert not (tmp_path / "killed.bin").exists()
    res = run("get", server.url("share", "killed.bin"), cwd=tmp_path)
    # The part file may end mid-write; either way the rerun must finish the copy.
    assert "resumed at byte" in ok(res) + res.stderr
    assert sha256(tmp_path / "killed.bin") == sha256(src)


# -- large copies stream with bounded memory ---------------------------------------------


def _run_measured(args: list[str], cwd: Path) -> tuple[int, float, str]:
    """Run the real CLI; return (exit status, peak RSS in MB of that child, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERWORK_")}
    env["PEERWORK_PASSWORD"] = PASSWORD
    env["PEERWORK_HOME"] = str(cwd / ".pw-home-unused")
    errf = cwd / "stderr.txt"
    with errf.open("w") as err:
        proc = subprocess.Popen(
            [*PEERWORK, *args, "--user", USER],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        # wait4 gives this one child's own rusage (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, errf.read_text()


@pytest.mark.slow
def test_large_get_and_put_stream_with_bounded_memory(server: Server, tmp_path: Path) -> None:
    size = int(os.environ.get("PEERWORK_BIG_COPY_MB", "256")) * (1 << 20)
    src = tmp_path / "big.bin"
    make_file(src, size)
    digest = sha256(src)

    code, rss_put, err = _run_measured(["put", str(src), server.url("share", "big.bin")], tmp_path)
    assert code == 0, err
    assert sha256(server.share_dir / "big.bin") == digest
    assert rss_put < RSS_LIMIT_MB, f"put peak RSS {rss_put:.0f} MB"

    src.unlink()
    code, rss_get, err = _run_measured(["get", server.url("share", "big.bin"), "big.bin"], tmp_path)
    assert code == 0, err
    assert sha256(tmp_path / "big.bin") == digest
    assert rss_get < RSS_LIMIT_MB, f"get peak RSS {rss_get:.0f} MB"
    print(f"{size >> 20} MiB: peak RSS put {rss_put:.0f} MB, get {rss_get:.0f} MB")
    (server.share_dir / "big.bin").unlink()


def test_anonymous_logon_with_an_empty_user(server: Server, tmp_path: Path) -> None:
    """--user '' logs on anonymously: only what `anonymous` may (nothing on these shares)."""
    res = run("ls", server.url(), user="", password=None)
    assert res.returncode == 1
    assert "anonymous" in res.stderr and "Traceback" not in res.stderr
