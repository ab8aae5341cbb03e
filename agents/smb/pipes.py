"""Named-pipe opens on IPC$ (the srvsvc RPC pipe that share listings use).

The file-command handlers call these when ``req.tree.is_ipc``: CREATE →
:func:`open_pipe`, READ → :func:`read_pipe`, WRITE → :func:`write_pipe`,
CLOSE → :func:`close_pipe`; IOCTL's FSCTL_PIPE_TRANSCEIVE uses :func:`transceive`.
``SmbServer.pipe_factory(name, session)`` makes a pipe for a pipe name
(normalised by ``srvsvc.pipe_name``) and the :class:`SessionView` opening it,
or returns None. A pipe object offers ``write(bytes)``,
``read(max_len) -> bytes`` and optionally ``pending() -> int`` (bytes left of
the current reply message).
"""

from __future__ import annotations

import logging
from typing import Any

from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_create import CloseResponse, CreateRequest, CreateResponse, FileTimes
from peerwork.proto.smb2_readwrite import read_response_head, write_response
from peerwork.proto.srvsvc import pipe_name

from .api import Reply, Request
from .opens import new_file_id, resolve_file_id

log = logging.getLogger(__name__)

FILE_OPENED = 1
FILE_ATTRIBUTE_NORMAL = 0x80
STATUS_PIPE_EMPTY = 0xC00000D9


class PipeOpen:
    """One open of a named pipe; ``close()`` is what the core calls on disconnect."""

    def __init__(self, name: str, pipe: Any) -> None:
        self.name = name
        self.pipe = pipe

    def pending(self) -> int:
        fn = getattr(self.pipe, "pending", None)
        return int(fn()) if fn is not None else 0

    def write(self, data: bytes) -> None:
        try:
            self.pipe.write(data)
        except NtStatusError:
            raise
        except Exception as exc:
            # The pipe refuses (overflow, protocol error): the client sees a broken pipe.
            log.info("pipe %s refused a write: %s", self.name, exc)
            raise NtStatusError(NtStatus.INVALID_DEVICE_STATE, str(exc)) from None

    def read(self, length: int) -> tuple[int, bytes]:
        data = bytes(self.pipe.read(length))
        if not data:
            return STATUS_PIPE_EMPTY, b""
        status = NtStatus.BUFFER_OVERFLOW if self.pending() else NtStatus.SUCCESS
        return status, data

    def close(self) -> None:
        close = getattr(self.pipe, "close", None)
        if close is not None:
            close()


def _factory(req: Request) -> Any:
    conn = req.server
    return conn.server.pipe_factory


def open_pipe(req: Request) -> Reply:
    """CREATE on an IPC$ tree."""
    assert req.tree is not None and req.tree.is_ipc
    create = CreateRequest.parse(req.body)
    name = pipe_name(create.name)
    # The session decides what the pipe shows (a listing hides shares it cannot use).
    pipe = _factory(req)(name, req.session) if name else None
    if pipe is None:
        return Reply(NtStatus.OBJECT_NAME_NOT_FOUND)
    fid = new_file_id()
    req.tree.opens[fid] = PipeOpen(name, pipe)
    times = FileTimes(attributes=FILE_ATTRIBUTE_NORMAL)
    return Reply(NtStatus.SUCCESS, CreateResponse(FILE_OPENED, times, fid).pack(), file_id=fid)


def _find(req: Request, file_id: bytes) -> PipeOpen:
    if req.tree is None:
        raise NtStatusError(NtStatus.NETWORK_NAME_DELETED)
    found = req.tree.opens.get(resolve_file_id(req, file_id))
    if found is None:
        raise NtStatusError(NtStatus.FILE_CLOSED)
    if not isinstance(found, PipeOpen):
        raise NtStatusError(NtStatus.INVALID_DEVICE_REQUEST)
    return found


def read_pipe(req: Request, file_id: bytes, length: int) -> Reply:
    status, data = _find(req, file_id).read(length)
    if not data:
        return Reply(status)
    return Reply(status, [read_response_head(len(data)), data])


def write_pipe(req: Request, file_id: bytes, data: bytes | memoryview) -> Reply:
    _find(req, file_id).write(bytes(data))
    return Reply(NtStatus.SUCCESS, write_response(len(data)))


def close_pipe(req: Request, file_id: bytes) -> Reply:
    pipe = _find(req, file_id)
    assert req.tree is not None
    req.tree.opens.pop(resolve_file_id(req, file_id), None)
    pipe.close()
    return Reply(NtStatus.SUCCESS, CloseResponse().pack())


def transceive(req: Request, file_id: bytes, data: bytes, max_output: int) -> tuple[int, bytes]:
    """FSCTL_PIPE_TRANSCEIVE: write a request, read (up to max_output of) its reply."""
    pipe = _find(req, file_id)
    pipe.write(data)
    status, out = pipe.read(max_output)
    return (NtStatus.SUCCESS if status == STATUS_PIPE_EMPTY else status), out
