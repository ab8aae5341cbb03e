"""The seam between the SMB2 connection core and the per-command handlers.

The core (``server.py``/``connection.py``: framing, negotiate, session setup,
signing, credits, compounding, tree connect) parses each request's 64-byte
header, finds the session and tree, and calls the handler registered for the
command with a :class:`Request`. The handler returns a :class:`Reply`; the core
builds the response header, signs it and sends it. Handlers never touch
sockets, and the core never touches files.

File-command handlers live in their own modules (``cmd_create.py``,
``cmd_readwrite.py``, ``cmd_directory.py``, ``cmd_info.py``, …) and register
with :func:`handler`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from peerwork.sharefs import ShareFS
    from peerwork.shares import Access, Share

    from .connection import Connection

# SMB2 command codes (MS-SMB2 2.2.1).
NEGOTIATE = 0x00
SESSION_SETUP = 0x01
LOGOFF = 0x02
TREE_CONNECT = 0x03
TREE_DISCONNECT = 0x04
CREATE = 0x05
CLOSE = 0x06
FLUSH = 0x07
READ = 0x08
WRITE = 0x09
LOCK = 0x0A
IOCTL = 0x0B
CANCEL = 0x0C
ECHO = 0x0D
QUERY_DIRECTORY = 0x0E
CHANGE_NOTIFY = 0x0F
QUERY_INFO = 0x10
SET_INFO = 0x11
OPLOCK_BREAK = 0x12


def command_name(cmd: int) -> str:
    """``READ`` for 0x08: for log lines."""
    for name, value in globals().items():
        if name.isupper() and value == cmd and name != "COMPOUND_FILE_ID":
            return name
    return f"command 0x{cmd:02x}"


# FileId whose both halves are all ones: "the file opened earlier in this compound".
COMPOUND_FILE_ID = b"\xff" * 16


@dataclass(slots=True)
class SessionView:
    """What handlers may know about the session that sent a request."""

    session_id: int
    account: str | None  # None for an anonymous or guest session
    is_guest: bool
    is_anonymous: bool


@dataclass(slots=True)
class TreeView:
    """One tree connect: a share (or IPC$) with the access this session has on it.

    ``opens`` maps a 16-byte FileId to whatever object the file handlers keep for
    an open; the core closes them (calling ``close()`` on each) on tree
    disconnect, logoff and connection loss.
    """

    tree_id: int
    share: Share | None  # None for IPC$
    access: Access
    is_ipc: bool
    # The share's file store, shared by every tree on that share (None for IPC$).
    fs: ShareFS | None = None
    # FileOpen (opens.py) or PipeOpen (pipes.py); anything with close() may live here.
    opens: dict[bytes, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Request:
    command: int
    message_id: int
    flags: int
    body: memoryview  # this command's bytes after its 64-byte header
    session: SessionView | None
    tree: TreeView | None
    # FileId of the previous CREATE in a related compound, substituted for COMPOUND_FILE_ID.
    compound_file_id: bytes | None
    dialect: int
    max_read: int
    max_write: int
    max_transact: int
    # The connection the request came on (its negotiated state; .server for the
    # server-wide services: pipes for IPC$, share registry, server GUID).
    server: Connection


@dataclass(slots=True)
class Reply:
    """``status`` is an NTSTATUS; an error status with an empty body gets the
    standard 9-byte SMB2 ERROR response from the core. ``body`` may be a list of
    buffers (header-less), sent without joining (large READ responses).
    ``file_id`` is set by CREATE so the core can serve related compounds."""

    status: int
    body: bytes | memoryview | list[bytes | memoryview] = b""
    file_id: bytes | None = None


Handler = Callable[[Request], Awaitable[Reply]]
HANDLERS: dict[int, Handler] = {}

H = TypeVar("H", bound=Handler)


def handler(command: int) -> Callable[[H], H]:
    """Register ``async def fn(req: Request) -> Reply`` for an SMB2 command code;
    returns ``fn`` unchanged (same type), so it stays directly callable in tests.
    A later registration for the same command replaces the earlier one."""

    def register(fn: H) -> H:
        HANDLERS[command] = fn
        return fn

    return register
