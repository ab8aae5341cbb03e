"""The srvsvc RPC interface (MS-SRVS) as far as listing shares needs, and the pipe factory.

``smbclient -L``, pysmb's ``listShares()``, Windows Explorer and macOS Finder
open ``\\PIPE\\srvsvc`` on IPC$, bind, and call NetrShareEnum (opnum 15);
Windows also asks NetrShareGetInfo (16) and NetrServerGetInfo (21). The share
list is asked of the ``shares`` callable on every call, so shares added while
the agent runs show up; which shares a session may see is the caller's
decision (it passes only those, plus IPC$).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peerwork.proto.dcerpc import Fault, SyntaxId
from peerwork.proto.ndr import Field, NdrReader, NdrWriter, write_structs
from peerwork.proto.rpc_pipe import RpcFault, RpcPipe
from peerwork.proto.wkssvc import PLATFORM_ID_NT, VERSION_MAJOR, VERSION_MINOR, WkssvcPipe

SRVSVC_SYNTAX = SyntaxId(uuid.UUID("4b324fc8-1670-01d3-1278-5a47bf6ee188"), 3, 0)

OP_NETR_SHARE_ENUM = 15
OP_NETR_SHARE_GET_INFO = 16
OP_NETR_SERVER_GET_INFO = 21
OP_NETR_SHARE_ENUM_STICKY = 36

# Win32 error codes returned in the stub (not faults).
ERROR_SUCCESS = 0
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_LEVEL = 124
NERR_NET_NAME_NOT_FOUND = 2310

# SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_NT | SV_TYPE_SERVER_NT: a peer that serves files.
SERVER_TYPE = 0x00000001 | 0x00000002 | 0x00001000 | 0x00008000
# SHARE_INFO_1005 / 501 flags: 0 is CSC_CACHE_MANUAL_REINT, Windows' default "offline files"
# policy (files are cached offline only when the user asks).
SHARE_FLAGS = 0
# Levels that expose the server's local path and password fields: Windows answers them
# only to administrators, and peerwork has no administrators over the wire.
_ADMIN_LEVELS = frozenset({2, 502, 503})


class ShareKind(enum.IntEnum):
    """shi*_type values (MS-SRVS 2.2.2.4)."""

    DISK = 0x00000000  # STYPE_DISKTREE
    PRINTER = 0x00000001  # STYPE_PRINTQ
    IPC = 0x80000003  # STYPE_IPC | STYPE_SPECIAL


@dataclass(frozen=True, slots=True)
class ShareEntry:
    name: str
    comment: str
    kind: ShareKind


class SrvsvcInterface:
    """Dispatches srvsvc calls; stateless apart from what the callable returns."""

    syntax = SRVSVC_SYNTAX

    def __init__(
        self,
        *,
        server_name: str,
        comment: str,
        shares: Callable[[], list[ShareEntry]],
    ) -> None:
        self._server_name = server_name
        self._comment = comment
        self._shares = shares

    def call(self, opnum: int, stub: bytes) -> bytes:
        if opnum in (OP_NETR_SHARE_ENUM, OP_NETR_SHARE_ENUM_STICKY):
            return self._share_enum(NdrReader(stub))
        if opnum == OP_NETR_SHARE_GET_INFO:
            return self._share_get_info(NdrReader(stub))
        if opnum == OP_NETR_SERVER_GET_INFO:
            return self._server_get_info(NdrReader(stub))
        raise RpcFault(Fault.OP_RNG_ERROR, f"srvsvc operation {opnum} is not served")

    def _share_enum(self, r: NdrReader) -> bytes:
        r.unique_string()  # ServerName: always us
        level = r.u32()
        _union_tag(r, level)
        if r.pointer():  # the client's (empty) container
            r.u32()  # EntriesRead
            if r.pointer() and r.u32() != 0:
                # Clients send an empty buffer; one with entries in it is not a request.
                raise RpcFault(Fault.BAD_STUB_DATA, "NetrShareEnum request carries share entries")
        r.u32()  # PreferedMaximumLength: we always answer everything at once
        has_resume = r.pointer()
        resume = r.u32() if has_resume else 0

        shares = self._shares()
        w = NdrWriter()
        w.u32(level)
        w.u32(level)
        if level in (0, 1, 501):
            chosen = shares[resume:]
            w.pointer(True)  # container
            w.u32(len(chosen))
            w.pointer(bool(chosen))
            if chosen:
                w.u32(len(chosen))  # array conformance
                write_structs(w, [_share_info(s, level) for s in chosen])
            status = ERROR_SUCCESS
        else:
            w.pointer(False)
            status = ERROR_ACCESS_DENIED if level in _ADMIN_LEVELS else ERROR_INVALID_LEVEL
        w.u32(len(shares) if status == ERROR_SUCCESS else 0)  # TotalEntries
        w.pointer(has_resume)
        if has_resume:
            w.u32(0)  # everything was returned: nothing to resume
        w.u32(status)
        return w.getvalue()

    def _share_get_info(self, r: NdrReader) -> bytes:
        r.unique_string()  # ServerName
        net_name = r.string()
        level = r.u32()
        wanted = net_name.casefold()
        found = next((s for s in self._shares() if s.name.casefold() == wanted), None)
        w = NdrWriter()
        w.u32(level)
        if found is None:
            status = NERR_NET_NAME_NOT_FOUND
        elif level in _ADMIN_LEVELS:
            status = ERROR_ACCESS_DENIED
        elif level not in (0, 1, 501, 1005):
            status = ERROR_INVALID_LEVEL
        else:
            status = ERROR_SUCCESS
        if status == ERROR_SUCCESS and found is not None:
            w.pointer(True)
            write_structs(w, [_share_info(found, level)])
        else:
            w.pointer(False)
        w.u32(status)
        return w.getvalue()

    def _server_get_info(self, r: NdrReader) -> bytes:
        r.unique_string()  # ServerName
        level = r.u32()
        w = NdrWriter()
        w.u32(level)
        fields: list[Field] = [PLATFORM_ID_NT, self._server_name]
        if level in (101, 102):
            fields += [VERSION_MAJOR, VERSION_MINOR, SERVER_TYPE, self._comment]
        if level == 102:
            # users, disc (idle minutes), hidden, announce, anndelta, licenses, userpath,
            # with the values Samba reports.
            fields += [0xFFFFFFFF, 15, 0, 240, 3000, 0, "C:\\"]
        if level in (100, 101, 102):
            w.pointer(True)
            write_structs(w, [fields])
            status = ERROR_SUCCESS
        else:
            w.pointer(False)
            status = ERROR_INVALID_LEVEL
        w.u32(status)
        return w.getvalue()


def _union_tag(r: NdrReader, level: int) -> None:
    if r.u32() != level:
        raise RpcFault(Fault.BAD_STUB_DATA, "RPC union tag differs from the level asked for")


def _share_info(share: ShareEntry, level: int) -> list[Field]:
    if level == 0:
        return [share.name]
    if level == 1005:
        return [SHARE_FLAGS]
    fields: list[Field] = [share.name, int(share.kind), share.comment]
    if level == 501:
        fields.append(SHARE_FLAGS)
    return fields


class SrvsvcPipe(RpcPipe):
    """An open of ``\\PIPE\\srvsvc``."""

    def __init__(
        self,
        *,
        server_name: str,
        workgroup: str,
        shares: Callable[[], list[ShareEntry]],
        comment: str = "peerwork",
    ) -> None:
        self.workgroup = workgroup
        iface = SrvsvcInterface(server_name=server_name, comment=comment, shares=shares)
        super().__init__(interface=iface, pipe_name="srvsvc")


def pipe_name(name: str) -> str:
    """``\\PIPE\\srvsvc``, ``\\srvsvc``, ``SRVSVC`` → ``srvsvc``."""
    n = name.replace("/", "\\").lstrip("\\").casefold()
    if n.startswith("pipe\\"):
        n = n[len("pipe\\") :].lstrip("\\")
    return n


def pipe_for(name: str, **kwargs: Any) -> SrvsvcPipe | WkssvcPipe | None:
    """A fresh pipe for the name a client opened on IPC$, or None if we serve no such pipe.

    Takes the keyword arguments of :class:`SrvsvcPipe`; ``wkssvc`` uses only
    ``server_name`` and ``workgroup`` of them.
    """
    n = pipe_name(name)
    if n == "srvsvc":
        return SrvsvcPipe(**kwargs)
    if n == "wkssvc":
        return WkssvcPipe(server_name=kwargs["server_name"], workgroup=kwargs["workgroup"])
    return None
