"""The wkssvc RPC interface (MS-WKST): NetrWkstaGetInfo, which Windows asks on connecting."""

from __future__ import annotations

import uuid

from peerwork.proto.dcerpc import Fault, SyntaxId
from peerwork.proto.ndr import Field, NdrReader, NdrWriter, write_structs
from peerwork.proto.rpc_pipe import RpcFault, RpcPipe

WKSSVC_SYNTAX = SyntaxId(uuid.UUID("6bffd098-a112-3610-9833-46c3f87e345a"), 1, 0)

OP_NETR_WKSTA_GET_INFO = 0

PLATFORM_ID_NT = 500
# The OS version a server reports in NetrServerGetInfo/NetrWkstaGetInfo; 6.1 is what Samba
# reports and what every client accepts as "an NT-class server".
VERSION_MAJOR = 6
VERSION_MINOR = 1

ERROR_SUCCESS = 0
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_LEVEL = 124


class WkssvcInterface:
    syntax = WKSSVC_SYNTAX

    def __init__(self, *, server_name: str, workgroup: str) -> None:
        self._server_name = server_name
        self._workgroup = workgroup

    def call(self, opnum: int, stub: bytes) -> bytes:
        if opnum != OP_NETR_WKSTA_GET_INFO:
            raise RpcFault(Fault.OP_RNG_ERROR, f"wkssvc operation {opnum} is not served")
        r = NdrReader(stub)
        r.unique_string()  # ServerName
        level = r.u32()
        w = NdrWriter()
        w.u32(level)
        fields: list[Field] = [
            PLATFORM_ID_NT,
            self._server_name,
            self._workgroup,
            VERSION_MAJOR,
            VERSION_MINOR,
        ]
        if level == 101:
            fields.append(None)  # wki101_lanroot: no such thing on a peer
        if level in (100, 101):
            w.pointer(True)
            write_structs(w, [fields])
            status = ERROR_SUCCESS
        else:
            # 102 lists logged-on users, which Windows shows administrators only.
            w.pointer(False)
            status = ERROR_ACCESS_DENIED if level in (102, 502) else ERROR_INVALID_LEVEL
        w.u32(status)
        return w.getvalue()


class WkssvcPipe(RpcPipe):
    """An open of ``\\PIPE\\wkssvc``."""

    def __init__(self, *, server_name: str, workgroup: str) -> None:
        self.workgroup = workgroup
        super().__init__(
            interface=WkssvcInterface(server_name=server_name, workgroup=workgroup),
            pipe_name="wkssvc",
        )
