"""The agent and the CLI as a user runs them: init, agent, status, share, users."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from peerwork.control import ControlClient
from tests.helpers.agent import PEERWORK, AgentProcess, init_home, peerwork


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    init_home(h)
    peerwork(h, "user", "add", "alice", "--password-stdin", input="secret\n")
    return h


def test_init_twice_changes_nothing(home: Path) -> None:
    before = {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    res = peerwork(home, "init", "--workgroup", "other")
    assert "already initialised" in res.stdout
    after = {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    assert before == after


def test_status_lists_services_with_real_ports(home: Path) -> None:
    with AgentProcess(home) as agent:
        status = json.loads(peerwork(home, "status", "--json").stdout)  # as a user sees it
        assert status["agent"] == "running"
        assert status["peer"]["name"] == "PC1" and status["peer"]["workgroup"] == "OFFICE"
        files = agent.service("files")
        assert files["state"] == "running", files
        port = files["ports"]["smb"]
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert agent.service("discovery")["state"] == "disabled"
        text = peerwork(home, "status").stdout
        assert f"smb:{port}" in text and "running" in text


def test_control_socket_is_private_and_clean_stop_removes_it(home: Path) -> None:
    agent = AgentProcess(home)
    agent.start()
    sock = home / "agent.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert agent.stop() == 0, agent.log_text()[-4000:]
    assert not sock.exists()
    assert "stopping" in agent.log_text()


def test_second_agent_on_same_home_is_refused(home: Path) -> None:
    with AgentProcess(home):
        res = subprocess.run(
            [*PEERWORK, "--home", str(home), "agent"], capture_output=True, text=True, timeout=30
        )
        assert res.returncode != 0
        assert "already using" in res.stderr


def test_port_in_use_fails_files_only_until_it_is_free(home: Path, tmp_path: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    text = (home / "peerwork.toml").read_text().replace("port = 0", f"port = {port}")
    (home / "peerwork.toml").write_text(text)
    try:
        with AgentProcess(home, args=["--retry", "0.5"]) as agent:
            files = agent.service("files")
            assert files["state"] == "failed"
            assert "address already in use" in files["reason"]
            assert "failed: address already in use" in peerwork(home, "status").stdout
            # the rest of the agent keeps working
            (tmp_path / "docs").mkdir()
            peerwork(home, "share", str(tmp_path / "docs"))
            assert "docs" in peerwork(home, "shares").stdout
            # a retry while the port is still taken fails again (and says so) ...
            deadline = time.monotonic() + 15
            while "still failing" not in agent.log_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert agent.service("files")["state"] == "failed"
            # ... and once the port is free, the agent's retry brings the file service up
            blocker.close()
            deadline = time.monotonic() + 15
            while agent.service("files")["state"] != "running" and time.monotonic() < deadline:
                time.sleep(0.2)
            assert agent.service("files")["ports"] == {"smb": port}
    finally:
        blocker.close()


def test_corrupt_config_names_the_line(home: Path) -> None:
    cfg = home / "peerwork.toml"
    lines = cfg.read_text().splitlines()
    lines[4] = "name = = oops"
    cfg.write_text("\n".join(lines) + "\n")
    res = peerwork(home, "agent", check=False)
    assert res.returncode == 1
    assert "line 5" in res.stderr and "peerwork.toml" in res.stderr


def test_share_bad_input_changes_nothing(home: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "file.txt").write_text("x")
    with AgentProcess(home):
        peerwork(home, "share", str(tmp_path / "docs"), "--grant", "everyone=read")
        before = (home / "peerwork.toml").read_bytes()
        cases = [
            (["share", str(tmp_path / "missing")], "does not exist"),
            (["share", str(tmp_path / "file.txt")], "not a folder"),
            (["share", str(tmp_path / "docs")], "already exists"),
            (["share", str(tmp_path / "docs"), "--name", "DOCS"], "already exists"),
            (
                ["share", str(tmp_path / "docs"), "--name", "x", "--grant", "bob=write"],
                "unknown access",
            ),
            (["share", str(tmp_path / "docs"), "--name", "a/b"], "contains '/'"),
            (["share", str(home)], "overlaps peerwork's own state"),
            (["share", str(home / "identity")], "overlaps peerwork's own state"),
            (["share", "/"], "overlaps peerwork's own state"),
            (["share", str(tmp_path / "docs"), "--name", ".."], "is not a name"),
            (["unshare", "nope"], "no share named"),
            (["share-set", "nope", "--grant", "bob=read"], "no share named"),
            (["user", "add", "alice", "--password-stdin"], "already exists"),
        ]
        for args, message in cases:
            res = peerwork(home, *args, check=False, input="pw\n")
            assert res.returncode != 0, args
            assert message in res.stderr, (args, res.stderr)
        assert (home / "peerwork.toml").read_bytes() == before


def test_share_lifecycle_persists(home: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    with AgentProcess(home):
        out = peerwork(home, "share", str(tmp_path / "docs"), "--grant", "everyone=read").stdout
        assert "alice=full" in out and "everyone=read" in out and "anonymous=none" in out
        res = peerwork(home, "share-set", "docs", "--grant", "bob=change", "--comment", "Office")
        (tmp_path / "docs" / "inner").mkdir()
        res_inner = peerwork(home, "share", str(tmp_path / "docs" / "inner"))
        assert "also reachable through share 'docs'" in res_inner.stderr
        peerwork(home, "unshare", "inner")
        assert "no account 'bob' yet" in res.stderr
        listed = json.loads(peerwork(home, "shares", "--json").stdout)["shares"]
        assert listed == [
            {
                "name": "docs",
                "path": str((tmp_path / "docs").resolve()),
                "comment": "Office",
                "grants": {"alice": "full", "bob": "change", "everyone": "read"},
                "encrypt": False,
                "anonymous": "none",
                "warnings": [],
                "problem": "",
            }
        ]
    # persisted: visible with no agent running, and again after a restart
    assert "bob=change" in peerwork(home, "shares").stdout
    with AgentProcess(home):
        assert "bob=change" in peerwork(home, "shares").stdout
        peerwork(home, "unshare", "DOCS")
        assert "No shares" in peerwork(home, "shares").stdout
    assert (tmp_path / "docs").is_dir()


def test_api_errors_are_json(home: Path) -> None:
    with AgentProcess(home):
        client = ControlClient(home / "agent.sock")
        from peerwork.errors import InvalidInput, NotFound

        with pytest.raises(NotFound, match="no share named"):
            client.get("/shares/missing")
        with pytest.raises(InvalidInput, match="'path'"):
            client.post("/shares", {"grants": []})
        with pytest.raises(InvalidInput, match="must be absolute"):
            client.post("/shares", {"path": "docs"})
        import http.client

        conn = http.client.HTTPConnection("localhost")
        conn.sock = socket.socket(socket.AF_UNIX)
        conn.sock.connect(str(home / "agent.sock"))
        conn.request(
            "POST", "/v1/shares", body=b"{not json", headers={"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        assert resp.status == 400
        assert json.loads(resp.read()) == {
            "error": "invalid",
            "message": "the request body is not valid JSON",
        }


def test_event_stream_reports_changes(home: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    with AgentProcess(home):
        seen: list[tuple[str, dict[str, object]]] = []

        def listen() -> None:
            for kind, payload in ControlClient(home / "agent.sock").events():
                seen.append((kind, payload))
                if kind == "share-removed":
                    return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        time.sleep(0.5)
        peerwork(home, "share", str(tmp_path / "docs"))
        peerwork(home, "unshare", "docs")
        thread.join(15)
        kinds = [k for k, _ in seen]
        assert kinds[-2:] == ["share-added", "share-removed"], seen
        assert seen[-1][1]["name"] == "docs"


def test_users_through_agent_and_without(home: Path) -> None:
    peerwork(home, "user", "add", "bob", "--password-stdin", input="pw1\n")
    with AgentProcess(home):
        peerwork(home, "user", "passwd", "bob", "--password-stdin", input="pw2\n")
        peerwork(home, "user", "add", "carol", "--password-stdin", input="pw3\n")
        names = [
            a["name"] for a in json.loads(peerwork(home, "users", "--json").stdout)["accounts"]
        ]
        assert names == ["alice", "bob", "carol"]
        peerwork(home, "user", "del", "carol")
    assert peerwork(home, "users").stdout.split() == ["alice", "bob"]
    log = (home / "agent.log").read_text()
    assert "pw2" not in log and "pw3" not in log


def test_foreground_share_serves_until_interrupted(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hello.txt").write_text("hello\n")
    proc = subprocess.Popen(
        [*PEERWORK, "--home", str(home), "share", str(docs), "--grant", "everyone=read"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            res = peerwork(home, "status", "--json", check=False)
            if res.returncode == 0:
                status = json.loads(res.stdout)
                break
            time.sleep(0.1)
        assert status is not None, proc.stderr.read() if proc.stderr else ""
        assert status["foreground_share"] is True
        port = next(s for s in status["services"] if s["name"] == "files")["ports"]["smb"]
        res = subprocess.run(
            ["smbclient", "//127.0.0.1/docs", "-p", str(port), "-U", "alice%secret", "-c", "ls"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "hello.txt" in res.stdout, res.stdout + res.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "smbclient //" in out and "smb://" in out and "\\\\" in out
    # nothing was written to the config: it was a one-off share
    assert "[[share]]" not in (home / "peerwork.toml").read_text().split("# grants =")[-1]
    assert (docs / "hello.txt").exists()


def _smbclient(port: int, unc: str, auth: str, cmd: str) -> str:
    res = subprocess.run(
        ["smbclient", unc, "-p", str(port), "-U", auth, "-c", cmd],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return res.stdout + res.stderr


def test_changes_take_effect_without_restart(home: Path, tmp_path: Path) -> None:
    """smbclient sees shares, grants and accounts change while the agent keeps running."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("a\n")
    with AgentProcess(home) as agent:
        port = agent.smb_port()
        unc = "//127.0.0.1/docs"
        assert "NT_STATUS_BAD_NETWORK_NAME" in _smbclient(port, unc, "alice%secret", "ls")
        peerwork(home, "share", str(docs), "--grant", "alice=read")
        assert "a.txt" in _smbclient(port, unc, "alice%secret", "ls")
        up = tmp_path / "up.txt"
        up.write_text("up\n")
        assert "NT_STATUS_ACCESS_DENIED" in _smbclient(
            port, unc, "alice%secret", f"put {up} up.txt"
        )
        assert not (docs / "up.txt").exists()
        peerwork(home, "share-set", "docs", "--grant", "alice=change")
        _smbclient(port, unc, "alice%secret", f"put {up} up.txt")
        # revoking alice's entry leaves her with everyone's grant (none): refused at once
        assert "alice=" not in peerwork(home, "share-set", "docs", "--revoke", "alice").stdout
        assert "NT_STATUS_ACCESS_DENIED" in _smbclient(port, unc, "alice%secret", "ls")
        # everyone means every account that logs on: no password-less access in it
        res = peerwork(home, "share-set", "docs", "--grant", "everyone=change")
        assert "without any password" not in res.stderr
        res = peerwork(home, "share-set", "docs", "--grant", "anonymous=change")
        assert "without any password" in res.stderr and "anonymous=change" in res.stdout
        peerwork(home, "share-set", "docs", "--grant", "alice=change", "--grant", "everyone=none",
                 "--grant", "anonymous=none")  # fmt: skip
        assert (docs / "up.txt").read_text() == "up\n"
        # a new account logs on at once; a changed password replaces the old one at once
        assert "NT_STATUS_LOGON_FAILURE" in _smbclient(port, unc, "dave%pw-d", "ls")
        peerwork(home, "user", "add", "dave", "--password-stdin", input="pw-d\n")
        peerwork(home, "share-set", "docs", "--grant", "dave=read")
        assert "a.txt" in _smbclient(port, unc, "dave%pw-d", "ls")
        peerwork(home, "user", "passwd", "dave", "--password-stdin", input="pw-e\n")
        assert "NT_STATUS_LOGON_FAILURE" in _smbclient(port, unc, "dave%pw-d", "ls")
        assert "a.txt" in _smbclient(port, unc, "dave%pw-e", "ls")
        peerwork(home, "user", "del", "dave")
        assert "NT_STATUS_LOGON_FAILURE" in _smbclient(port, unc, "dave%pw-e", "ls")
        peerwork(home, "unshare", "docs")
        assert "NT_STATUS_BAD_NETWORK_NAME" in _smbclient(port, unc, "alice%secret", "ls")


def test_hand_edits_while_running_are_kept_and_reloadable(home: Path, tmp_path: Path) -> None:
    docs, hand = tmp_path / "docs", tmp_path / "hand"
    docs.mkdir()
    hand.mkdir()
    (hand / "h.txt").write_text("by hand\n")
    cfg = home / "peerwork.toml"
    with AgentProcess(home) as agent:
        port = agent.smb_port()
        cfg.write_text(
            cfg.read_text()
            + f'\n# added by hand\n[[share]]\nname = "hand"\npath = "{hand}"\n'
            + 'grants = { alice = "read" }\n'
        )
        # a CLI edit while the agent runs keeps the hand edit
        peerwork(home, "share", str(docs))
        assert "# added by hand" in cfg.read_text() and 'name = "hand"' in cfg.read_text()
        # and `peerwork reload` serves it without a restart
        assert "NT_STATUS_BAD_NETWORK_NAME" in _smbclient(
            port, "//127.0.0.1/hand", "alice%secret", "ls"
        )
        assert "share hand: added" in peerwork(home, "reload").stdout
        assert "h.txt" in _smbclient(port, "//127.0.0.1/hand", "alice%secret", "ls")
        # SIGHUP does the same; a changed port is reported as needing a restart
        text = cfg.read_text().replace('grants = { alice = "read" }', 'grants = { alice = "none" }')
        cfg.write_text(text.replace("port = 0", "port = 1"))
        assert agent.proc is not None
        agent.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        out = ""
        while "NT_STATUS_ACCESS_DENIED" not in out and time.monotonic() < deadline:
            out = _smbclient(port, "//127.0.0.1/hand", "alice%secret", "ls")
            time.sleep(0.2)
        assert "NT_STATUS_ACCESS_DENIED" in out
        assert "restart the agent to apply" in agent.log_text()
        res = peerwork(home, "reload")
        assert "[files] changed: restart the agent" in res.stderr


def test_a_shared_folder_that_disappears(home: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    with AgentProcess(home) as agent:
        port = agent.smb_port()
        peerwork(home, "share", str(gone))
        gone.rmdir()
        assert "NT_STATUS_BAD_NETWORK_NAME" in _smbclient(
            port, "//127.0.0.1/gone", "alice%secret", "ls"
        )
        assert "not served:" in peerwork(home, "shares").stdout
        assert "no longer exists" in agent.log_text()
        gone.mkdir()
        (gone / "back.txt").write_text("back\n")
        assert "back.txt" in _smbclient(port, "//127.0.0.1/gone", "alice%secret", "ls")
        assert "not served" not in peerwork(home, "shares").stdout


def test_a_hand_written_share_of_the_home_is_not_served(home: Path) -> None:
    cfg = home / "peerwork.toml"
    cfg.write_text(cfg.read_text() + f'\n[[share]]\nname = "oops"\npath = "{home.parent}"\n'
                   'grants = { alice = "read" }\n')  # fmt: skip
    with AgentProcess(home) as agent:
        port = agent.smb_port()
        out = _smbclient(port, "//127.0.0.1/oops", "alice%secret", "get accounts.toml /dev/null")
        assert "NT_STATUS_BAD_NETWORK_NAME" in out
        assert "overlaps peerwork's own state" in peerwork(home, "shares").stdout
        assert "share oops not served" in agent.log_text()


def test_broken_accounts_file_keeps_logons_working_and_is_repaired(
    home: Path, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    with AgentProcess(home) as agent:
        port = agent.smb_port()
        peerwork(home, "share", str(tmp_path / "docs"), "--grant", "alice=read")
        accounts = home / "accounts.toml"
        accounts.write_text(accounts.read_text() + "\ngarbage = = [\n")
        out = _smbclient(port, "//127.0.0.1/docs", "alice%secret", "ls")
        assert "blocks available" in out, out
        assert "accounts.toml" in peerwork(home, "status").stdout
        # A change repairs it: the broken file is kept aside, nothing held is lost.
        peerwork(home, "user", "add", "zed", "--password-stdin", input="pw\n")
        assert [p.read_text() for p in home.glob("accounts.toml.broken-*")] != []
        out = _smbclient(port, "//127.0.0.1/docs", "alice%secret", "ls")
        assert "blocks available" in out, out
        # zed logs on (no grant on docs: the tree connect, not the logon, is refused).
        out = _smbclient(port, "//127.0.0.1/docs", "zed%pw", "ls")
        assert "NT_STATUS_ACCESS_DENIED" in out, out


def test_foreground_share_fails_clearly_when_it_cannot_serve(home: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    cfg = home / "peerwork.toml"
    cfg.write_text(cfg.read_text().replace("port = 0", f"port = {port}"))
    try:
        res = peerwork(home, "share", str(tmp_path / "docs"), "--grant", "ghost=read", check=False)
    finally:
        blocker.close()
    assert res.returncode == 1
    assert "cannot serve docs: address already in use" in res.stderr
    assert "until Ctrl-C" not in res.stdout


def test_share_while_the_agent_is_still_starting(home: Path, tmp_path: Path) -> None:
    from peerwork.home import HomeLock

    (tmp_path / "docs").mkdir()
    agent = AgentProcess(home)
    with (home / "agent.log").open("ab") as log:
        agent.proc = subprocess.Popen(
            [*PEERWORK, "--home", str(home), "agent"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        lock = HomeLock(home / "agent.lock")
        deadline = time.monotonic() + 10
        while not lock.is_held() and time.monotonic() < deadline:
            time.sleep(0.01)
        # the agent holds its home but may not answer yet: share must wait for it,
        # not start a foreground server of its own
        out = peerwork(home, "share", str(tmp_path / "docs")).stdout
        assert out.startswith("Sharing "), out
    finally:
        assert agent.stop() == 0, agent.log_text()[-4000:]
