"""IOCTL: pipe transceive (RPC over IPC$) and VALIDATE_NEGOTIATE_INFO; other FSCTLs refused."""

from __future__ import annotations

import hashlib
import logging

from peerwork.proto.ntstatus import NtStatus
from peerwork.proto.smb2_ioctl import (
    FSCTL_CREATE_OR_GET_OBJECT_ID,
    FSCTL_DFS_GET_REFERRALS,
    FSCTL_PIPE_TRANSCEIVE,
    FSCTL_QUERY_NETWORK_INTERFACE_INFO,
    FSCTL_SRV_COPYCHUNK,
    FSCTL_SRV_COPYCHUNK_WRITE,
    FSCTL_SRV_REQUEST_RESUME_KEY,
    FSCTL_VALIDATE_NEGOTIATE_INFO,
    IOCTL_IS_FSCTL,
    IoctlRequest,
    ValidateNegotiateInfo,
    ioctl_response,
    validate_negotiate_response,
)
from peerwork.proto.smb2_negotiate import choose_dialect

from . import api, pipes
from .api import Reply, Request
from .opens import find_open, resolve_file_id
from .outcome import DropConnection

log = logging.getLogger(__name__)

_NOT_SUPPORTED = frozenset(
    {
        FSCTL_SRV_COPYCHUNK,
        FSCTL_SRV_COPYCHUNK_WRITE,
        FSCTL_SRV_REQUEST_RESUME_KEY,
        FSCTL_QUERY_NETWORK_INTERFACE_INFO,
    }
)


@api.handler(api.IOCTL)
async def ioctl(req: Request) -> Reply:
    io = IoctlRequest.parse(req.body)
    if not io.flags & IOCTL_IS_FSCTL:
        return Reply(NtStatus.NOT_SUPPORTED)
    if io.ctl_code == FSCTL_PIPE_TRANSCEIVE:
        if req.tree is None or not req.tree.is_ipc:
            return Reply(NtStatus.INVALID_DEVICE_REQUEST)
        status, out = pipes.transceive(req, io.file_id, io.input, io.max_output)
        return Reply(status, ioctl_response(io.ctl_code, io.file_id, out))
    if io.ctl_code == FSCTL_VALIDATE_NEGOTIATE_INFO:
        return _validate_negotiate(req, io)
    if io.ctl_code == FSCTL_DFS_GET_REFERRALS:
        return Reply(NtStatus.NOT_FOUND)
    # Every other FSCTL names an open: an unknown or closed FileId is FILE_CLOSED first.
    find_open(req, io.file_id)
    if io.ctl_code == FSCTL_CREATE_OR_GET_OBJECT_ID:
        return Reply(NtStatus.SUCCESS, ioctl_response(io.ctl_code, io.file_id, _object_id(req, io)))
    if io.ctl_code in _NOT_SUPPORTED:
        return Reply(NtStatus.NOT_SUPPORTED)
    return Reply(NtStatus.INVALID_DEVICE_REQUEST)


def _object_id(req: Request, io: IoctlRequest) -> bytes:
    """FILE_OBJECTID_BUFFER: a stable ObjectId per open file, the server GUID as volume."""
    fid = resolve_file_id(req, io.file_id)
    object_id = hashlib.sha256(fid).digest()[:16]
    volume = req.server.server.guid
    return object_id + volume + object_id + b"\x00" * 16


def _validate_negotiate(req: Request, io: IoctlRequest) -> Reply:
    conn = req.server
    info = ValidateNegotiateInfo.parse(io.input)
    # A mismatch means a man in the middle altered the NEGOTIATE (dropped the best
    # dialects to force an older one, or changed what the client offered): the client
    # signs this request with keys the attacker lacks, so it tells the truth. End the
    # connection, as MS-SMB2 3.3.5.15.12 says.
    dialect = choose_dialect(info.dialects)
    if (
        info.guid != conn.client_guid
        or info.security_mode != conn.client_security_mode
        or info.capabilities != conn.client_capabilities
        or dialect is None
        or dialect != conn.dialect
    ):
        log.warning(
            "SMB client %s: VALIDATE_NEGOTIATE_INFO does not match its NEGOTIATE "
            "(altered on the way?): connection ended",
            conn.peer,
        )
        raise DropConnection("VALIDATE_NEGOTIATE_INFO does not match the NEGOTIATE")
    out = validate_negotiate_response(
        conn.server_capabilities, conn.server.guid, conn.server_security_mode, dialect
    )
    return Reply(NtStatus.SUCCESS, ioctl_response(io.ctl_code, io.file_id, out))
