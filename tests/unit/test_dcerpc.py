"""DCE/RPC PDU handling on a pipe: binds, fragments, faults, hostile bytes.

The client side is impacket's (rpcrt.DCERPC_v5 over an in-memory transport,
and its PDU structures) so our encoder is checked against an independent one.
"""

from __future__ import annotations

import contextlib
import struct
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5 import ndr, rpcrt, srvs
from impacket.dcerpc.v5.transport import DCERPCTransport
from impacket.uuid import uuidtup_to_bin

from peerwork.errors import InvalidInput
from peerwork.proto import dcerpc as rpc
from peerwork.proto.rpc_pipe import MAX_BUFFERED, PipeOverflow, RpcPipe
from peerwork.proto.srvsvc import ShareEntry, ShareKind, SrvsvcPipe

NDR20 = ("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0")
NDR64 = ("71710533-beba-4937-8319-b5dbef9ccc36", "1.0")
BTFN = ("6cb71c2c-9812-4540-0300-000000000000", "1.0")
SRVSVC = ("4b324fc8-1670-01d3-1278-5a47bf6ee188", "3.0")
LSARPC = ("12345778-1234-abcd-ef00-0123456789ab", "0.0")


class PipeTransport(DCERPCTransport):
    """impacket's RPC client talking straight to a pipe object, as SMB WRITE/READ would."""

    def __init__(self, pipe: RpcPipe, read_size: int = 65536) -> None:
        super().__init__("peer", 445)
        self.pipe = pipe
        self.read_size = read_size

    def connect(self) -> int:
        return 1

    def disconnect(self) -> int:
        return 1

    def send(self, data: bytes, forceWriteAndx: int = 0, forceRecv: int = 0) -> None:
        self.pipe.write(data)

    def recv(self, forceRecv: int = 0, count: int = 0) -> bytes:
        return self.pipe.read(min(count or self.read_size, self.read_size))


def shares() -> list[ShareEntry]:
    return [
        ShareEntry("docs", "Office documents", ShareKind.DISK),
        ShareEntry("IPC$", "IPC Service (peerwork)", ShareKind.IPC),
    ]


def new_pipe() -> SrvsvcPipe:
    return SrvsvcPipe(server_name="FRONTDESK", workgroup="OFFICE", shares=shares)


def bind_bytes(
    contexts: list[tuple[int, tuple[str, str], list[tuple[str, str]]]],
    *,
    call_id: int = 1,
    max_xmit: int = 4280,
    max_recv: int = 4280,
    ptype: int = rpc.PType.BIND,
    auth: bytes = b"",
) -> bytes:
    """A BIND built by hand (impacket's CtxItem holds one transfer syntax only)."""
    body = struct.pack("<HHIB3x", max_xmit, max_recv, 0, len(contexts))
    for ctx_id, abstract, transfers in contexts:
        body += struct.pack("<HB1x", ctx_id, len(transfers)) + uuidtup_to_bin(abstract)
        body += b"".join(uuidtup_to_bin(t) for t in transfers)
    if auth:
        body += struct.pack("<BBBBI", 10, 2, 0, 0, 0) + auth
    hdr = struct.pack(
        "<BBBB4sHHI", 5, 0, ptype, 3, b"\x10\0\0\0", 16 + len(body), len(auth), call_id
    )
    return hdr + body


def impacket_bind(call_id: int = 1) -> bytes:
    bind = rpcrt.MSRPCBind()
    item = rpcrt.CtxItem()
    item["AbstractSyntax"] = srvs.MSRPC_UUID_SRVS
    item["TransferSyntax"] = uuidtup_to_bin(NDR20)
    item["ContextID"] = 0
    item["TransItems"] = 1
    bind.addCtxItem(item)
    packet = rpcrt.MSRPCHeader()
    packet["type"] = rpcrt.MSRPC_BIND
    packet["pduData"] = bind.getData()
    packet["call_id"] = call_id
    return bytes(packet.get_packet())


def read_all(pipe: RpcPipe) -> list[bytes]:
    out = []
    for _ in range(1000):
        msg = pipe.read(1 << 20)
        if not msg:
            return out
        out.append(msg)
    raise AssertionError("pipe never ran dry")


def ack_of(pipe: RpcPipe, data: bytes) -> rpcrt.MSRPCBindAck:
    pipe.write(data)
    (msg,) = read_all(pipe)
    ack = rpcrt.MSRPCBindAck(msg)
    assert ack["type"] == rpcrt.MSRPC_BINDACK
    return ack


# --- BIND negotiation ---------------------------------------------------------------------


def test_impacket_bind_is_accepted_with_ndr20_and_pipe_address() -> None:
    ack = ack_of(new_pipe(), impacket_bind(call_id=7))
    assert ack["call_id"] == 7
    assert ack["SecondaryAddr"] == "\\PIPE\\srvsvc"
    assert ack["max_tfrag"] == 4280 and ack["max_rfrag"] == 4280
    assert ack["assoc_group"] != 0
    (item,) = ack.getCtxItems()
    assert item["Result"] == 0
    assert item["TransferSyntax"] == uuidtup_to_bin(NDR20)


def test_windows_style_bind_ndr64_rejected_btfn_acknowledged() -> None:
    # Windows 10/11 offer three contexts: NDR 2.0, NDR64, and bind-time feature negotiation.
    ack = ack_of(
        new_pipe(),
        bind_bytes([(0, SRVSVC, [NDR20]), (1, SRVSVC, [NDR64]), (2, SRVSVC, [BTFN])]),
    )
    results = [(i["Result"], i["Reason"], i["TransferSyntax"]) for i in ack.getCtxItems()]
    null = b"\x00" * 20
    assert results == [
        (0, 0, uuidtup_to_bin(NDR20)),
        (2, 2, null),  # provider rejection: proposed transfer syntaxes not supported
        (3, 3, null),  # negotiate_ack with both offered features (0x3)
    ]


def test_context_offering_ndr64_and_ndr20_picks_ndr20() -> None:
    ack = ack_of(new_pipe(), bind_bytes([(0, SRVSVC, [NDR64, NDR20])]))
    (item,) = ack.getCtxItems()
    assert (item["Result"], item["TransferSyntax"]) == (0, uuidtup_to_bin(NDR20))


def test_unknown_interface_is_rejected_and_calls_on_it_fault() -> None:
    pipe = new_pipe()
    ack = ack_of(pipe, bind_bytes([(0, LSARPC, [NDR20])]))
    (item,) = ack.getCtxItems()
    assert (item["Result"], item["Reason"]) == (2, 1)
    pipe.write(request_bytes(call_id=2, opnum=15, stub=b""))
    (fault,) = read_all(pipe)
    assert fault_status(fault) == rpc.Fault.UNK_IF


def test_authenticated_bind_is_refused_with_bind_nak() -> None:
    pipe = new_pipe()
    pipe.write(bind_bytes([(0, SRVSVC, [NDR20])], auth=b"NTLMSSP\x00" + b"\x01" * 24))
    (msg,) = read_all(pipe)
    assert msg[2] == rpc.PType.BIND_NAK
    nak = rpcrt.MSRPCBindNak(msg[16:])
    assert nak["RejectedReason"] == rpc.NakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED
    # The pipe stays usable: an unauthenticated bind afterwards works.
    assert ack_of(pipe, impacket_bind()).getCtxItems()[0]["Result"] == 0


def test_wrong_rpc_version_gets_bind_nak() -> None:
    data = bytearray(impacket_bind())
    data[0] = 4
    pipe = new_pipe()
    pipe.write(bytes(data))
    (msg,) = read_all(pipe)
    assert msg[2] == rpc.PType.BIND_NAK
    assert struct.unpack_from("<H", msg, 16)[0] == rpc.NakReason.PROTOCOL_VERSION_NOT_SUPPORTED


def test_second_bind_is_refused_but_alter_context_works() -> None:
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    pipe.write(impacket_bind(call_id=2))
    (msg,) = read_all(pipe)
    assert msg[2] == rpc.PType.BIND_NAK
    pipe.write(bind_bytes([(1, SRVSVC, [NDR20])], ptype=rpc.PType.ALTER_CONTEXT, call_id=3))
    (msg,) = read_all(pipe)
    assert msg[2] == rpc.PType.ALTER_CONTEXT_RESP
    ack = rpcrt.MSRPCBindAck(msg)
    assert ack["SecondaryAddrLen"] == 0
    assert ack.getCtxItems()[0]["Result"] == 0


@pytest.mark.parametrize(
    ("client_xmit", "client_recv", "want_xmit", "want_recv"),
    [
        (4280, 4280, 4280, 4280),
        (5840, 5840, 4280, 4280),
        (2048, 1500, 1500, 2048),
        (16, 16, 1432, 1432),
    ],
)
def test_fragment_sizes_are_negotiated_down(
    client_xmit: int, client_recv: int, want_xmit: int, want_recv: int
) -> None:
    ack = ack_of(
        new_pipe(),
        bind_bytes([(0, SRVSVC, [NDR20])], max_xmit=client_xmit, max_recv=client_recv),
    )
    # Our max_xmit is what we send: bounded by what the client can receive.
    assert (ack["max_tfrag"], ack["max_rfrag"]) == (want_xmit, want_recv)


# --- REQUEST / RESPONSE / FAULT -----------------------------------------------------------


def request_bytes(
    *, call_id: int, opnum: int, stub: bytes, ctx: int = 0, flags: int = 3, auth_len: int = 0
) -> bytes:
    body = struct.pack("<IHH", len(stub), ctx, opnum) + stub
    return (
        struct.pack("<BBBB4sHHI", 5, 0, 0, flags, b"\x10\0\0\0", 16 + len(body), auth_len, call_id)
        + body
    )


def fault_status(msg: bytes) -> int:
    assert msg[2] == rpc.PType.FAULT, msg[:4]
    return int(struct.unpack_from("<I", msg, 24)[0])


def many_shares(n: int) -> list[ShareEntry]:
    return [ShareEntry(f"share{i:03d}", "a comment " * 5, ShareKind.DISK) for i in range(n)]


def test_large_response_is_fragmented_to_the_clients_receive_size() -> None:
    big = many_shares(200)
    pipe = SrvsvcPipe(server_name="PC", workgroup="WG", shares=lambda: big)
    ack_of(pipe, bind_bytes([(0, SRVSVC, [NDR20])], max_recv=1432))
    stub = srvs.NetrShareEnum()
    stub["ServerName"] = "\x00"
    stub["InfoStruct"]["Level"] = 1
    stub["InfoStruct"]["ShareInfo"]["tag"] = 1
    stub["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"] = ndr.NULL
    stub["PreferedMaximumLength"] = 0xFFFFFFFF
    stub["ResumeHandle"] = ndr.NULL
    pipe.write(request_bytes(call_id=9, opnum=15, stub=stub.getData()))
    frags = read_all(pipe)
    assert len(frags) > 5
    assert all(len(f) <= 1432 for f in frags)
    assert frags[0][3] & rpc.PFC_FIRST_FRAG and not frags[0][3] & rpc.PFC_LAST_FRAG
    assert frags[-1][3] & rpc.PFC_LAST_FRAG
    joined = b"".join(f[24:] for f in frags)
    resp = srvs.NetrShareEnumResponse(joined)
    names = [e["shi1_netname"][:-1] for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]]
    assert names == [s.name for s in big]


def test_response_read_in_small_pieces_is_message_mode() -> None:
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    pipe.write(request_bytes(call_id=2, opnum=21, stub=b"\x00\x00\x00\x00e\x00\x00\x00"))
    total = pipe.pending_total()
    assert total > 40 and pipe.next_message_size() == total
    assert pipe.pending() == 0  # nothing half-read yet
    first = pipe.read(10)
    assert len(first) == 10 and pipe.pending() == total - 10
    rest = pipe.read(1 << 16)
    assert len(rest) == total - 10 and pipe.pending() == 0 and pipe.read(100) == b""
    assert pipe.pending_total() == 0


def test_whole_fragment_read_leaves_nothing_pending_though_more_fragments_wait() -> None:
    big = many_shares(100)
    pipe = SrvsvcPipe(server_name="PC", workgroup="WG", shares=lambda: big)
    ack_of(pipe, impacket_bind())
    stub = bytes.fromhex("000000000100000001000000") + b"\x04\x00\x02\x00" + b"\0" * 8
    pipe.write(request_bytes(call_id=2, opnum=15, stub=stub + b"\xff\xff\xff\xff" + b"\0" * 4))
    first = pipe.read(4280)
    assert first[3] == rpc.PFC_FIRST_FRAG and len(first) == 4280
    # The core answers STATUS_SUCCESS (not BUFFER_OVERFLOW) for a READ that got a whole fragment.
    assert pipe.pending() == 0 and pipe.pending_total() > 0
    second_size = pipe.next_message_size()
    assert len(pipe.read(100)) == 100
    assert pipe.pending() == pipe.next_message_size() == second_size - 100
    assert len(pipe.read(1 << 16)) == second_size - 100 and pipe.pending() == 0


def test_fragmented_request_from_impacket_is_reassembled() -> None:
    pipe = new_pipe()
    dce = PipeTransport(pipe).get_dce_rpc()
    dce.connect()
    dce.bind(srvs.MSRPC_UUID_SRVS)
    dce.set_max_fragment_size(16)  # impacket sends each 16-byte stub slice as its own PDU
    resp = srvs.hNetrShareGetInfo(dce, "DOCS\x00", 1)
    assert resp["InfoStruct"]["ShareInfo1"]["shi1_remark"] == "Office documents\x00"


def test_request_split_across_writes_at_every_offset() -> None:
    whole = impacket_bind() + request_bytes(
        call_id=2, opnum=21, stub=b"\x00\x00\x00\x00e\x00\x00\x00"
    )
    for cut in range(1, len(whole)):
        pipe = new_pipe()
        pipe.write(whole[:cut])
        pipe.write(whole[cut:])
        msgs = read_all(pipe)
        assert [m[2] for m in msgs] == [rpc.PType.BIND_ACK, rpc.PType.RESPONSE]


def test_request_before_bind_faults_with_proto_error() -> None:
    pipe = new_pipe()
    pipe.write(request_bytes(call_id=5, opnum=15, stub=b""))
    (msg,) = read_all(pipe)
    assert fault_status(msg) == rpc.Fault.PROTO_ERROR
    assert struct.unpack_from("<I", msg, 12)[0] == 5
    assert msg[3] & rpc.PFC_DID_NOT_EXECUTE


@pytest.mark.parametrize(
    ("opnum", "stub", "status"),
    [
        (99, b"", rpc.Fault.OP_RNG_ERROR),
        (21, b"\x01\x00", rpc.Fault.BAD_STUB_DATA),  # truncated
        (16, b"\x00\x00\x00\x00\xff\xff\x00\x00\x00\x00\x00\x00", rpc.Fault.BAD_STUB_DATA),
    ],
)
def test_bad_calls_fault(opnum: int, stub: bytes, status: int) -> None:
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    pipe.write(request_bytes(call_id=3, opnum=opnum, stub=stub))
    (msg,) = read_all(pipe)
    assert fault_status(msg) == status


def test_authenticated_request_faults() -> None:
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    pipe.write(request_bytes(call_id=3, opnum=21, stub=b"\0" * 8, auth_len=8))
    (msg,) = read_all(pipe)
    assert fault_status(msg) == rpc.Fault.PROTO_ERROR


def test_stray_middle_fragment_faults_then_pipe_recovers() -> None:
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    pipe.write(request_bytes(call_id=3, opnum=21, stub=b"\0" * 8, flags=0))
    (msg,) = read_all(pipe)
    assert fault_status(msg) == rpc.Fault.PROTO_ERROR
    pipe.write(request_bytes(call_id=4, opnum=21, stub=b"\0\0\0\0e\0\0\0"))
    (msg,) = read_all(pipe)
    assert msg[2] == rpc.PType.RESPONSE


def test_garbage_header_faults_and_framing_restarts() -> None:
    pipe = new_pipe()
    pipe.write(b"\x05\x00\x0b\x03\x10\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00")
    (msg,) = read_all(pipe)
    assert fault_status(msg) == rpc.Fault.PROTO_ERROR
    assert ack_of(pipe, impacket_bind()).getCtxItems()[0]["Result"] == 0


def test_unbounded_request_is_cut_off() -> None:
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    chunk = b"\0" * 60000
    first = request_bytes(call_id=3, opnum=15, stub=chunk, flags=rpc.PFC_FIRST_FRAG)
    middle = request_bytes(call_id=3, opnum=15, stub=chunk, flags=0)
    pipe.write(first)
    for _ in range(MAX_BUFFERED // len(chunk) + 2):
        pipe.write(middle)
    (msg,) = read_all(pipe)
    assert fault_status(msg) == rpc.Fault.REMOTE_NO_MEMORY
    pipe.write(request_bytes(call_id=3, opnum=15, stub=b"", flags=rpc.PFC_LAST_FRAG))
    assert read_all(pipe) == []  # the rest of the refused call is swallowed


def test_oversized_write_and_unread_responses_raise_clean_error() -> None:
    pipe = new_pipe()
    with pytest.raises(PipeOverflow):
        pipe.write(b"\0" * (MAX_BUFFERED + 1))
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    req = request_bytes(call_id=2, opnum=21, stub=b"\0\0\0\0f\0\0\0")
    with pytest.raises(InvalidInput):
        for _ in range(MAX_BUFFERED // len(req) + 10):
            pipe.write(req * 100)


def test_response_packer_splits_on_8_byte_boundaries() -> None:
    stub = bytes(range(256)) * 40
    frags = rpc.pack_response(1, 0, stub, 1432)
    assert b"".join(f[24:] for f in frags) == stub
    assert all((len(f) - 24) % 8 == 0 for f in frags[:-1])
    for f in frags:
        assert struct.unpack_from("<H", f, 8)[0] == len(f) <= 1432
    assert rpc.pack_response(1, 0, b"", 1432)[0][3] == 3


def test_syntax_id_round_trip() -> None:
    s = rpc.SyntaxId(uuid.uuid4(), 3, 1)
    assert rpc.SyntaxId.parse(s.pack()) == s


# --- hostile input ------------------------------------------------------------------------

VALID_STREAM = (
    impacket_bind()
    + request_bytes(
        call_id=2,
        opnum=15,
        stub=bytes.fromhex("000000000100000001000000")
        + b"\x04\x00\x02\x00"
        + b"\0" * 8
        + b"\xff\xff\xff\xff"
        + b"\0" * 4,
    )
    + request_bytes(call_id=3, opnum=21, stub=b"\0\0\0\0e\0\0\0")
)

_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def drive(pipe: RpcPipe, chunks: list[bytes]) -> None:
    """Feed chunks; only our own clean errors may come out, and reads must terminate."""
    for c in chunks:
        with contextlib.suppress(InvalidInput):
            pipe.write(c)
        msgs = read_all(pipe)
        for m in msgs:
            assert len(m) >= 16 and m[0] == 5
            assert m[2] in (
                rpc.PType.BIND_ACK,
                rpc.PType.BIND_NAK,
                rpc.PType.ALTER_CONTEXT_RESP,
                rpc.PType.RESPONSE,
                rpc.PType.FAULT,
            )
            assert struct.unpack_from("<H", m, 8)[0] == len(m)


@_SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_random_bytes_only_fault_or_clean_error(chunks: list[bytes]) -> None:
    drive(new_pipe(), chunks)


@_SETTINGS
@given(st.data())
def test_mutated_valid_stream(data: st.DataObject) -> None:
    stream = bytearray(VALID_STREAM)
    for _ in range(data.draw(st.integers(0, 6))):
        pos = data.draw(st.integers(0, len(stream) - 1))
        stream[pos] = data.draw(st.integers(0, 255))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [bytes(stream[a:b]) for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    drive(new_pipe(), chunks)


@_SETTINGS
@given(st.data())
def test_unmutated_stream_split_anywhere_answers_every_call(data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(VALID_STREAM)), max_size=10)))
    pipe = new_pipe()
    msgs: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(VALID_STREAM)], strict=True):
        pipe.write(VALID_STREAM[a:b])
        msgs += read_all(pipe)
    assert [m[2] for m in msgs] == [rpc.PType.BIND_ACK, rpc.PType.RESPONSE, rpc.PType.RESPONSE]


@_SETTINGS
@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 255),
    st.binary(max_size=200),
)
def test_lying_lengths_in_requests(frag_len: int, auth_len: int, flags: int, tail: bytes) -> None:
    pipe = new_pipe()
    ack_of(pipe, impacket_bind())
    pdu = bytearray(request_bytes(call_id=2, opnum=15, stub=tail, flags=flags))
    struct.pack_into("<HH", pdu, 8, frag_len, auth_len)
    drive(pipe, [bytes(pdu), bytes(pdu)])
