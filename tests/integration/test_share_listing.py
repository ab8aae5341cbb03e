"""Share listing through \\PIPE\\srvsvc with real clients against peerwork's SMB server.

Clients: Samba's ``smbclient -L`` and ``rpcclient`` (srvsvc over SMB2 on
IPC$), and pysmb's ``SMBConnection.listShares()`` (WRITE/READ on the pipe).
The server is peerwork's own SmbServer in-process on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from smb.SMBConnection import SMBConnection

from peerwork.shares import Access, Share
from tests.helpers.smbserver_runner import ServerThread, ShareTable, smb_server

pytestmark = pytest.mark.skipif(
    shutil.which("smbclient") is None, reason="smbclient (Debian package smbclient) is missing"
)

ALICE = ("alice", "Alice-Secret1")
BOB = ("bob", "Bob-Secret2")


@dataclass
class Lab:
    srv: ServerThread
    table: ShareTable
    root: Path

    @property
    def port(self) -> int:
        return self.srv.port


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("listing")
    shares = []
    for name, comment, grants in [
        ("docs", "Office documents", {"alice": Access.CHANGE, "bob": Access.READ}),
        ("Büro", "Ablage für alle", {"everyone": Access.READ, "anonymous": Access.READ}),
        ("private", "Bob only", {"bob": Access.FULL}),
    ]:
        folder = root / name
        folder.mkdir()
        shares.append(Share(name, folder, comment, grants))
    with smb_server(root, users=dict([ALICE, BOB]), shares=shares) as smb:
        yield Lab(smb.server, smb.table, root)


def smbclient_list(port: int, user: tuple[str, str], *extra: str) -> dict[str, tuple[str, str]]:
    done = subprocess.run(
        ["smbclient", "-L", "//127.0.0.1", "-p", str(port), "-U", "%".join(user), "-g", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # -g prints "Type|Name|Comment" lines; the SMB1 workgroup step fails harmlessly.
    rows = [line.split("|", 2) for line in done.stdout.splitlines() if line.count("|") >= 2]
    listed = {name: (kind, comment) for kind, name, comment in rows if kind in ("Disk", "IPC")}
    assert listed, f"smbclient listed nothing (rc {done.returncode}): {done.stdout}{done.stderr}"
    return listed


def pysmb_list(port: int, user: tuple[str, str]) -> dict[str, tuple[int, str]]:
    conn = SMBConnection(
        user[0], user[1], "pytest", "PEERTEST", use_ntlm_v2=True, is_direct_tcp=True
    )
    try:
        assert conn.connect("127.0.0.1", port, timeout=20)
        return {s.name: (s.type, s.comments) for s in conn.listShares(timeout=20)}
    finally:
        conn.close()


def rpcclient(port: int, user: tuple[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rpcclient", "-p", str(port), "-U", "%".join(user), "127.0.0.1", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_smbclient_lists_shares_with_comments(lab: Lab) -> None:
    listed = smbclient_list(lab.port, ALICE)
    assert listed["docs"] == ("Disk", "Office documents")
    assert listed["Büro"] == ("Disk", "Ablage für alle")
    assert listed["IPC$"][0] == "IPC"


def test_smbclient_with_signing_required_lists_shares(lab: Lab) -> None:
    listed = smbclient_list(lab.port, BOB, "--client-protection=sign")
    assert listed["docs"] == ("Disk", "Office documents")


def test_pysmb_list_shares(lab: Lab) -> None:
    listed = pysmb_list(lab.port, ALICE)
    # pysmb reports the share type without the STYPE_SPECIAL bit (IPC is 3).
    assert listed["docs"] == (0, "Office documents")
    assert listed["Büro"] == (0, "Ablage für alle")
    assert listed["IPC$"][0] == 3


def test_share_added_while_running_is_listed(lab: Lab) -> None:
    folder = lab.root / "late"
    folder.mkdir()
    lab.table.add(Share("late", folder, "Added later", {"alice": Access.READ}))
    try:
        assert smbclient_list(lab.port, ALICE)["late"] == ("Disk", "Added later")
        assert pysmb_list(lab.port, ALICE)["late"] == (0, "Added later")
    finally:
        lab.table.remove("late")
    assert "late" not in smbclient_list(lab.port, ALICE)


def test_listing_hides_shares_without_access(lab: Lab) -> None:
    assert "private" in smbclient_list(lab.port, BOB)
    assert "private" not in smbclient_list(lab.port, ALICE)
    assert "private" not in pysmb_list(lab.port, ALICE)
    # IPC$ is always listed, and the filter follows grant changes without a restart.
    assert "IPC$" in smbclient_list(lab.port, ALICE)
    private = lab.table.get("private")
    assert private is not None
    lab.table.add(private.with_grants({"alice": Access.READ}))
    try:
        assert "private" in smbclient_list(lab.port, ALICE)
    finally:
        lab.table.add(private)
    assert "private" not in smbclient_list(lab.port, ALICE)


def test_anonymous_listing_shows_only_anonymous_shares(lab: Lab) -> None:
    listed = smbclient_list(lab.port, ("", ""), "-N")
    assert "Büro" in listed and "IPC$" in listed
    assert "docs" not in listed and "private" not in listed


@pytest.mark.skipif(shutil.which("rpcclient") is None, reason="rpcclient is missing")
def test_rpcclient_server_and_share_info(lab: Lab) -> None:
    info = rpcclient(lab.port, ALICE, "srvinfo")
    assert info.returncode == 0, info.stderr
    assert "platform_id     :\t500" in info.stdout
    assert "PEERTEST" in info.stdout
    flags = rpcclient(lab.port, ALICE, "netsharegetinfo docs 1005")
    assert flags.returncode == 0 and "csc caching: 0" in flags.stdout, flags.stdout + flags.stderr
    one = rpcclient(lab.port, ALICE, "netsharegetinfo DOCS 1")
    assert "remark:\tOffice documents" in one.stdout, one.stdout + one.stderr
    missing = rpcclient(lab.port, ALICE, "netsharegetinfo nosuch 1")
    assert "WERR_NERR_NETNAMENOTFOUND" in missing.stdout + missing.stderr
    # Level 2 carries local paths: refused, as Windows refuses it to non-administrators.
    level2 = rpcclient(lab.port, ALICE, "netshareenumall 2")
    assert "WERR_ACCESS_DENIED" in level2.stdout + level2.stderr
    wks = rpcclient(lab.port, ALICE, "wkssvc_wkstagetinfo")
    assert wks.returncode == 0, wks.stdout + wks.stderr


def test_long_listing_spans_several_fragments(lab: Lab) -> None:
    # ~120 shares with long comments: the NetrShareEnum answer is ~25 KB, so it travels as
    # several RESPONSE fragments (4280 bytes each), read one pipe message at a time.
    names = [f"bulk{i:03d}" for i in range(120)]
    for name in names:
        folder = lab.root / name
        folder.mkdir(exist_ok=True)
        lab.table.add(Share(name, folder, f"Bulk share {name} " + "·" * 60, {"alice": Access.READ}))
    try:
        listed = smbclient_list(lab.port, ALICE)
        assert all(listed[n] == ("Disk", f"Bulk share {n} " + "·" * 60) for n in names)
        via_pysmb = pysmb_list(lab.port, ALICE)
        assert all(via_pysmb[n][1] == f"Bulk share {n} " + "·" * 60 for n in names)
        via_impacket = impacket_list(lab.port, ALICE, max_fragment=0)
        assert set(names) <= set(via_impacket)
    finally:
        for name in names:
            lab.table.remove(name)


def impacket_list(port: int, user: tuple[str, str], max_fragment: int) -> dict[str, str]:
    """impacket's RPC client over SMB: its requests can be cut into many small fragments."""
    from impacket.dcerpc.v5 import srvs, transport

    rpc = transport.SMBTransport("127.0.0.1", port, r"\srvsvc", username=user[0], password=user[1])
    if max_fragment:
        rpc.set_max_fragment_size(max_fragment)
    dce = rpc.get_dce_rpc()
    dce.connect()
    try:
        if max_fragment:
            dce.set_max_fragment_size(max_fragment)
        dce.bind(srvs.MSRPC_UUID_SRVS)
        resp = srvs.hNetrShareEnum(dce, 1)
        return {
            e["shi1_netname"][:-1]: e["shi1_remark"][:-1]
            for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]
        }
    finally:
        dce.disconnect()


def test_impacket_request_in_many_fragments_over_smb(lab: Lab) -> None:
    # Each 16-byte slice of the request stub is its own PDU in its own SMB2 WRITE.
    listed = impacket_list(lab.port, ALICE, max_fragment=16)
    assert listed["docs"] == "Office documents"
