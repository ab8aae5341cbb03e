"""The terminal UI against a real agent (``peerwork agent`` subprocess, temp home,
unprivileged ports on 127.0.0.1), driven by textual's Pilot.

What the UI did is proved by other real clients: smbclient lists and uses the share
the UI created with the grants chosen in its form, and logs on with the account the
UI added; a file copied from a second agent's share arrives byte for byte.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, DirectoryTree, Input, ProgressBar, Select

from peerwork.tui.app import make_app
from peerwork.tui.screens.accounts import PasswordForm
from peerwork.tui.screens.dialogs import ConfirmDialog, FormDialog
from peerwork.tui.screens.share_form import FolderPicker, ShareForm
from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.tui import screen_text, table_rows, type_into, wait_for

# alice owns the PC (a new share gives her full access unless the form says otherwise).
PASSWORDS = {"alice": "al1ce-pw", "bob": "b0b-pw", "carl": "c4rl-pw"}
BIG = 256 * 1024 * 1024


@pytest.fixture
def office(tmp_path: Path) -> Iterator[AgentProcess]:
    home = tmp_path / "home"
    init_home(home)
    for user, pw in PASSWORDS.items():
        peerwork(home, "user", "add", user, "--password-stdin", input=f"{pw}\n")
    with AgentProcess(home) as agent:
        yield agent


def smbclient(port: int, share: str, auth: list[str], command: str) -> str:
    """``smbclient //127.0.0.1/SHARE -c COMMAND``; an empty share lists the shares (-L)."""
    where = ["-L", "//127.0.0.1"] if not share else [f"//127.0.0.1/{share}", "-c", command]
    res = subprocess.run(
        ["smbclient", *where, "-p", str(port), *auth],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return res.stdout + res.stderr


async def test_share_a_folder_then_smbclient_uses_it(office: AgentProcess, tmp_path: Path) -> None:
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "plan.txt").write_text("the plan\n")
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected, what="connected")
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "shares")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareForm))
        # The folder picker: choose the folder's parent's child by keyboard.
        await type_into(pilot, "#path", str(tmp_path))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, FolderPicker), what="picker")
        tree = app.screen.query_one(DirectoryTree)
        await wait_for(pilot, lambda: tree.last_line >= 1, what="folders listed")
        node = next(
            (n for n in tree._tree_nodes.values() if n.data and n.data.path == folder), None
        )
        assert node is not None, "the folder is listed"
        tree.focus()
        tree.move_cursor(node)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareForm), what="back to the form")
        assert app.screen.query_one("#path", Input).value == str(folder)
        await type_into(pilot, "#name", "Team")
        await type_into(pilot, "#comment", "made in the TUI")
        app.screen.query_one("#grant-everyone", Select).value = "read"
        app.screen.query_one("#grant-bob", Select).value = "change"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ShareForm), what="form closed")
        table = app.screen.query_one("#shares", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="share listed")
        row = table_rows(table)[0]
        assert row[0] == "Team"
        assert "bob=change" in row[2] and "everyone=read" in row[2] and "alice=full" in row[2]
    port = office.smb_port()
    # Real client: bob may write, carl (everyone=read) may only read, anonymous nothing.
    (tmp_path / "up.txt").write_text("from bob\n")
    out = smbclient(
        port, "Team", ["-U", f"bob%{PASSWORDS['bob']}"], f"put {tmp_path}/up.txt up.txt"
    )
    assert (folder / "up.txt").read_text() == "from bob\n", out
    out = smbclient(port, "Team", ["-U", f"carl%{PASSWORDS['carl']}"], "ls")
    assert "plan.txt" in out
    out = smbclient(
        port, "Team", ["-U", f"carl%{PASSWORDS['carl']}"], f"put {tmp_path}/up.txt a.txt"
    )
    assert "NT_STATUS_ACCESS_DENIED" in out or "NT_STATUS_MEDIA_WRITE_PROTECTED" in out
    assert not (folder / "a.txt").exists()
    assert "NT_STATUS" in smbclient(port, "Team", ["-N"], "ls")
    listed = smbclient(port, "", ["-U", f"alice%{PASSWORDS['alice']}"], "")
    assert "Team" in listed and "made in the TUI" in listed


async def test_edit_grants_and_remove_share(office: AgentProcess, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    peerwork(office.home, "share", str(folder), "--grant", "everyone=read")
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("3")
        table = app.screen.query_one("#shares", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareForm))
        app.screen.query_one("#grant-alice", Select).value = "full"
        app.screen.query_one("#grant-everyone", Select).value = "none"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ShareForm))
        await wait_for(pilot, lambda: "alice=full" in table_rows(table)[0][2], what="new grants")
        shown = peerwork(office.home, "shares").stdout
        assert "alice=full" in shown and "everyone=none" in shown
        # Remove: asked first; "n" keeps it, "y" removes it.
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await pilot.pause(0.3)
        assert "docs" in peerwork(office.home, "shares").stdout
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 0, what="share gone")
    assert "No shares yet" in peerwork(office.home, "shares").stdout
    assert folder.is_dir()


async def test_bad_share_input_changes_nothing(office: AgentProcess, tmp_path: Path) -> None:
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("3")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareForm))
        form = app.screen
        error = form.query_one("#form-error")
        cases = [
            (str(tmp_path), "bad/name", "contains '/'"),
            (str(tmp_path), "x" * 81, "longer than 80"),
            (str(tmp_path / "missing"), "Gone", "missing"),
            (str(office.home), "Secrets", "state folder"),  # the agent refuses its own home
            ("", "Empty", "give the folder"),
        ]
        for path, name, expected in cases:
            await type_into(pilot, "#path", path)
            await type_into(pilot, "#name", name)
            await pilot.press("ctrl+s")
            await wait_for(
                pilot,
                lambda e=expected: e in str(error.render()),
                what=f"error {expected!r} for {name!r}: {error.render()}",
            )
            assert app.screen is form  # the form stays open with the agent's message
        await pilot.press("escape")
    assert "No shares yet" in peerwork(office.home, "shares").stdout


async def test_accounts_add_password_remove(office: AgentProcess, tmp_path: Path) -> None:
    folder = tmp_path / "pub"
    folder.mkdir()
    (folder / "hello.txt").write_text("hi\n")
    peerwork(office.home, "share", str(folder), "--grant", "everyone=read")
    port = office.smb_port()
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("4")
        table = app.screen.query_one("#accounts", DataTable)
        await wait_for(pilot, lambda: table.row_count == len(PASSWORDS))
        # Add carol; a mismatched password and a bad name are refused in the form first.
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordForm))
        form = app.screen
        await type_into(pilot, "#field-name", "bad name!")
        await type_into(pilot, "#field-password", "c4rol-pw")
        await type_into(pilot, "#field-again", "c4rol-pw")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.screen is form and "name" in str(form.query_one("#form-error").render())
        await type_into(pilot, "#field-name", "carol")
        await type_into(pilot, "#field-again", "other")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.screen is form and "differ" in str(form.query_one("#form-error").render())
        await type_into(pilot, "#field-again", "c4rol-pw")
        # An existing name: the agent refuses, the form stays open with its message.
        await type_into(pilot, "#field-name", "bob")
        await pilot.press("enter")
        error = form.query_one("#form-error")
        await wait_for(
            pilot, lambda: "exists" in str(error.render()), what=lambda: str(error.render())
        )
        assert app.screen is form
        await type_into(pilot, "#field-name", "carol")
        await pilot.press("enter")
        await wait_for(pilot, lambda: ["carol"] in table_rows(table), what="carol listed")
        assert "hello.txt" in smbclient(port, "pub", ["-U", "carol%c4rol-pw"], "ls")
        # Change carol's password: the old one stops working, the new one works.
        table.move_cursor(row=[r[0] for r in table_rows(table)].index("carol"))
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordForm))
        await type_into(pilot, "#field-password", "n3w-pw")
        await type_into(pilot, "#field-again", "n3w-pw")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormDialog))
        await wait_for(
            pilot,
            lambda: "hello.txt" in smbclient(port, "pub", ["-U", "carol%n3w-pw"], "ls"),
            what="new password works",
        )
        assert "NT_STATUS_LOGON_FAILURE" in smbclient(port, "pub", ["-U", "carol%c4rol-pw"], "ls")
        # Remove carol after confirming.
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: ["carol"] not in table_rows(table), what="carol gone")
    assert "NT_STATUS_LOGON_FAILURE" in smbclient(port, "pub", ["-U", "carol%n3w-pw"], "ls")


async def test_agent_not_running_then_started_then_dies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    app = make_app(home, retry=0.2)
    agent = AgentProcess(home)
    async with app.run_test(size=(80, 24)) as pilot:
        says = ("No peerwork agent is running", "Start it in another terminal", "peerwork --home")
        await wait_for(
            pilot,
            lambda: all(s in screen_text(pilot) for s in says),
            what=f"offline screen saying {says}",
        )
        assert app.current_mode == "offline"
        attempts = app.attempts
        await wait_for(pilot, lambda: app.attempts > attempts + 2, what="it retries")
        # Screens wait for the agent: a switch key says so and stays.
        await pilot.press("3")
        assert app.current_mode == "offline"
        try:
            agent.start()
            await wait_for(pilot, lambda: app.connected, what="connected once started")
            assert app.current_mode == "shares"  # the screen asked for while offline
            agent.stop()
            await wait_for(pilot, lambda: app.current_mode == "offline", what="agent died")
            agent.start()
            await wait_for(pilot, lambda: app.connected, what="reconnected")
            assert app.current_mode == "shares"
            # Live again: a share added from the CLI shows up without a key press.
            folder = tmp_path / "live"
            folder.mkdir()
            peerwork(home, "share", str(folder))
            table = app.screen.query_one("#shares", DataTable)
            await wait_for(pilot, lambda: table.row_count == 1, what="live update")
        finally:
            agent.stop()


async def test_every_screen_survives_small_terminal_and_long_names(
    office: AgentProcess, tmp_path: Path
) -> None:
    long = "n" * 80
    folder = tmp_path / ("deep-" * 30)
    folder.mkdir()
    peerwork(office.home, "share", str(folder), "--name", long, "--comment", "c" * 300)
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        for key in "12345678":
            await pilot.press(key)
            await pilot.pause(0.2)
            for size in ((40, 12), (20, 6), (200, 60), (80, 24)):
                await pilot.resize_terminal(*size)
                await pilot.pause(0.1)
        await pilot.press("3")
        await pilot.resize_terminal(40, 12)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareForm))
        await pilot.pause(0.2)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        await wait_for(pilot, lambda: long[:10] in screen_text(pilot), what="long name shown")
    assert app.return_code in (None, 0)


async def test_command_palette_switches_screens(office: AgentProcess) -> None:
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Go to Accounts")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "accounts", what="palette switch")
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "command palette" in screen_text(pilot), what="help shown")


@pytest.fixture
def second_pc(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    """Another PC's agent (on loopback: reached as //127.0.0.1:PORT) sharing ``files``."""
    home = tmp_path / "pc2"
    init_home(home, name="PC2")
    peerwork(home, "user", "add", "bob", "--password-stdin", input=f"{PASSWORDS['bob']}\n")
    files = tmp_path / "pc2-files"
    (files / "sub").mkdir(parents=True)
    (files / "report.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    with (files / "big.bin").open("wb") as big:  # sparse: instant to make, slow to copy
        big.truncate(BIG)
    (files / "[bold red]odd [x].txt").write_text("markup in a name\n")  # must show as it is
    (files / "many").mkdir()
    for i in range(3000):
        (files / "many" / f"file-{i:05d}.txt").write_text(str(i))
    readonly = tmp_path / "pc2-readonly"
    readonly.mkdir()
    (readonly / "keep.txt").write_text("keep me\n")
    with AgentProcess(home) as agent:
        peerwork(home, "share", str(files), "--name", "files", "--grant", "bob=change")
        peerwork(home, "share", str(readonly), "--name", "readonly", "--grant", "everyone=read")
        yield agent, files


async def test_browse_copy_in_and_out(
    office: AgentProcess, second_pc: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    agent2, files = second_pc
    where = f"127.0.0.1:{agent2.smb_port()}"
    local = tmp_path / "local"
    local.mkdir()
    upload = tmp_path / "upload.txt"
    upload.write_text("from the TUI\n")
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("5")
        await pilot.press("o")
        await type_into(pilot, "#location", f"//{where}")
        await pilot.press("enter")
        # Credentials asked: a wrong password is refused and asked again.
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="logon asked")
        await type_into(pilot, "#field-user", "bob")
        await type_into(pilot, "#field-password", "wrong")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="asked again")
        await type_into(pilot, "#field-user", "bob")
        await type_into(pilot, "#field-password", PASSWORDS["bob"])
        await pilot.press("enter")
        table = app.screen.query_one("#entries", DataTable)
        await wait_for(
            pilot, lambda: sorted(r[0] for r in table_rows(table)) == ["files/", "readonly/"]
        )
        table.move_cursor(row=[r[0] for r in table_rows(table)].index("files/"))
        await pilot.press("enter")  # open the share
        await wait_for(pilot, lambda: any(r[0] == "report.bin" for r in table_rows(table)))
        assert any(r[0] == "[bold red]odd [x].txt" for r in table_rows(table))
        # Copy report.bin here.
        table.move_cursor(row=[r[0] for r in table_rows(table)].index("report.bin"))
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        await type_into(pilot, "#field-folder", str(local))
        await pilot.press("enter")
        await wait_for(pilot, lambda: (local / "report.bin").exists(), what="copied")
        await wait_for(pilot, lambda: not app.screen.query_one("#progress").display)
        assert (local / "report.bin").read_bytes() == (files / "report.bin").read_bytes()
        # Copy a file there, make a folder, delete the file (after confirming).
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        await type_into(pilot, "#field-file", str(upload))
        await pilot.press("enter")
        await wait_for(pilot, lambda: (files / "upload.txt").exists(), what="uploaded")
        assert (files / "upload.txt").read_text() == "from the TUI\n"
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        await type_into(pilot, "#field-name", "made-here")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (files / "made-here").is_dir(), what="folder made")
        await wait_for(pilot, lambda: any(r[0] == "upload.txt" for r in table_rows(table)))
        table.move_cursor(row=[r[0] for r in table_rows(table)].index("upload.txt"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: not (files / "upload.txt").exists(), what="deleted")
        # A folder of 3,000 files: listed, and the cursor reaches the end at once.
        await wait_for(pilot, lambda: any(r[0] == "many/" for r in table_rows(table)))
        table.move_cursor(row=[r[0] for r in table_rows(table)].index("many/"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 3001, what="3000 files listed")
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.cursor_row == 3000, what="cursor at the end")
        await wait_for(pilot, lambda: "file-02999.txt" in screen_text(pilot), what="end shown")
        await pilot.press("backspace")
        await wait_for(pilot, lambda: any(r[0] == "many/" for r in table_rows(table)))


async def test_browse_bad_input_says_so(office: AgentProcess) -> None:
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("5")
        status = app.screen.query_one("#browse-status")
        for text, expected in (
            ("/etc/passwd", "write a remote path as //PEER"),
            ("//127.0.0.1:1/bad:name", "not a valid share name"),
            ("//127.0.0.1:1/x", "refused"),
        ):
            await pilot.press("o")
            await type_into(pilot, "#location", text)
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda e=expected: isinstance(app.screen, FormDialog) or e in str(status.render()),
            )
            if isinstance(app.screen, FormDialog):  # an address asks for a logon first
                await type_into(pilot, "#field-password", "x")
                await pilot.press("enter")
            await wait_for(
                pilot,
                lambda e=expected: e in str(status.render()),
                what=lambda t=text: f"{t}: {status.render()} / {screen_text(pilot)}",
            )


async def test_browse_copy_shows_progress_and_cancels(
    office: AgentProcess, second_pc: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    agent2, _files = second_pc
    local = tmp_path / "local"
    local.mkdir()
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("5", "o")
        await type_into(pilot, "#location", f"//127.0.0.1:{agent2.smb_port()}/files")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="logon asked")
        await type_into(pilot, "#field-user", "bob")
        await type_into(pilot, "#field-password", PASSWORDS["bob"])
        await pilot.press("enter")
        table = app.screen.query_one("#entries", DataTable)
        await wait_for(pilot, lambda: any(r[0] == "big.bin" for r in table_rows(table)))
        table.move_cursor(row=[r[0] for r in table_rows(table)].index("big.bin"))
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        await type_into(pilot, "#field-folder", str(local))
        await pilot.press("enter")
        bar = app.screen.query_one("#progress", ProgressBar)
        await wait_for(pilot, lambda: (bar.progress or 0) > 0, what="progress shown")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not bar.display, what="copy stopped")
        part = local / "big.bin.part"
        assert not (local / "big.bin").exists()
        assert part.exists() and part.stat().st_size < BIG
        # Again: it resumes from the .part and completes (the session reconnects).
        await wait_for(pilot, lambda: table.row_count > 0)
        table.focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        await type_into(pilot, "#field-folder", str(local))
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: (local / "big.bin").exists(), within=120, what="copy completed"
        )
    assert (local / "big.bin").stat().st_size == BIG


async def test_mail_screen_lists_the_owners_inbox(tmp_path: Path) -> None:
    import smtplib

    from tests.helpers.mail import mail_home, mail_ports, maildir_files, message, wait_until

    agent = mail_home(tmp_path / "home", {"alice": PASSWORDS["alice"], "bob": PASSWORDS["bob"]})
    with agent:
        smtp_port, _pop3 = mail_ports(agent)
        app = make_app(agent.home)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("7")
            inbox = app.screen.query_one("#inbox", DataTable)
            await wait_for(pilot, lambda: inbox.display, what="inbox shown")
            assert inbox.row_count == 0
            raw = message("bob@office.lan", "alice@office.lan", "Lunch at noon?")
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
                smtp.sendmail("bob@office.lan", ["alice@office.lan"], raw)
            wait_until(lambda: maildir_files(agent.home, "alice"))
            await pilot.press("r")
            await wait_for(pilot, lambda: inbox.row_count == 1, what="message listed")
            assert table_rows(inbox)[0][:2] == ["bob@office.lan", "Lunch at noon?"]


async def test_print_a_file_from_the_printers_screen(tmp_path: Path) -> None:
    from tests.helpers.ipp import TINY_PDF, finished_files, printer_home
    from tests.helpers.mail import wait_until

    out = tmp_path / "out"
    out.mkdir()
    home = tmp_path / "home"
    printer_home(home, out)
    pdf = tmp_path / "budget.pdf"
    pdf.write_bytes(TINY_PDF)
    (tmp_path / "notes.txt").write_text("plain text")
    with AgentProcess(home):
        app = make_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.connected)
            await pilot.press("6")
            jobs = app.screen.query_one("#jobs", DataTable)
            await wait_for(pilot, lambda: jobs.display, what="queue shown")
            for path, printer in ((tmp_path / "notes.txt", "office"), (pdf, "nope")):
                await pilot.press("p")  # refused: not a printable format / no such printer
                await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
                await type_into(pilot, "#field-file", str(path))
                await type_into(pilot, "#field-printer", printer)
                await pilot.press("enter")
                await pilot.pause(0.5)
            assert jobs.row_count == 0 and not finished_files(out)
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
            await type_into(pilot, "#field-file", str(pdf))
            await pilot.press("enter")
            await wait_for(pilot, lambda: jobs.row_count == 1, what="job in the queue")
            assert table_rows(jobs)[0][1] == "office" and table_rows(jobs)[0][4] == "budget.pdf"
        wait_until(lambda: finished_files(out), what="the job in the backend folder")
    assert [p.name for p in finished_files(out)] == ["000001-budget.pdf"]
    assert finished_files(out)[0].read_bytes() == TINY_PDF


async def test_browse_permission_errors_are_shown_and_change_nothing(
    office: AgentProcess, second_pc: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    agent2, files = second_pc
    keep = files.parent / "pc2-readonly" / "keep.txt"
    upload = tmp_path / "upload.txt"
    upload.write_text("not allowed\n")
    app = make_app(office.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("5", "o")
        await type_into(pilot, "#location", f"//127.0.0.1:{agent2.smb_port()}/readonly")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="logon asked")
        await type_into(pilot, "#field-user", "bob")
        await type_into(pilot, "#field-password", PASSWORDS["bob"])
        await pilot.press("enter")
        table = app.screen.query_one("#entries", DataTable)
        await wait_for(pilot, lambda: any(r[0] == "keep.txt" for r in table_rows(table)))
        table.move_cursor(row=[r[0] for r in table_rows(table)].index("keep.txt"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        status = app.screen.query_one("#browse-status")
        await wait_for(pilot, lambda: "denied" in str(status.render()), what="denial shown")
        assert keep.read_text() == "keep me\n"
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        status.update("")
        await type_into(pilot, "#field-file", str(upload))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "denied" in str(status.render()), what="denial shown")
    assert sorted(p.name for p in keep.parent.iterdir()) == ["keep.txt"]
