"""IMAP end to end with Python's imaplib: mail sent through SMTP (smtplib, swaks), read,
flagged, searched, copied, moved, expunged and appended over IMAP; POP3 on the same
Maildir sees the same bytes.

Each test starts a real agent with ``[mail]`` on loopback ports.
"""

from __future__ import annotations

import base64
import email
import email.policy
import imaplib
import re
import shutil
import smtplib
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from peerwork.control import ControlClient
from tests.helpers.agent import AgentProcess
from tests.helpers.mail import mail_home, maildir_files, message, wait_until

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS)
    agent.start()
    try:
        yield agent, home
    finally:
        agent.stop()


def ports(agent: AgentProcess) -> dict[str, int]:
    return {k: int(v) for k, v in agent.service("mail")["ports"].items()}


def imap_logon(port: int, user: str, password: str) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the peer certificate is self-signed
    imap.starttls(ctx)
    imap.login(user, password)
    return imap


def send(agent: AgentProcess, raw: bytes, to: str = "bob@office.lan") -> None:
    with smtplib.SMTP("127.0.0.1", ports(agent)["smtp"], timeout=20) as smtp:
        assert smtp.sendmail("alice@office.lan", [to], raw) == {}


def deliver(agent: AgentProcess, home: Path, raws: list[bytes], account: str = "bob") -> None:
    before = len(maildir_files(home, account))
    for raw in raws:
        send(agent, raw, f"{account}@office.lan")
    wait_until(lambda: len(maildir_files(home, account)) == before + len(raws))


def with_attachment(subject: str, payload: bytes) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "alice@office.lan", "bob@office.lan", subject
    msg.set_content("see the attachment\n")
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename="report.pdf")
    return msg.as_bytes()


def fetch_one(imap: imaplib.IMAP4, number: bytes, items: str) -> list[object]:
    typ, data = imap.fetch(number, items)
    assert typ == "OK", data
    return data


def test_logon_needs_tls_and_right_password(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    port = ports(agent)["imap"]
    plain = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    assert "LOGINDISABLED" in plain.capabilities and "STARTTLS" in plain.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        plain.login("bob", USERS["bob"])
    plain.logout()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap_logon(port, "bob", "wrong")
    imap = imap_logon(port, "bob", USERS["bob"])
    assert "AUTH=PLAIN" not in imap.capabilities or imap.state == "AUTH"
    typ, _ = imap.select("INBOX")
    assert typ == "OK"
    imap.logout()
    # AUTHENTICATE PLAIN (SASL) works too.
    other = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    other.starttls(ctx)
    typ, _ = other.authenticate("PLAIN", lambda _: b"\0alice\0" + USERS["alice"].encode())
    assert typ == "OK"
    other.logout()


def test_read_flag_search_copy_move_expunge(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    pdf = b"%PDF-1.4 " + bytes(range(256)) * 40
    raws = [
        message("alice@office.lan", "bob@office.lan", "lunch", "pizza at noon\n"),
        message("alice@office.lan", "bob@office.lan", "budget", "numbers attached\n"),
        with_attachment("report", b"%PDF-1.4 " + bytes(range(256)) * 40),
    ]
    deliver(agent, home, raws)
    imap = imap_logon(ports(agent)["imap"], "bob", USERS["bob"])
    typ, boxes = imap.list()
    names = {re.sub(rb'.* "\." "?([^"]*)"?$', rb"\1", b).decode() for b in boxes}  # type: ignore[arg-type]
    assert {"INBOX", "Sent", "Trash", "Drafts"} <= names
    typ, data = imap.select("INBOX")
    assert typ == "OK" and data == [b"3"]
    # Headers only (PEEK): nothing becomes seen. Same-second deliveries have no set order.
    data = fetch_one(imap, b"1:3", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    heads = [part for part in data if isinstance(part, tuple)]
    number = {h[1].decode().removeprefix("Subject: ").strip(): h[0].split()[0] for h in heads}
    assert sorted(number) == ["budget", "lunch", "report"]
    assert all(h[1].endswith(b"\r\n\r\n") for h in heads)
    typ, unseen = imap.search(None, "UNSEEN")
    assert unseen == [b"1 2 3"]
    # The whole message, byte for byte as sent; reading it marks it \Seen.
    data = fetch_one(imap, number["report"], "(RFC822.SIZE BODY[])")
    assert data[0][1] == raws[2]  # type: ignore[index]
    assert f"RFC822.SIZE {len(raws[2])}".encode() in data[0][0]  # type: ignore[index]
    typ, unseen = imap.search(None, "UNSEEN")
    assert sorted(unseen[0].split()) == sorted([number["lunch"], number["budget"]])  # type: ignore[union-attr]
    # Structure and a part by number: the attachment is there as it was sent.
    data = fetch_one(imap, number["report"], "(BODYSTRUCTURE BODY.PEEK[2])")
    head = data[0][0]  # type: ignore[index]
    assert b'("APPLICATION" "PDF" NIL NIL NIL "BASE64" ' in head
    assert b'("ATTACHMENT" ("filename" "report.pdf"))' in head
    assert base64.b64decode(data[0][1]) == pdf  # type: ignore[index]
    # Partial fetch and ENVELOPE.
    data = fetch_one(imap, number["lunch"], "(ENVELOPE BODY.PEEK[]<0.10>)")
    assert data[0][1] == raws[0][:10]  # type: ignore[index]
    assert b'"lunch"' in data[0][0]  # type: ignore[index]
    # Flags, searches.
    typ, _ = imap.store(number["budget"], "+FLAGS", "(\\Flagged)")
    assert imap.search(None, "FLAGGED")[1] == [number["budget"]]
    assert imap.search(None, "SUBJECT", "lunch")[1] == [number["lunch"]]
    assert imap.search(None, "BODY", "NUMBERS")[1] == [number["budget"]]
    assert imap.search(None, "OR", "FROM", "alice", "LARGER", "100000")[1] == [b"1 2 3"]
    typ, uids = imap.uid("SEARCH", "SUBJECT", "budget")
    budget_uid = uids[0]
    # COPY to Trash keeps the original; MOVE takes it away (UIDPLUS codes).
    typ, data = imap.copy(number["lunch"], "Trash")
    assert typ == "OK" and b"COPYUID" in data[0]  # type: ignore[operator]
    typ, data = imap.uid("MOVE", budget_uid, "Sent")
    assert typ == "OK"
    assert imap.select("INBOX")[1] == [b"2"]
    # Delete and expunge.
    lunch = imap.search(None, "SUBJECT", "lunch")[1][0]
    imap.store(lunch, "+FLAGS", "(\\Deleted)")
    typ, data = imap.expunge()
    assert data == [lunch]
    assert imap.select("INBOX")[1] == [b"1"]
    status = imap.status("Trash", "(MESSAGES UIDNEXT UNSEEN)")[1][0]
    assert b"MESSAGES 1" in status  # type: ignore[operator]
    sent = imap.select("Sent")
    assert sent[1] == [b"1"]
    assert imap.search(None, "FLAGGED")[1] == [b"1"]  # the flag moved with it
    imap.logout()
    # What IMAP did is on disk: one message left in the inbox, read over IMAP, and the
    # agent's own view of the Maildir (the control route) agrees.
    assert len(maildir_files(home, "bob")) == 1
    listed = ControlClient(home / "agent.sock").get("/mail/inbox/bob")["messages"]
    assert [(m["subject"], m["seen"]) for m in listed] == [("report", True)]


def test_append_create_rename_delete(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    imap = imap_logon(ports(agent)["imap"], "alice", USERS["alice"])
    assert imap.create("Projects")[0] == "OK"
    assert imap.create("Projects.2026")[0] == "OK"
    raw = message("alice@office.lan", "carol@example.com", "draft", "not sent yet\n")
    typ, data = imap.append("Projects.2026", "(\\Draft \\Seen)", None, raw)
    assert typ == "OK" and b"APPENDUID" in data[0]  # type: ignore[operator]
    assert imap.append("Nowhere", None, None, raw)[0] == "NO"
    assert imap.rename("Projects.2026", "Archive")[0] == "OK"
    imap.select("Archive")
    data = fetch_one(imap, b"1", "(FLAGS BODY.PEEK[])")
    assert data[0][1] == raw  # type: ignore[index]
    assert b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0]  # type: ignore[index]
    imap.close()
    assert imap.delete("Archive")[0] == "OK"
    typ, boxes = imap.list()
    assert not any(b"Archive" in b for b in boxes)  # type: ignore[operator]
    assert imap.lsub()[0] == "OK"
    imap.logout()
    assert (home / "mail" / "alice" / "Maildir" / ".Projects" / "cur").is_dir()


def test_idle_sees_new_mail(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    imap = imap_logon(ports(agent)["imap"], "bob", USERS["bob"])
    imap.select("INBOX")
    tag = imap._new_tag().decode()  # type: ignore[attr-defined]
    imap.send(f"{tag} IDLE\r\n".encode())
    assert imap.readline().startswith(b"+")
    sender = threading.Timer(0.3, send, (agent, message("a@office.lan", "bob@office.lan", "x")))
    sender.start()
    line = imap.readline()
    sender.join()
    assert line == b"* 1 EXISTS\r\n"
    imap.send(b"DONE\r\n")
    deadline = time.monotonic() + 10
    while not (line := imap.readline()).startswith(tag.encode()):
        assert time.monotonic() < deadline
    assert b"OK" in line
    imap.logout()


def test_swaks_mail_byte_identical_over_imap_and_pop3(
    office: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed (make apt-deps)")
    agent, home = office
    p = ports(agent)
    body = tmp_path / "msg.eml"
    body.write_bytes(with_attachment("from swaks", b"\x00\xffbinary" * 2000))
    subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(p["smtp"]), "--from",
         "alice@office.lan", "--to", "bob@office.lan", "--data", f"@{body}", "--silent", "2"],
        check=True,
        timeout=60,
    )  # fmt: skip
    wait_until(lambda: len(maildir_files(home, "bob")) == 1)
    stored = maildir_files(home, "bob")[0].read_bytes()
    imap = imap_logon(p["imap"], "bob", USERS["bob"])
    imap.select("INBOX", readonly=True)
    over_imap = fetch_one(imap, b"1", "(BODY.PEEK[])")[0][1]  # type: ignore[index]
    imap.logout()
    import poplib

    pop = poplib.POP3("127.0.0.1", p["pop3"], timeout=20)
    pop.user("bob")
    pop.pass_(USERS["bob"])
    over_pop = b"\r\n".join(pop.retr(1)[1]) + b"\r\n"
    pop.quit()
    assert over_imap == stored == over_pop
    # swaks puts its own CRLF before the final dot: that line end is part of what it sent.
    assert stored == body.read_bytes() + b"\r\n"


def test_pop3_and_imap_at_once(office: tuple[AgentProcess, Path]) -> None:
    """A POP3 client's listing stays good while an IMAP client moves and flags the files."""
    import poplib

    agent, home = office
    p = ports(agent)
    raws = [message("alice@office.lan", "bob@office.lan", s, f"{s}\n") for s in ("one", "two")]
    deliver(agent, home, raws)
    pop = poplib.POP3("127.0.0.1", p["pop3"], timeout=20)
    pop.user("bob")
    pop.pass_(USERS["bob"])
    assert pop.stat()[0] == 2
    imap = imap_logon(p["imap"], "bob", USERS["bob"])
    imap.select("INBOX")  # new/ -> cur/
    imap.store(b"1:2", "+FLAGS", "(\\Flagged)")  # renamed again: :2,F
    imap.logout()
    fetched = sorted(b"\r\n".join(pop.retr(i)[1]) + b"\r\n" for i in (1, 2))
    assert fetched == sorted(raws)
    pop.dele(1)
    pop.quit()
    assert len(maildir_files(home, "bob")) == 1
