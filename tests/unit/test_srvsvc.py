"""srvsvc and wkssvc calls, decoded by impacket's client-side NDR structures."""

from __future__ import annotations

import contextlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5 import rpcrt, srvs, wkst
from impacket.dcerpc.v5.rpcrt import DCERPCException

from peerwork.errors import InvalidInput
from peerwork.proto import dcerpc as rpc
from peerwork.proto.ndr import NdrError
from peerwork.proto.rpc_pipe import RpcFault
from peerwork.proto.srvsvc import (
    ShareEntry,
    ShareKind,
    SrvsvcInterface,
    SrvsvcPipe,
    pipe_for,
    pipe_name,
)
from peerwork.proto.wkssvc import WkssvcInterface, WkssvcPipe
from tests.unit.test_dcerpc import PipeTransport, read_all

SHARES = [
    ShareEntry("docs", "Office documents", ShareKind.DISK),
    ShareEntry("Büro Ablage", "Ablage für alle · 2026", ShareKind.DISK),
    ShareEntry("scans", "", ShareKind.DISK),
    ShareEntry("IPC$", "IPC Service (peerwork)", ShareKind.IPC),
]


def connect(pipe: SrvsvcPipe | WkssvcPipe, iface: bytes, read_size: int = 65536):  # type: ignore[no-untyped-def]
    dce = PipeTransport(pipe, read_size).get_dce_rpc()
    dce.connect()
    dce.bind(iface)
    return dce


def srvsvc(shares: list[ShareEntry] = SHARES, **kw: str) -> SrvsvcPipe:
    pipe = pipe_for(
        "\\PIPE\\srvsvc", server_name="FRONTDESK", workgroup="OFFICE", shares=lambda: shares, **kw
    )
    assert isinstance(pipe, SrvsvcPipe)
    return pipe


def enum_level1(dce) -> list[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    resp = srvs.hNetrShareEnum(dce, 1)
    assert resp["ErrorCode"] == 0
    assert resp["TotalEntries"] == len(resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"])
    return [
        (e["shi1_netname"][:-1], e["shi1_type"], e["shi1_remark"][:-1])
        for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]
    ]


def test_share_enum_level1_lists_names_types_comments() -> None:
    dce = connect(srvsvc(), srvs.MSRPC_UUID_SRVS)
    assert enum_level1(dce) == [
        ("docs", 0, "Office documents"),
        ("Büro Ablage", 0, "Ablage für alle · 2026"),
        ("scans", 0, ""),
        ("IPC$", 0x80000003, "IPC Service (peerwork)"),
    ]


def test_share_enum_level0() -> None:
    dce = connect(srvsvc(), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 0)
    names = [e["shi0_netname"][:-1] for e in resp["InfoStruct"]["ShareInfo"]["Level0"]["Buffer"]]
    assert names == ["docs", "Büro Ablage", "scans", "IPC$"]


def test_share_enum_empty_list() -> None:
    dce = connect(srvsvc([]), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 1)
    assert resp["TotalEntries"] == 0 and resp["ErrorCode"] == 0


def test_share_list_is_asked_on_every_call() -> None:
    current = [SHARES[0]]
    pipe = SrvsvcPipe(server_name="PC", workgroup="WG", shares=lambda: list(current))
    dce = connect(pipe, srvs.MSRPC_UUID_SRVS)
    assert [n for n, _, _ in enum_level1(dce)] == ["docs"]
    current.append(SHARES[2])
    assert [n for n, _, _ in enum_level1(dce)] == ["docs", "scans"]


@pytest.mark.parametrize(("level", "error"), [(2, 5), (502, 5), (503, 5), (7, 124)])
def test_share_enum_other_levels_refused(level: int, error: int) -> None:
    # impacket cannot encode an unknown union arm, so the request is built by hand.
    stub = struct.pack("<IIIIII", 0, level, level, 0, 0xFFFFFFFF, 0)
    out = SrvsvcInterface(server_name="PC", comment="c", shares=lambda: SHARES).call(15, stub)
    assert struct.unpack("<6I", out) == (level, level, 0, 0, 0, error)


@pytest.mark.parametrize("level", [2, 502])
def test_share_enum_admin_levels_via_impacket(level: int) -> None:
    dce = connect(srvsvc(), srvs.MSRPC_UUID_SRVS)
    with pytest.raises(DCERPCException) as exc:
        srvs.hNetrShareEnum(dce, level)
    assert exc.value.get_error_code() == 5


def test_share_enum_resume_handle_skips() -> None:
    stub = struct.pack("<IIIIIIII", 0, 0, 0, 0x20000, 0, 0, 0xFFFFFFFF, 0x20004) + struct.pack(
        "<I", 2
    )
    out = SrvsvcInterface(server_name="PC", comment="c", shares=lambda: SHARES).call(15, stub)
    resp = srvs.NetrShareEnumResponse(out)
    names = [e["shi0_netname"][:-1] for e in resp["InfoStruct"]["ShareInfo"]["Level0"]["Buffer"]]
    assert names == ["scans", "IPC$"]
    assert resp["TotalEntries"] == 4 and resp["ResumeHandle"] == 0


@pytest.mark.parametrize("name", ["docs", "DOCS", "büro ablage", "ipc$"])
def test_share_get_info_is_case_insensitive(name: str) -> None:
    dce = connect(srvsvc(), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareGetInfo(dce, name + "\x00", 1)
    info = resp["InfoStruct"]["ShareInfo1"]
    assert info["shi1_netname"][:-1].casefold() == name.casefold()


def test_share_get_info_levels() -> None:
    dce = connect(srvsvc(), srvs.MSRPC_UUID_SRVS)
    r0 = srvs.hNetrShareGetInfo(dce, "docs\x00", 0)
    assert r0["InfoStruct"]["ShareInfo0"]["shi0_netname"] == "docs\x00"
    r501 = srvs.hNetrShareGetInfo(dce, "docs\x00", 501)["InfoStruct"]["ShareInfo501"]
    assert (r501["shi501_type"], r501["shi501_remark"], r501["shi501_flags"]) == (
        0,
        "Office documents\x00",
        0,
    )
    r1005 = srvs.hNetrShareGetInfo(dce, "docs\x00", 1005)
    assert r1005["InfoStruct"]["ShareInfo1005"]["shi1005_flags"] == 0
    for level in (2, 502):
        with pytest.raises(DCERPCException) as exc:
            srvs.hNetrShareGetInfo(dce, "docs\x00", level)
        assert exc.value.get_error_code() == 5


def test_share_get_info_unknown_share() -> None:
    dce = connect(srvsvc(), srvs.MSRPC_UUID_SRVS)
    with pytest.raises(DCERPCException) as exc:
        srvs.hNetrShareGetInfo(dce, "nosuch\x00", 1)
    assert exc.value.get_error_code() == 2310  # NERR_NetNameNotFound


def test_server_get_info_levels() -> None:
    dce = connect(srvsvc(comment="Front desk PC"), srvs.MSRPC_UUID_SRVS)
    i100 = srvs.hNetrServerGetInfo(dce, 100)["InfoStruct"]["ServerInfo100"]
    assert (i100["sv100_platform_id"], i100["sv100_name"]) == (500, "FRONTDESK\x00")
    i101 = srvs.hNetrServerGetInfo(dce, 101)["InfoStruct"]["ServerInfo101"]
    assert i101["sv101_comment"] == "Front desk PC\x00"
    assert i101["sv101_type"] & 0x3 == 0x3  # workstation and server
    assert i101["sv101_version_major"] >= 5
    i102 = srvs.hNetrServerGetInfo(dce, 102)["InfoStruct"]["ServerInfo102"]
    assert i102["sv102_name"] == "FRONTDESK\x00" and i102["sv102_hidden"] == 0


def test_server_get_info_unknown_level() -> None:
    out = SrvsvcInterface(server_name="PC", comment="c", shares=list).call(
        21, struct.pack("<II", 0, 503)
    )
    assert struct.unpack("<III", out) == (503, 0, 124)


def test_wkssvc_get_info() -> None:
    pipe = pipe_for("WKSSVC", server_name="FRONTDESK", workgroup="OFFICE", shares=list)
    assert isinstance(pipe, WkssvcPipe)
    dce = connect(pipe, wkst.MSRPC_UUID_WKST)
    i100 = wkst.hNetrWkstaGetInfo(dce, 100)["WkstaInfo"]["WkstaInfo100"]
    assert i100["wki100_computername"] == "FRONTDESK\x00"
    assert i100["wki100_langroup"] == "OFFICE\x00"
    assert i100["wki100_platform_id"] == 500
    i101 = wkst.hNetrWkstaGetInfo(dce, 101)["WkstaInfo"]["WkstaInfo101"]
    assert i101["wki101_langroup"] == "OFFICE\x00"
    with pytest.raises(DCERPCException) as exc:
        wkst.hNetrWkstaGetInfo(dce, 102)
    assert exc.value.get_error_code() == 5


def test_wkssvc_pipe_refuses_srvsvc_bind() -> None:
    pipe = WkssvcPipe(server_name="PC", workgroup="WG")
    dce = PipeTransport(pipe).get_dce_rpc()
    dce.connect()
    with pytest.raises(DCERPCException):
        dce.bind(srvs.MSRPC_UUID_SRVS)


def test_response_read_in_pieces_with_small_reads() -> None:
    # A client whose READs are shorter than our fragments (the core answers
    # STATUS_BUFFER_OVERFLOW and the client reads the rest).
    many = [ShareEntry(f"s{i}", "x" * 30, ShareKind.DISK) for i in range(300)]
    dce = connect(srvsvc(many), srvs.MSRPC_UUID_SRVS, read_size=1000)
    assert len(enum_level1(dce)) == 300


def test_transact_returns_first_fragment() -> None:
    pipe = srvsvc()
    dce = connect(pipe, srvs.MSRPC_UUID_SRVS)
    req = srvs.NetrServerGetInfo()
    req["ServerName"] = "\x00"
    req["Level"] = 101
    body = req.getData()
    pdu = struct.pack("<BBBB4sHHI", 5, 0, 0, 3, b"\x10\0\0\0", 24 + len(body), 0, 9)
    pdu += struct.pack("<IHH", len(body), 0, 21) + body
    out = pipe.transact(pdu, 4280)
    assert out[2] == rpc.PType.RESPONSE and pipe.pending() == 0
    info = srvs.NetrServerGetInfoResponse(out[24:])["InfoStruct"]["ServerInfo101"]
    assert info["sv101_name"] == "FRONTDESK\x00"
    del dce


@pytest.mark.parametrize(
    ("given_name", "want"),
    [
        ("srvsvc", "srvsvc"),
        ("SRVSVC", "srvsvc"),
        ("\\PIPE\\srvsvc", "srvsvc"),
        ("\\pipe\\WksSvc", "wkssvc"),
        ("\\srvsvc", "srvsvc"),
        ("lsarpc", "lsarpc"),
    ],
)
def test_pipe_names(given_name: str, want: str) -> None:
    assert pipe_name(given_name) == want


def test_pipe_for_unknown_pipe_is_none() -> None:
    assert pipe_for("lsarpc", server_name="PC", workgroup="WG", shares=list) is None
    assert pipe_for("\\PIPE\\samr", server_name="PC", workgroup="WG", shares=list) is None


def test_pipe_for_srvsvc_uses_every_argument() -> None:
    pipe = pipe_for("srvsvc", server_name="PC", workgroup="WG", shares=list, comment="hi")
    assert isinstance(pipe, SrvsvcPipe) and pipe.workgroup == "WG"


# --- hostile stub data --------------------------------------------------------------------

_SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid_stubs() -> list[tuple[int, bytes]]:
    e = srvs.NetrShareEnum()
    e["ServerName"] = "\\\\FRONTDESK\x00"
    e["InfoStruct"]["Level"] = 1
    e["InfoStruct"]["ShareInfo"]["tag"] = 1
    e["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"] = srvs.NULL
    e["PreferedMaximumLength"] = 0xFFFFFFFF
    e["ResumeHandle"] = 0
    g = srvs.NetrShareGetInfo()
    g["ServerName"] = "\x00"
    g["NetName"] = "docs\x00"
    g["Level"] = 1
    s = srvs.NetrServerGetInfo()
    s["ServerName"] = "\x00"
    s["Level"] = 101
    return [(15, e.getData()), (16, g.getData()), (21, s.getData())]


VALID_STUBS = _valid_stubs()


def call_cleanly(opnum: int, stub: bytes) -> None:
    iface = SrvsvcInterface(server_name="PC", comment="c", shares=lambda: SHARES)
    try:
        out = iface.call(opnum, stub)
    except (RpcFault, NdrError):
        return
    assert len(out) % 4 == 0


@_SETTINGS
@given(st.sampled_from([0, 15, 16, 21, 36]), st.binary(max_size=200))
def test_random_stubs_fault_or_answer(opnum: int, stub: bytes) -> None:
    call_cleanly(opnum, stub)
    with contextlib.suppress(RpcFault, NdrError):
        WkssvcInterface(server_name="PC", workgroup="WG").call(opnum, stub)


@_SETTINGS
@given(st.sampled_from(VALID_STUBS), st.data())
def test_mutated_stubs_fault_or_answer(valid: tuple[int, bytes], data: st.DataObject) -> None:
    opnum, stub = valid
    raw = bytearray(stub)
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    call_cleanly(opnum, bytes(raw[:cut]))


def test_errors_are_peerwork_errors() -> None:
    assert issubclass(NdrError, InvalidInput)
    with pytest.raises(NdrError):
        SrvsvcInterface(server_name="PC", comment="c", shares=list).call(16, b"\0" * 4)


# --- golden replays of captures against Samba ---------------------------------------------

GOLDEN = json.loads(
    (Path(__file__).parent.parent / "data/dcerpc/samba_share_listing.json").read_text()
)
_RESPONSES = {
    15: srvs.NetrShareEnumResponse,
    16: srvs.NetrShareGetInfoResponse,
    21: srvs.NetrServerGetInfoResponse,
}


def _golden_pipe(kind: str) -> SrvsvcPipe | WkssvcPipe:
    srv = GOLDEN["server"]
    entries = [ShareEntry(n, c, ShareKind(k)) for n, c, k in srv["shares"]]
    pipe = pipe_for(
        kind,
        server_name=srv["server_name"],
        workgroup="WORKGROUP",
        shares=lambda: entries,
        comment=srv["comment"],
    )
    assert pipe is not None
    return pipe


def _decoded(opnum: int, pipe_kind: str, stub: bytes) -> Any:
    cls = wkst.NetrWkstaGetInfoResponse if pipe_kind == "wkssvc" else _RESPONSES[opnum]
    return cls(stub)


@pytest.mark.parametrize("conv", GOLDEN["conversations"], ids=lambda c: c["client"])
def test_replay_of_real_client_matches_samba(conv: dict[str, Any]) -> None:
    pipe = _golden_pipe(conv["pipe"])
    opnum = -1
    ours: list[bytes] = []
    samba: list[bytes] = []
    for pdu in conv["pdus"]:
        data = bytes.fromhex(pdu["hex"])
        if pdu["from"] == "client":
            if data[2] == rpc.PType.REQUEST:
                opnum = struct.unpack_from("<H", data, 22)[0]
            pipe.write(data)
            ours += read_all(pipe)
        else:
            samba.append(data)
    assert len(ours) == len(samba)
    for mine, theirs in zip(ours, samba, strict=True):
        # ptype, flags, data representation and call id as Samba sends them
        assert mine[2:8] == theirs[2:8] and mine[12:16] == theirs[12:16]
        if mine[2] == rpc.PType.BIND_ACK:
            a, b = rpcrt.MSRPCBindAck(mine), rpcrt.MSRPCBindAck(theirs)
            assert (a["max_tfrag"], a["max_rfrag"]) == (b["max_tfrag"], b["max_rfrag"])
            assert a["SecondaryAddr"].lower() == b["SecondaryAddr"].lower()
            assert [bytes(i.getData()) for i in a.getCtxItems()] == [
                bytes(i.getData()) for i in b.getCtxItems()
            ]
        else:
            # Same layout (referent ids differ) and the same decoded values.
            assert len(mine) == len(theirs)
            a, b = (
                _decoded(opnum, conv["pipe"], mine[24:]),
                _decoded(opnum, conv["pipe"], theirs[24:]),
            )
            if opnum == 21:  # Samba also announces print and Unix server bits
                for r in (a, b):
                    r["InfoStruct"]["ServerInfo101"]["sv101_type"] = 0
            assert _plain(a) == _plain(b)


def _plain(value: Any) -> Any:
    """An impacket NDR value as nested Python values, for comparison."""
    fields = getattr(value, "fields", None)
    if isinstance(fields, dict):
        if "Data" in fields and len(fields) == 1:  # an NDR pointer
            return _plain(fields["Data"])
        return {k: _plain(v) for k, v in fields.items() if k not in ("ReferentID",)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
