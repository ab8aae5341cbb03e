"""Per-session state: who logged on, its signing and encryption keys, and its tree connects."""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

from peerwork.proto.smb2_signing import Signer
from peerwork.proto.smb2_transform import Opener, Sealer
from peerwork.proto.spnego_server import SpnegoServer
from peerwork.shares import Op

from .api import SessionView, TreeView

log = logging.getLogger(__name__)

# Async closes still running (kept referenced so they are not garbage-collected mid-way).
_closing: set[asyncio.Future[Any]] = set()


@dataclass(slots=True)
class Session:
    session_id: int
    spnego: SpnegoServer | None = None  # set while a logon is in progress
    # When the logon began (the LogonGuard's clock): an unfinished one expires.
    started: float = 0.0
    # The logon failed and its answer is being held back (throttling): not usable,
    # but still counted against the connection's pending-logon cap until answered.
    failing: bool = False
    authenticated: bool = False
    account: str | None = None
    anonymous: bool = False
    signer: Signer | None = None
    signing_required: bool = False
    # SMB 3.x: what seals the server's messages and opens the client's (None: the
    # connection negotiated no cipher, or the logon is anonymous).
    sealer: Sealer | None = None
    opener: Opener | None = None
    # Every request must arrive encrypted ([files] require_encryption).
    encrypt_data: bool = False
    # SMB 3.1.1: the preauth integrity hash of this logon's exchange so far.
    preauth: bytes = field(default=b"", repr=False)
    trees: dict[int, TreeView] = field(default_factory=dict)
    _next_tree: int = 1

    @property
    def view(self) -> SessionView:
        return SessionView(self.session_id, self.account, False, self.anonymous)

    @property
    def can_sign(self) -> bool:
        return self.authenticated and self.signer is not None

    def new_tree_id(self) -> int:
        tid = self._next_tree
        self._next_tree += 1
        return tid

    def close_tree(self, tree_id: int) -> None:
        tree = self.trees.pop(tree_id, None)
        if tree is not None:
            close_opens(tree)

    def close_all(self) -> None:
        for tid in list(self.trees):
            self.close_tree(tid)


def close_opens(tree: TreeView) -> None:
    """Close every open of a tree; one failing close must not keep the others open.

    A delete asked for while the grant allowed it does not happen if the tree's
    grant (as last refreshed) no longer allows deleting."""
    opens: dict[bytes, Any] = tree.opens
    may_delete = tree.access.allows(Op.DELETE)
    while opens:
        _fid, obj = opens.popitem()
        withdraw = getattr(obj, "withdraw_delete", None)
        if withdraw is not None and not may_delete:
            try:
                withdraw()
            except Exception:
                log.exception("withdrawing a delete-on-close failed")
        close = getattr(obj, "close", None)
        if close is None:
            continue
        try:
            result = close()
            if inspect.isawaitable(result):
                # An async close (a handler's open may flush in a thread): let it finish.
                fut = asyncio.ensure_future(result)
                _closing.add(fut)
                fut.add_done_callback(_closed)
        except Exception:
            log.exception("closing an open file failed")


def _closed(fut: asyncio.Future[Any]) -> None:
    _closing.discard(fut)
    # Retrieve the outcome here: an exception nobody asked for would be reported by
    # the garbage collector at a random later moment.
    if not fut.cancelled() and fut.exception() is not None:
        log.error("closing an open file failed", exc_info=fut.exception())
