"""mutt (Debian's, GnuTLS) as a real IMAP client: STARTTLS with the peer certificate
pinned, list the inbox, read, flag, save to Trash, delete and expunge.

mutt is a full-screen program, so it runs in a private tmux server (its own socket,
ended with ``kill-server`` on that socket, which touches no other tmux) and the test
reads the screen with ``capture-pane`` and types with ``send-keys``.
"""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess
from tests.helpers.mail import mail_home, maildir_files, message, wait_until

USERS = {"bob": "bob-pw-2"}

pytestmark = pytest.mark.skipif(
    shutil.which("mutt") is None or shutil.which("tmux") is None,
    reason="mutt and tmux are Debian packages (make apt-deps)",
)


class Screen:
    def __init__(self, socket: Path, command: list[str]) -> None:
        self.socket = socket
        self._tmux("new-session", "-d", "-x", "100", "-y", "30", *command)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return done.stdout

    def text(self) -> str:
        return self._tmux("capture-pane", "-p")

    def wait_for(self, needle: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while needle not in (screen := self.text()):
            if time.monotonic() > deadline:
                raise AssertionError(f"mutt never showed {needle!r}; screen:\n{screen}")
            time.sleep(0.1)
        return screen

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], check=False, timeout=20)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS)
    with agent:
        yield agent, home


def test_mutt_reads_flags_saves_and_deletes(
    office: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    agent, home = office
    ports = agent.service("mail")["ports"]
    with smtplib.SMTP("127.0.0.1", int(ports["smtp"]), timeout=20) as smtp:
        for subject in ("lunch", "budget"):
            raw = message("alice@office.lan", "bob@office.lan", subject, f"about {subject}\n")
            smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw)
    wait_until(lambda: len(maildir_files(home, "bob")) == 2)
    url = f"imap://bob@127.0.0.1:{ports['imap']}/"
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(
        "set ssl_starttls=yes\nset ssl_force_tls=yes\n"
        f'set certificate_file="{home / "identity" / "peer.crt"}"\n'
        "set ssl_verify_host=no\n"  # the peer certificate names the peer, not 127.0.0.1
        f"set imap_user=bob\nset imap_pass={USERS['bob']}\n"
        f"set folder={url}\nset spoolfile=+INBOX\n"
        'set header_cache=""\nset move=no\nset confirmappend=no\n'
        "set delete=yes\nset quit=yes\nset wait_key=no\n"
        "set sort=subject\n"
    )
    screen = Screen(tmp_path / "tmux.sock", ["mutt", "-n", "-F", str(muttrc), "-f", url + "INBOX"])
    try:
        index = screen.wait_for("Msgs:2")
        assert "budget" in index and "lunch" in index
        # Sorted by subject: 1 is budget. Read it, flag it, then save lunch to Trash.
        screen.keys("Enter")
        screen.wait_for("about budget")
        screen.keys("q")
        screen.wait_for("Msgs:2")
        screen.keys("F", "j", "s")
        screen.wait_for("Save to mailbox")
        screen.keys("C-u", "=Trash", "Enter")
        screen.wait_for("Del:1")
        screen.keys("$")
        screen.wait_for("Msgs:1")
        screen.keys("q")
        wait_until(lambda: "Mutt" not in _safe_text(screen), 10, "mutt to quit")
    finally:
        screen.close()
    maildir = home / "mail" / "bob" / "Maildir"
    inbox = maildir_files(home, "bob")
    assert len(inbox) == 1 and inbox[0].name.endswith(":2,FS")  # flagged and seen
    assert b"Subject: budget" in inbox[0].read_bytes()
    trash = list((maildir / ".Trash" / "cur").iterdir())
    assert len(trash) == 1 and b"Subject: lunch" in trash[0].read_bytes()


def _safe_text(screen: Screen) -> str:
    try:
        return screen.text()
    except subprocess.CalledProcessError:
        return ""  # the session ended with mutt
