"""TREE_CONNECT and TREE_DISCONNECT: share lookup and share-level access at connect time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_header import EMPTY_RESPONSE, simple_body
from peerwork.proto.smb2_tree import (
    ACCESS_MASK_CHANGE,
    ACCESS_MASK_FULL,
    ACCESS_MASK_READ,
    SHARE_TYPE_DISK,
    SHARE_TYPE_PIPE,
    SHAREFLAG_ENCRYPT_DATA,
    SHAREFLAG_MANUAL_CACHING,
    SHAREFLAG_NO_CACHING,
    TreeConnectRequest,
    TreeConnectResponse,
)
from peerwork.shares import Access

from . import protection
from .api import TreeView
from .outcome import Outcome

if TYPE_CHECKING:
    from .connection import Connection
    from .session import Session

log = logging.getLogger(__name__)

IPC_SHARE = "ipc$"

MAXIMAL_ACCESS = {
    Access.READ: ACCESS_MASK_READ,
    Access.CHANGE: ACCESS_MASK_CHANGE,
    Access.FULL: ACCESS_MASK_FULL,
}


def tree_connect(conn: Connection, session: Session, body: memoryview) -> Outcome:
    req = TreeConnectRequest.parse(body)
    name = req.share_name
    tid = session.new_tree_id()
    if name.lower() == IPC_SHARE:
        session.trees[tid] = TreeView(tid, None, Access.READ, True)
        resp = TreeConnectResponse(SHARE_TYPE_PIPE, SHAREFLAG_NO_CACHING, 0, ACCESS_MASK_FULL)
        return Outcome(NtStatus.SUCCESS, resp.pack(), tree_id=tid)
    share = conn.server.shares.get(name)
    if share is None:
        return Outcome(NtStatus.BAD_NETWORK_NAME)
    access = share.access_for(session.account)
    if access == Access.NONE:
        who = session.account or "anonymous"
        log.info("tree connect to %s refused for %s from %s", share.name, who, conn.peer)
        return Outcome(NtStatus.ACCESS_DENIED)
    flags = SHAREFLAG_MANUAL_CACHING
    if share.encrypt or conn.server.require_encryption:
        if not protection.can_encrypt(session):
            # What smbd answers a client that cannot encrypt (SMB 2.x, no cipher in
            # common, an anonymous logon) on a share that requires it.
            who = session.account or "anonymous"
            log.info(
                "tree connect to %s refused for %s from %s: the share requires encryption "
                "and this session cannot encrypt",
                share.name,
                who,
                conn.peer,
            )
            return Outcome(NtStatus.ACCESS_DENIED)
        flags |= SHAREFLAG_ENCRYPT_DATA
    try:
        fs = conn.server.fs_for(share)
    except NtStatusError as exc:
        log.warning("tree connect to %s refused: %s", share.name, exc.detail or exc)
        return Outcome(exc.status)
    session.trees[tid] = TreeView(tid, share, access, False, fs)
    resp = TreeConnectResponse(SHARE_TYPE_DISK, flags, 0, MAXIMAL_ACCESS[access])
    return Outcome(NtStatus.SUCCESS, resp.pack(), tree_id=tid)


def tree_disconnect(session: Session, tid: int, body: memoryview) -> Outcome:
    simple_body(body, "TREE_DISCONNECT")
    session.close_tree(tid)
    return Outcome(NtStatus.SUCCESS, EMPTY_RESPONSE, tree_id=tid)
