"""One open RPC named pipe: bytes the client writes in, response messages out.

Sans-IO. The SMB core feeds whatever a WRITE or FSCTL_PIPE_TRANSCEIVE carried
into :meth:`RpcPipe.write` and answers READs from :meth:`RpcPipe.read`. Pipes
are message mode, as Windows opens them: every PDU we send is one message, a
read returns at most the rest of the current message and :meth:`pending` is
what is left of it afterwards, so a READ smaller than the message gets
STATUS_BUFFER_OVERFLOW and the next READ the rest, while a READ that ends a
fragment gets STATUS_SUCCESS and the next READ the next fragment.

Hostile clients get FAULT or BIND_NAK PDUs, never an exception, except when
they make us hold more than :data:`MAX_BUFFERED` bytes (request data or unread
responses): then :meth:`write` raises :class:`PipeOverflow` and the core should
close the pipe.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from peerwork.errors import InvalidInput, PeerworkError
from peerwork.proto import dcerpc as rpc
from peerwork.proto.dcerpc import Fault, Header, PType
from peerwork.proto.ndr import NdrError

MAX_BUFFERED = 1 << 20
# Samba's and Windows' habit when the client leaves the association group to us.
_ASSOC_GROUP = 0x000053F0


class RpcFault(PeerworkError):
    """Raised by an interface to answer a call with a FAULT PDU."""

    code = "rpc-fault"

    def __init__(self, status: Fault, message: str) -> None:
        super().__init__(message)
        self.status = status


class PipeOverflow(InvalidInput):
    code = "pipe-overflow"


class RpcInterface(Protocol):
    """An interface served on a pipe: its abstract syntax and a call dispatcher."""

    syntax: rpc.SyntaxId

    def call(self, opnum: int, stub: bytes) -> bytes:
        """The response stub for a request stub; raises RpcFault or NdrError."""
        ...


@dataclass(slots=True)
class _Call:
    call_id: int
    context_id: int
    opnum: int
    iface: RpcInterface | None  # None: the call is being discarded, fault already sent
    stub: bytearray = field(default_factory=bytearray)


class RpcPipe:
    """The connection-oriented DCE/RPC server side of one pipe open."""

    def __init__(self, *, interface: RpcInterface, pipe_name: str) -> None:
        self._iface = interface
        self._sec_addr = "\\PIPE\\" + pipe_name
        self._inbuf = bytearray()
        self._out: deque[bytes] = deque()
        self._out_off = 0
        self._out_total = 0
        self._contexts: dict[int, RpcInterface] = {}
        self._bound = False
        self._max_xmit = rpc.DEFAULT_MAX_FRAG  # largest fragment we send
        self._call: _Call | None = None

    # --- the pipe as the SMB core sees it ------------------------------------------------

    def write(self, data: bytes) -> None:
        """Bytes the client wrote; complete PDUs are answered at once."""
        if len(self._inbuf) + len(data) > MAX_BUFFERED:
            self._reset()
            raise PipeOverflow("RPC pipe write exceeds the 1 MiB buffer; closing the pipe")
        self._inbuf += data
        while len(self._inbuf) >= rpc.HEADER_SIZE:
            try:
                header = rpc.parse_header(bytes(self._inbuf[: rpc.HEADER_SIZE]))
            except rpc.MalformedPdu:
                # Framing is lost: nothing after this can be trusted to start a PDU.
                self._fault(_call_id_of(self._inbuf), Fault.PROTO_ERROR)
                self._inbuf.clear()
                break
            if header.vers != rpc.RPC_VERS or header.vers_minor != rpc.RPC_VERS_MINOR:
                if header.ptype == PType.BIND:
                    self._emit(
                        rpc.pack_bind_nak(
                            header.call_id, rpc.NakReason.PROTOCOL_VERSION_NOT_SUPPORTED
                        )
                    )
                else:
                    self._fault(header.call_id, Fault.PROTO_ERROR)
                self._inbuf.clear()
                break
            if len(self._inbuf) < header.frag_length:
                break
            pdu = bytes(self._inbuf[: header.frag_length])
            del self._inbuf[: header.frag_length]
            self._handle(header, pdu)
        if self._out_total > MAX_BUFFERED:
            self._reset()
            raise PipeOverflow("RPC client is not reading its responses; closing the pipe")

    def read(self, max_len: int) -> bytes:
        """Up to ``max_len`` bytes of the current response message (b"" when none)."""
        if not self._out or max_len <= 0:
            return b""
        head = self._out[0]
        chunk = head[self._out_off : self._out_off + max_len]
        self._out_off += len(chunk)
        self._out_total -= len(chunk)
        if self._out_off >= len(head):
            self._out.popleft()
            self._out_off = 0
        return chunk

    def pending(self) -> int:
        """Bytes left of the message the last :meth:`read` started but did not finish.

        0 at a message boundary, even when further messages (the next fragments)
        are queued: that is when a READ or FSCTL_PIPE_TRANSCEIVE answers
        STATUS_SUCCESS rather than STATUS_BUFFER_OVERFLOW.
        """
        return len(self._out[0]) - self._out_off if self._out and self._out_off else 0

    def pending_total(self) -> int:
        """Bytes waiting across all queued response messages (a pipe peek's ReadDataAvailable)."""
        return self._out_total

    def next_message_size(self) -> int:
        """Unread bytes of the message the next read returns from (0 when none is queued)."""
        return len(self._out[0]) - self._out_off if self._out else 0

    def transact(self, data: bytes, max_out: int) -> bytes:
        self.write(data)
        return self.read(max_out)

    # --- PDU handling --------------------------------------------------------------------

    def _reset(self) -> None:
        self._inbuf.clear()
        self._out.clear()
        self._out_off = 0
        self._out_total = 0
        self._call = None

    def _emit(self, pdu: bytes) -> None:
        self._out.append(pdu)
        self._out_total += len(pdu)

    def _fault(self, call_id: int, status: Fault, context_id: int = 0) -> None:
        executed = status not in (
            Fault.PROTO_ERROR,
            Fault.UNK_IF,
            Fault.OP_RNG_ERROR,
            Fault.BAD_STUB_DATA,
            Fault.CONTEXT_MISMATCH,
        )
        self._emit(rpc.pack_fault(call_id, status, context_id, did_not_execute=not executed))

    def _handle(self, header: Header, pdu: bytes) -> None:
        ptype = header.ptype
        if not header.little_endian:
            if ptype == PType.BIND:
                self._emit(rpc.pack_bind_nak(header.call_id, rpc.NakReason.NOT_SPECIFIED))
            else:
                self._fault(header.call_id, Fault.PROTO_ERROR)
            return
        if ptype in (PType.BIND, PType.ALTER_CONTEXT):
            self._on_bind(header, pdu)
        elif ptype == PType.REQUEST:
            self._on_request(header, pdu)
        elif ptype == PType.ORPHANED:
            if self._call is not None and self._call.call_id == header.call_id:
                self._call = None
        elif ptype in (PType.CO_CANCEL, PType.AUTH3):
            # Calls run to completion at once, so there is nothing to cancel; AUTH3 has
            # no answer by definition, and we never accepted the auth it continues.
            return
        else:
            self._fault(header.call_id, Fault.PROTO_ERROR)

    def _on_bind(self, header: Header, pdu: bytes) -> None:
        alter = header.ptype == PType.ALTER_CONTEXT
        if header.auth_length:
            # We speak no RPC-level authentication: the SMB session already authenticated.
            if alter:
                self._fault(header.call_id, Fault.ACCESS_DENIED)
            else:
                self._emit(
                    rpc.pack_bind_nak(
                        header.call_id, rpc.NakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED
                    )
                )
            return
        if alter != self._bound:
            # A second BIND, or ALTER_CONTEXT before any BIND.
            if alter:
                self._fault(header.call_id, Fault.PROTO_ERROR)
            else:
                self._emit(rpc.pack_bind_nak(header.call_id, rpc.NakReason.NOT_SPECIFIED))
            return
        try:
            bind = rpc.parse_bind(pdu)
        except rpc.MalformedPdu:
            bind = None
        if bind is None or not bind.contexts:
            if alter:
                self._fault(header.call_id, Fault.PROTO_ERROR)
            else:
                self._emit(rpc.pack_bind_nak(header.call_id, rpc.NakReason.NOT_SPECIFIED))
            return
        if not alter:
            self._max_xmit = _frag_size(bind.max_recv_frag)
            max_recv = _frag_size(bind.max_xmit_frag)
            self._bound = True
        else:
            max_recv = self._max_xmit
        results = tuple(self._negotiate(ctx) for ctx in bind.contexts)
        self._emit(
            rpc.pack_bind_ack(
                call_id=header.call_id,
                max_xmit_frag=self._max_xmit,
                max_recv_frag=max_recv,
                assoc_group_id=bind.assoc_group_id or _ASSOC_GROUP,
                sec_addr=self._sec_addr,
                results=results,
                alter=alter,
            )
        )

    def _negotiate(self, ctx: rpc.ContextElement) -> rpc.ContextResult:
        for t in ctx.transfers:
            if rpc.is_bind_time_feature_negotiation(t):
                # As Windows and Samba do: acknowledge with the offered features we honour.
                features = rpc.bind_time_features(t) & rpc.BTFN_SUPPORTED
                return rpc.ContextResult(rpc.AckResult.NEGOTIATE_ACK, features, rpc.NULL_SYNTAX)
        want = self._iface.syntax
        if ctx.abstract.uuid != want.uuid or ctx.abstract.major != want.major:
            return rpc.ContextResult(
                rpc.AckResult.PROVIDER_REJECTION,
                rpc.AckReason.ABSTRACT_SYNTAX_NOT_SUPPORTED,
                rpc.NULL_SYNTAX,
            )
        if rpc.NDR20 not in ctx.transfers:
            return rpc.ContextResult(
                rpc.AckResult.PROVIDER_REJECTION,
                rpc.AckReason.TRANSFER_SYNTAXES_NOT_SUPPORTED,
                rpc.NULL_SYNTAX,
            )
        self._contexts[ctx.context_id] = self._iface
        return rpc.ContextResult(rpc.AckResult.ACCEPTANCE, 0, rpc.NDR20)

    def _on_request(self, header: Header, pdu: bytes) -> None:
        if not self._bound or header.auth_length:
            self._call = None
            self._fault(header.call_id, Fault.PROTO_ERROR)
            return
        try:
            frag = rpc.parse_request(pdu, header)
        except rpc.MalformedPdu:
            self._call = None
            self._fault(header.call_id, Fault.PROTO_ERROR)
            return
        call = self._call
        if frag.flags & rpc.PFC_FIRST_FRAG:
            if call is not None:
                # A new call while a fragmented one is unfinished: both are broken.
                self._call = None
                self._fault(frag.call_id, Fault.PROTO_ERROR)
                return
            iface = self._contexts.get(frag.context_id)
            call = _Call(frag.call_id, frag.context_id, frag.opnum, iface)
            if iface is None:
                self._fault(frag.call_id, Fault.UNK_IF, frag.context_id)
            self._call = call
        elif call is None or call.call_id != frag.call_id:
            self._call = None
            self._fault(frag.call_id, Fault.PROTO_ERROR)
            return
        if call.iface is not None:
            if len(call.stub) + len(frag.stub) > MAX_BUFFERED:
                self._fault(call.call_id, Fault.REMOTE_NO_MEMORY, call.context_id)
                call.iface = None
                call.stub.clear()
            else:
                call.stub += frag.stub
        if frag.flags & rpc.PFC_LAST_FRAG:
            self._call = None
            if call.iface is not None:
                self._dispatch(call, call.iface)

    def _dispatch(self, call: _Call, iface: RpcInterface) -> None:
        try:
            out = iface.call(call.opnum, bytes(call.stub))
        except RpcFault as exc:
            self._fault(call.call_id, exc.status, call.context_id)
            return
        except NdrError:
            self._fault(call.call_id, Fault.BAD_STUB_DATA, call.context_id)
            return
        for frag in rpc.pack_response(call.call_id, call.context_id, out, self._max_xmit):
            self._emit(frag)


def _frag_size(client_value: int) -> int:
    return max(rpc.MIN_FRAG, min(client_value, rpc.DEFAULT_MAX_FRAG))


def _call_id_of(buf: bytearray) -> int:
    return int(struct.unpack_from("<I", buf, 12)[0]) if len(buf) >= 16 else 0
