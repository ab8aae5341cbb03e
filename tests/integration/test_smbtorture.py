"""Samba's smbtorture (samba-testsuite) against peerwork's own SMB2 server.

The selection covers what an office file share lives on: connect/close,
read/write, create dispositions, directory listing, rename, byte-range locks,
info queries and compounds. PASSING are asserted to pass; KNOWN_FAILING are
listed with the reason, so the table in this file is the honest state of
conformance (README quotes it). Set PEERWORK_TORTURE_ALL=1 to run the known
failures too and see which have started passing (each in its own process,
60 s timeout). ``python -m tests.integration.test_smbtorture`` prints the table
as Markdown for README.

The passing set runs as one smbtorture process (a few per-test results parsed
from its output), which keeps this file under ~2 minutes on 2 cores. It runs
three times: as smbtorture negotiates by default (SMB 3.1.1, signing as the
client likes), over SMB 2.1, and over SMB 3.1.1 with every message encrypted
(``--client-protection=encrypt``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from peerwork.shares import Access, Share
from tests.helpers.smbserver_runner import smb_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("smbtorture") is None, reason="smbtorture missing"),
]

TIMEOUT = 60
# The passing set runs in one smbtorture process (it is ~3x faster than one process
# per test); its whole budget, so CI stays within ~3 minutes on 2 cores.
BATCH_TIMEOUT = 240

# test -> what it shows. Asserted to pass.
PASSING = {
    "connect": "second CLOSE of a FileId is FILE_CLOSED, stream info",
    "read.eof": "READ at and past end of file",
    "read.position": "FilePositionInformation follows READ",
    "read.dir": "READ on a folder is refused",
    "read.access": "READ needs read access on the open",
    "rw.rw1": "random writes and reads compare",
    "rw.rw2": "random writes and reads across opens",
    "create.brlocked": "open of a byte-range-locked file",
    "create.multi": "many opens of one name",
    "create.delete": "delete-on-close and DELETE access rules",
    "create.leading-slash": "a leading backslash is INVALID_PARAMETER",
    "create.mkdir-dup": "mkdir of an existing name",
    "create.dir-alloc-size": "folders report no allocation",
    "create.open": "dispositions, attributes and options of CREATE",
    "dir.find": "QUERY_DIRECTORY basics",
    "dir.many": "listing 700 files in several calls",
    "dir.sorted": "listing order",
    "dir.large-files": "listing of many files with long names",
    "rename.simple": "rename of an open file",
    "rename.simple_nodelete": "rename needs DELETE access",
    "rename.no_sharing": "rename with no share modes",
    "rename.share_delete_no_delete_access": "share modes of other opens on rename",
    "rename.share_delete_and_delete_access": "same, with DELETE access",
    "rename.no_share_delete_but_delete_access": "same, without FILE_SHARE_DELETE",
    "rename.no_share_delete_no_delete_access": "same, with neither",
    "rename.msword": "Word's save dance (rename while the folder is open)",
    "rename.close-full-information": "CLOSE's attributes after a rename",
    "lock.rw-shared": "I/O against shared locks",
    "lock.rw-exclusive": "I/O against exclusive locks",
    "lock.auto-unlock": "locks go with the open",
    "lock.zerobyteread": "zero-byte reads inside locks",
    "lock.stacking": "lock stacking on one open",
    "lock.contend": "two opens contending",
    "lock.context": "locks belong to the open, not the session",
    "lock.range": "ranges up to 2^64",
    "lock.overlap": "overlapping ranges",
    "lock.truncate": "truncate of a locked file",
    "getinfo.qsec_buffercheck": "security descriptor buffer sizes",
    "getinfo.granted": "granted access reported back",
    "compound.related3": "related CREATE/IOCTL/CLOSE chain",
    "compound.related5": "related chain after a CLOSE",
    "compound.related6": "related chain with a failing command",
    "compound.related9": "related chain of several commands",
    "compound.unrelated1": "unrelated compound",
    "compound.invalid1": "related first command is INVALID_PARAMETER",
    "compound.invalid3": "compound with an invalid command",
    "compound.invalid4": "related command after an unrelated failure",
    "compound.create-write-close": "related CREATE/WRITE/CLOSE",
    "compound.compound-break": "compound with an oplock request (none granted)",
    "compound_find.compound_find_related": "related CREATE/QUERY_DIRECTORY",
    "compound_find.compound_find_unrelated": "unrelated QUERY_DIRECTORY compound",
    "credits.session_setup_credits_granted": "credits granted at logon",
    "credits.single_req_credits_granted": "credits granted per request",
    "credits.skipped_mid": "a skipped MessageId keeps the window open",
    "sharemode.sharemode-access": "share mode x access matrix",
    "sharemode.access-sharemode": "access x share mode matrix",
    "sharemode.bug14375": "share modes after a failed open",
    "session.two_logoff": "second LOGOFF",
    "session.ntlmssp_bug14932": "a malformed NTLMv2 blob is INVALID_PARAMETER, not a failed logon",
    "delete-on-close-perms.OVERWRITE_IF": "delete-on-close of a new file",
    "delete-on-close-perms.CREATE": "same, CREATE",
    "delete-on-close-perms.CREATE Existing": "same, CREATE of an existing name",
    "delete-on-close-perms.CREATE_IF": "same, CREATE_IF",
    "delete-on-close-perms.FIND_and_set_DOC": "delete-on-close while listing",
    "delete-on-close-perms.READONLY": "read-only files are CANNOT_DELETE",
    "delete-on-close-perms.BUG14427": "delete-on-close of a folder being listed",
}

# Run with --target=samba3: the test expects DISK_FULL from Windows' NTFS for a 1-byte
# write just below 16 TiB, where Linux (and smbd) store a sparse file; everything
# else in it (offset limits) is checked the Windows way.
PASSING_AS_SAMBA = {"rw.invalid": "READ/WRITE offset limits (2^63-1, NTFS max size)"}

# Pass, but take ~40 s each (10,000 creates): outside CI's budget, asserted with
# PEERWORK_TORTURE_ALL=1.
SLOW_PASSING = {"compound_find.compound_find_close": "CLOSE while a large listing is pending"}

_OPLOCKS = "we grant no oplocks (level 0, a valid refusal); the test needs an oplock"
_STREAMS = "named streams are refused (OBJECT_NAME_INVALID, not advertised), as on FAT"
_ACLS = "per-file security descriptors are not stored: access is share-level"
_BLOCKING_LOCKS = "blocking (pending) byte-range locks not offered: they fail at once"
_COPYCHUNK = "server-side copy (FSCTL_SRV_REQUEST_RESUME_KEY/COPYCHUNK) not offered"
_LEASES = "leases are not granted (no SMB2_GLOBAL_CAP_LEASING); the test needs one"
_SHALLOW_COPY = (
    "smbtorture 4.17.12-Debian itself segfaults (smbXcli_session_shallow_copy) before "
    "sending the compound; same against smbd"
)

# test -> why it does not pass (yet). Run with PEERWORK_TORTURE_ALL=1 to recheck.
KNOWN_FAILING = {
    "rw.invalid": "(as Windows) wants DISK_FULL for a sparse write at 16 TiB; see PASSING_AS_SAMBA",
    "create.gentest": "reserved option/attribute bits are not refused with INVALID_PARAMETER",
    "create.blob": "durable-handle/lease/alloc-size create contexts are ignored, not answered",
    "create.impersonation": "no BAD_IMPERSONATION_LEVEL check",
    "create.acldir": _ACLS,
    "create.aclfile": _ACLS,
    "create.nulldacl": _ACLS,
    "create.dosattr_tmp_dir": "FILE_ATTRIBUTE_TEMPORARY on a folder is not refused",
    "create.quota-fake-file": "the $Extend\\$Quota fake file is not offered",
    "dir.one": "needs 8.3 short names; we generate none (as Windows data volumes by default)",
    "dir.fixed": "FileIndex / resume semantics across handles not implemented",
    "dir.modify": "listing while files are added/removed mid-enumeration",
    "rename.rename_dir_openfile": "renaming a folder with open files inside is allowed",
    "lock.valid-request": "unlock of a never-locked range inside a multi-element request",
    "lock.lock": "lock upgrade/re-lock rules of the same open differ from Windows",
    "lock.errorcode": "FILE_LOCK_CONFLICT vs LOCK_NOT_GRANTED retry rule not modelled",
    "lock.zerobytelength": "zero-length lock conflict rules",
    "lock.unlock": "same-open overlapping exclusive locks",
    "lock.multiple-unlock": "mixed unlock+lock element handling",
    "lock.async": _BLOCKING_LOCKS,
    "lock.cancel": _BLOCKING_LOCKS,
    "lock.cancel-tdis": _BLOCKING_LOCKS,
    "lock.cancel-logoff": _BLOCKING_LOCKS,
    "lock.replay_broken_windows": "lock sequence numbers (SMB 2.1 resilient handles) not offered",
    "getinfo.complex": _STREAMS + " (setup opens a stream)",
    "getinfo.fsinfo": "quota and object-id FS info classes not answered",
    "getinfo.qfs_buffercheck": "small-buffer rule for variable classes differs",
    "getinfo.qfile_buffercheck": "small-buffer rule for variable classes differs",
    "getinfo.getinfo_access": "FileNormalizedNameInformation not answered",
    "getinfo.normalized": "FileNormalizedNameInformation not answered",
    "compound.related1": _SHALLOW_COPY,
    "compound.related2": _SHALLOW_COPY,
    "compound.invalid2": _SHALLOW_COPY,
    "compound.related4": _ACLS + " (the chain sets a DACL)",
    "compound.related7": _ACLS + " (the chain sets a DACL)",
    "compound.related8": "CHANGE_NOTIFY is NOT_SUPPORTED (a later issue)",
    "compound.interim1": "CHANGE_NOTIFY is NOT_SUPPORTED (a later issue)",
    "compound.interim2": "CHANGE_NOTIFY is NOT_SUPPORTED (a later issue)",
    "compound.compound-padding": _STREAMS + " (padding itself: test_smb2_wire.py)",
    "delete-on-close-perms.OVERWRITE_IF Existing": _ACLS,
    "delete-on-close-perms.CREATE_IF Existing": _ACLS,
    "setinfo": "ARCHIVE is always reported for files: DOS attributes are not stored",
    "openattr": "ARCHIVE/SYSTEM/HIDDEN attributes are not stored (only READONLY)",
    "winattr": "ARCHIVE/SYSTEM/HIDDEN attributes are not stored (only READONLY)",
    "maxfid": "opens files until the server refuses; no per-session open limit yet",
    "ioctl.req_resume_key": _COPYCHUNK,
    "ioctl.copy_chunk_simple": _COPYCHUNK,
    "ioctl.compress_notsup_get": "FSCTL_GET_COMPRESSION not answered (COMPRESSION_FORMAT_NONE)",
    "ioctl.compress_notsup_set": "FSCTL_SET_COMPRESSION answered INVALID_DEVICE_REQUEST",
    "ioctl.bug14769": "FSCTL_QUERY_NETWORK_INTERFACE_INFO is SMB 3 (not offered)",
    "streams.io": _STREAMS,
    "streams.names": _STREAMS,
    "streams.rename": _STREAMS,
    "streams.delete": _STREAMS,
    "streams.dir": _STREAMS,
    "streams.sharemodes": _STREAMS,
    "streams.zero-byte": _STREAMS,
    "streams.create-disposition": _STREAMS,
    "streams.attributes1": _STREAMS,
    "oplock.exclusive1": _OPLOCKS,
    "oplock.batch1": _OPLOCKS,
    "oplock.levelii500": _OPLOCKS,
    "oplock.doc": _OPLOCKS,
    "oplock.stream1": _STREAMS,
    "session.reconnect1": _OPLOCKS + " (setup asks for a batch oplock)",
    "session.reauth1": _OPLOCKS + " (setup asks for a batch oplock)",
    "session.bind_negative_smb202": _OPLOCKS + " (setup asks for a batch oplock)",
    # SMB 3 session tests: they negotiate, sign or seal and log on fine, then open
    # their test file asking for a lease.
    "session.reauth2": _LEASES + " (re-authentication itself works: test_smb_session.py)",
    "session.reauth4": _LEASES,
    "session.reauth6": _LEASES,
    "session.signing-hmac-sha-256": _LEASES + " (3.1.1 signed with HMAC-SHA256 before that)",
    "session.signing-aes-128-cmac": _LEASES + " (3.1.1 signed with AES-CMAC before that)",
    "session.signing-aes-128-gmac": _LEASES + " (3.1.1 signed with AES-GMAC before that)",
    "session.encryption-aes-128-ccm": _LEASES + " (encrypted with AES-128-CCM before that)",
    "session.encryption-aes-128-gcm": _LEASES + " (encrypted with AES-128-GCM before that)",
    "session.encryption-aes-256-ccm": _LEASES + " (encrypted with AES-256-CCM before that)",
    "session.encryption-aes-256-gcm": _LEASES + " (encrypted with AES-256-GCM before that)",
    "session.bind_negative_smb3to3s": _LEASES + " (binding itself is refused: no multichannel)",
    "session.bind_negative_smb3signCtoGs": _LEASES + " (binding itself is refused)",
    "ioctl.bug14788.VALIDATE_NEGOTIATE": (
        "needs a tree connect that succeeds on a share the account may not use; share-level "
        "access refuses the tree connect (VALIDATE_NEGOTIATE itself: test_smb3_validate.py)"
    ),
    "session-id": "a close with a stale session id after reconnect",
    "session-require-signing.bug15397": "the server does not require signing unless configured",
}
# Not run: smb2.oplock.* (42 tests) and the reauth/reconnect/bind half of smb2.session.*
# fail for the oplock/lease reasons above (a representative few are listed);
# smb2.session.bind1/bind2/bind_invalid_auth and smb2.ioctl.network_interface_info skip:
# no SMB2_CAP_MULTI_CHANNEL (binding is refused, REQUEST_NOT_ACCEPTED, as smbd without
# multichannel); smb2.session.expire* need Kerberos (-k yes); most other smb2.ioctl.*
# are copy-chunk, sparse, compression and dup-extents FSCTLs not offered; *bench* tests
# are benchmarks.

# How the passing set runs besides smbtorture's default (SMB 3.1.1): label -> options,
# and the tests that fail in that mode only, each with the reason.
MODES: dict[str, tuple[str, ...]] = {
    "SMB2_10": ("-mSMB2_10",),
    "SMB3_11-encrypt": ("--client-protection=encrypt",),
}
# (Empty today. smbd 4.17 fails `connect` when encrypted: after LOGOFF the client
# seals a request for the ended session; peerwork keeps a few ended sessions' keys to
# answer it USER_SESSION_DELETED.)
MODE_EXCEPTIONS: dict[str, dict[str, str]] = {}


_RESULT = re.compile(r"^(success|failure|error|skip|xfail): (.+?)(?: \[)?$", re.M)


def _leaf(test: str) -> str:
    return test.rsplit(".", 1)[-1]


def _selector(test: str) -> str:
    # smbtorture cannot select a test whose name has a space: run its whole suite.
    return "smb2." + (test.rsplit(".", 1)[0] if " " in test else test)


class Torture:
    def __init__(self, port: int, workdir: Path) -> None:
        """``workdir``: smbtorture's working folder (it leaves ``smbtorture*`` folders there)."""
        self.port = port
        self.workdir = workdir

    def _cmd(self, *extra: str) -> list[str]:
        return [
            "smbtorture", "//127.0.0.1/share", "-p", str(self.port), "-U", "alice%secret",
            *extra,
        ]  # fmt: skip

    def batch(self, tests: list[str], *extra: str) -> dict[str, tuple[str, str]]:
        """Run ``tests`` in one smbtorture process: leaf name -> (result, detail).

        A test missing from the answer (smbtorture died, or the batch timed out)
        is reported as such."""
        selectors = list(dict.fromkeys(_selector(t) for t in tests))
        try:
            r = subprocess.run(
                self._cmd(*extra, *selectors),
                capture_output=True, text=True, timeout=BATCH_TIMEOUT, check=False,
                cwd=self.workdir,
            )  # fmt: skip
            out = r.stdout + r.stderr
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode(errors="replace") if exc.stdout else ""
        results: dict[str, tuple[str, str]] = {}
        for m in _RESULT.finditer(out):
            name = m.group(2).strip()
            tail = out[m.end() : m.end() + 400]
            detail = (
                ""
                if m.group(1) == "success"
                else next((ln for ln in tail.splitlines() if ".c:" in ln), "")
            )
            results[name] = (m.group(1), detail.strip()[:200])
        return {_leaf(t): results.get(_leaf(t), ("missing", "no result")) for t in tests}

    def run(self, test: str) -> tuple[str, str]:
        """One test in its own process: (result, detail); result is
        success/failure/error/skip/timeout or rc=N (a crash)."""
        try:
            r = subprocess.run(
                self._cmd(_selector(test)),
                capture_output=True, text=True, timeout=TIMEOUT, check=False,
                cwd=self.workdir,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return "timeout", f"no answer in {TIMEOUT}s"
        out = r.stdout + r.stderr
        m = re.search(rf"^(success|failure|error|skip): {re.escape(_leaf(test))}", out, re.M)
        result = m.group(1) if m else f"rc={r.returncode}"
        if r.returncode != 0 and result == "success" and " " not in test:
            result = f"rc={r.returncode}"
        detail = next((ln for ln in out.splitlines() if "status was" in ln or ".c:" in ln), "")
        return result, detail.strip()[:200]


@pytest.fixture(scope="module")
def torture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Torture]:
    base: Path = tmp_path_factory.mktemp("torture")
    root = base / "share"
    root.mkdir()
    shares = [Share("share", root, grants={"alice": Access.FULL})]
    with smb_server(base, users={"alice": "secret"}, shares=shares) as smb:
        work = base / "work"
        work.mkdir()
        yield Torture(smb.port, work)


@pytest.fixture(scope="module")
def passing_results(torture: Torture) -> dict[str, tuple[str, str]]:
    results = torture.batch(list(PASSING))
    results.update(torture.batch(list(PASSING_AS_SAMBA), "--target=samba3"))
    return results


@pytest.mark.parametrize("test", [*PASSING, *PASSING_AS_SAMBA])
def test_passes(passing_results: dict[str, tuple[str, str]], test: str) -> None:
    result, detail = passing_results[_leaf(test)]
    print(f"smb2.{test:45} {result:8} {detail}")
    assert result == "success", f"smb2.{test}: {result} {detail}"


@pytest.mark.parametrize("mode", sorted(MODES))
def test_passes_in_every_mode(torture: Torture, mode: str) -> None:
    """The passing set over SMB 2.1 and over encrypted SMB 3.1.1 (one batch each)."""
    results = torture.batch(list(PASSING), *MODES[mode])
    expected_failures = MODE_EXCEPTIONS.get(mode, {})
    failed = {t: results[_leaf(t)] for t in PASSING if results[_leaf(t)][0] != "success"}
    assert set(failed) == set(expected_failures), f"{mode}: {failed}"


@pytest.mark.skipif(not os.environ.get("PEERWORK_TORTURE_ALL"), reason="PEERWORK_TORTURE_ALL unset")
@pytest.mark.parametrize("test", sorted(KNOWN_FAILING))
def test_known_failing(torture: Torture, test: str) -> None:
    result, detail = torture.run(test)
    print(f"smb2.{test:45} {result:8} {detail}  [known: {KNOWN_FAILING[test]}]")
    if result == "success":
        pytest.fail(f"smb2.{test} passes now: move it to PASSING")


@pytest.mark.skipif(not os.environ.get("PEERWORK_TORTURE_ALL"), reason="PEERWORK_TORTURE_ALL unset")
@pytest.mark.parametrize("test", sorted(SLOW_PASSING))
def test_slow_passes(torture: Torture, test: str) -> None:
    result, detail = torture.run(test)
    assert result == "success", f"smb2.{test}: {result} {detail}"


def test_table_is_consistent() -> None:
    every = [*PASSING, *PASSING_AS_SAMBA]
    assert not set(PASSING) & set(KNOWN_FAILING)
    assert not set(SLOW_PASSING) & (set(PASSING) | set(KNOWN_FAILING))
    # Batch results are keyed by leaf name: those must be unique among the passing.
    assert len({_leaf(t) for t in every}) == len(every)
    assert all(reason for reason in KNOWN_FAILING.values())
    assert all(set(e) <= set(PASSING) for e in MODE_EXCEPTIONS.values())


def readme_table() -> str:
    """The Markdown table README quotes (``python -m tests.integration.test_smbtorture``)."""
    rows = ["| smbtorture test | result | note |", "|---|---|---|"]
    rows += [f"| smb2.{t} | pass | {n} |" for t, n in PASSING.items()]
    rows += [f"| smb2.{t} | pass (--target=samba3) | {n} |" for t, n in PASSING_AS_SAMBA.items()]
    rows += [f"| smb2.{t} | pass (~40 s, not in CI) | {n} |" for t, n in SLOW_PASSING.items()]
    rows += [f"| smb2.{t} | fail | {r} |" for t, r in KNOWN_FAILING.items() if t != "rw.invalid"]
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())
