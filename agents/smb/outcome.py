"""What a command handled by the connection core comes to: its answer before the
header is built, or the end of the connection."""

from __future__ import annotations

from dataclasses import dataclass

from peerwork.proto.smb2_signing import Signer

from .sender import OnSent

Body = bytes | memoryview | list[bytes | memoryview]


class DropConnection(Exception):
    """The client broke the protocol in a way that ends the connection (MS-SMB2 says so)."""


@dataclass(slots=True)
class Outcome:
    """The answer to one command, before it gets its header."""

    status: int
    body: Body = b""
    session_id: int = 0
    tree_id: int = 0
    signer: Signer | None = None
    # Called with the response's bytes as they leave (the 3.1.1 preauth hash).
    on_sent: OnSent | None = None
