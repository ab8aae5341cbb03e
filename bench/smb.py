#!/usr/bin/env python3
"""SMB throughput: peerwork's file service vs Samba's smbd, side by side, with smbclient.

Not a test: run by hand (or ``make bench``) as root on a machine with
smbclient and samba installed::

    .venv/bin/python bench/smb.py [--size-mb 200] [--files 500] [--reps 3]

In one run it serves the same folder from both servers on 127.0.0.1 and free
ports, then with smbclient (SMB 3.1.1) copies a large file and a folder of small
files, both directions, a few times each, and prints the median MB/s (and
files/s) per server and the peerwork/smbd ratio. The large file is copied three
ways: signing off, signing on, and encrypted (AES-128-GCM on both servers; smbd
with ``server smb encrypt = desired``).

peerwork is started the way a user starts it (temp ``--home``, ``peerwork
init``, ``user add --password-stdin``, ``agent``, ``share``); if that fails
(older checkout, agent not built) it falls back to the SMB server alone via
tests/helpers/smbserver_runner.py and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.smbd import SambaServer, free_port  # noqa: E402

USER = "pwbench"
PASSWORD = "Bench-Pass-1"  # noqa: S105 (throwaway account on a temp server)
PEERWORK = [sys.executable, "-m", "peerwork.cli.main"]


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    commands: str  # smbclient -c script; {src} and {dst} are local folders
    nbytes: int
    nfiles: int
    options: tuple[str, ...] = ()  # extra smbclient options (protection)


# smbclient options per protection mode; every run negotiates SMB 3.1.1.
PROTECTIONS = {
    "off": ("--client-protection=off",),
    "sign": ("--client-protection=sign",),
    "encrypt": (
        "--client-protection=encrypt",
        "--option=client smb3 encryption algorithms=AES-128-GCM",
    ),
}
# smbd configured alike: encryption when the client asks (tests/helpers/smbd.py turns it
# off), AES-128-GCM.
SMBD_ENCRYPTION = (
    "  server smb encrypt = if_required\n  server smb3 encryption algorithms = AES-128-GCM"
)


@dataclass(frozen=True, slots=True)
class Result:
    seconds: float
    nbytes: int
    nfiles: int

    @property
    def mb_s(self) -> float:
        return self.nbytes / self.seconds / 1e6

    @property
    def files_s(self) -> float:
        return self.nfiles / self.seconds


def make_data(root: Path, size_mb: int, nfiles: int, file_kb: int) -> tuple[Path, Path]:
    src = root / "src"
    (src / "many").mkdir(parents=True)
    block = os.urandom(1 << 20)
    with (src / "big.bin").open("wb") as f:
        for i in range(size_mb):
            f.write(i.to_bytes(8, "little") + block[8:])
    for i in range(nfiles):
        (src / "many" / f"f{i:04d}.dat").write_bytes(os.urandom(file_kb * 1024))
    dst = root / "dst"
    dst.mkdir()
    return src, dst


# -- servers -----------------------------------------------------------------------


@contextlib.contextmanager
def run_smbd(folder: Path) -> Iterator[tuple[int, str]]:
    with SambaServer(
        {"share": folder}, users={USER: PASSWORD}, extra_global=SMBD_ENCRYPTION
    ) as srv:
        yield srv.port, "smbd " + _smbd_version()


def _smbd_version() -> str:
    out = subprocess.run(["smbd", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().removeprefix("Version ")


def _pw(home: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*PEERWORK, "--home", str(home), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"peerwork {' '.join(args)}: {done.stderr.strip() or done.stdout}")
    return done.stdout


@contextlib.contextmanager
def run_peerwork_agent(folder: Path, home: Path) -> Iterator[tuple[int, str]]:
    import tomlkit

    port = free_port()
    _pw(home, "init", "--workgroup", "BENCH", "--name", "BENCHPC", "--owner", USER)
    # Loopback only, a free port, and no mDNS on this machine's real interfaces.
    conf = home / "peerwork.toml"
    doc = tomlkit.parse(conf.read_text())
    doc["files"]["port"] = port  # type: ignore[index]
    doc["files"]["bind"] = "127.0.0.1"  # type: ignore[index]
    doc["discovery"]["enabled"] = False  # type: ignore[index]
    conf.write_text(tomlkit.dumps(doc))
    _pw(home, "user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
    log = (home / "agent.log").open("wb")
    agent = subprocess.Popen(
        [*PEERWORK, "--home", str(home), "agent"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited {agent.returncode}")
            with contextlib.suppress(RuntimeError):
                services = json.loads(_pw(home, "status", "--json"))["services"]
                if next(s for s in services if s["name"] == "files")["state"] == "running":
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("agent did not come up in 30 s")
            time.sleep(0.2)
        _pw(home, "share", str(folder), "--name", "share")
        yield port, "peerwork agent"
    finally:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(15)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(5)
        log.close()


@contextlib.contextmanager
def run_peerwork_server(folder: Path, home: Path) -> Iterator[tuple[int, str]]:
    from peerwork.shares import Access, Share
    from tests.helpers.smbserver_runner import smb_server

    shares = [Share("share", folder, grants={USER: Access.FULL})]
    with smb_server(home, users={USER: PASSWORD}, shares=shares) as smb:
        yield smb.port, "peerwork SmbServer (smbserver_runner, in-process thread)"


@contextlib.contextmanager
def run_peerwork(folder: Path, home: Path, via: str) -> Iterator[tuple[int, str]]:
    if via != "auto":
        runner = run_peerwork_agent if via == "agent" else run_peerwork_server
        with runner(folder, home) as started:
            yield started
        return
    try:
        ctx = run_peerwork_agent(folder, home)
        started = ctx.__enter__()
    except Exception as exc:  # any failure: say why and use the bare server instead
        print(
            f"note: 'peerwork agent' did not start ({exc}); using smbserver_runner", file=sys.stderr
        )
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        with run_peerwork_server(folder, home) as started:
            yield started
        return
    try:
        yield started
    finally:
        ctx.__exit__(None, None, None)


# -- workloads --------------------------------------------------------------------


def smbclient(port: int, script: str, options: tuple[str, ...] = ()) -> None:
    done = subprocess.run(
        [
            "smbclient",
            "//127.0.0.1/share",
            "-p",
            str(port),
            "-U",
            f"{USER}%{PASSWORD}",
            "-m",
            "SMB3_11",
            *options,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    # smbclient exits 0 even when a single get/put inside the script failed.
    bad = [ln for ln in done.stdout.splitlines() + done.stderr.splitlines() if "NT_STATUS" in ln]
    if done.returncode != 0 or bad:
        raise RuntimeError(f"smbclient failed ({done.returncode}): {(bad or [done.stderr])[0]}")


def connect_overhead(port: int, reps: int = 5) -> float:
    """Median wall time of an smbclient run that connects, logs on and does nothing."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        smbclient(port, "pwd")
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def measure(
    port: int, w: Workload, src: Path, dst: Path, reset: Callable[[], None], overhead: float
) -> Result:
    reset()
    script = w.commands.format(src=src, dst=dst)
    t0 = time.perf_counter()
    smbclient(port, script, w.options)
    # smbclient's start-up and logon are not the copy; take them out.
    return Result(max(time.perf_counter() - t0 - overhead, 1e-6), w.nbytes, w.nfiles)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=200, help="large file size (MiB)")
    ap.add_argument("--files", type=int, default=500, help="number of small files")
    ap.add_argument("--file-kb", type=int, default=4, help="small file size (KiB)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per workload (median)")
    ap.add_argument("--servers", default="smbd,peerwork", help="comma-separated: smbd,peerwork")
    ap.add_argument(
        "--protections",
        default="off,sign,encrypt",
        help="comma-separated protection modes for the large file: off,sign,encrypt",
    )
    ap.add_argument(
        "--peerwork-via",
        choices=["auto", "agent", "runner"],
        default="auto",
        help="start peerwork as 'peerwork agent', as the bare SMB server, or agent else server",
    )
    args = ap.parse_args()
    if shutil.which("smbclient") is None:
        print("smbclient is not installed (apt-get install smbclient)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp:
        root = Path(tmp)
        print(
            f"preparing {args.size_mb} MiB file and {args.files} x {args.file_kb} KiB files…",
            file=sys.stderr,
        )
        src, dst = make_data(root, args.size_mb, args.files, args.file_kb)
        big = args.size_mb * (1 << 20)
        small = args.files * args.file_kb * 1024
        workloads = []
        for mode in args.protections.split(","):
            options = PROTECTIONS[mode]
            workloads += [
                Workload(f"get 1 large {mode}", "lcd {dst}; get big.bin", big, 1, options),
                Workload(f"put 1 large {mode}", "lcd {src}; put big.bin", big, 1, options),
            ]
        workloads += [
            Workload(
                "get many small", "lcd {dst}; prompt off; recurse on; mget many", small, args.files
            ),
            Workload(
                "put many small", "lcd {src}; prompt off; recurse on; mput many", small, args.files
            ),
        ]
        results: dict[str, dict[str, Result]] = {}
        labels: dict[str, str] = {}
        for server in args.servers.split(","):
            served = root / f"served-{server}"
            served.mkdir()
            home = root / f"home-{server}"
            home.mkdir()
            runner = (
                run_smbd(served)
                if server == "smbd"
                else run_peerwork(served, home, args.peerwork_via)
            )
            with runner as (port, label):
                overhead = connect_overhead(port)
                labels[server] = (
                    f"{label}; smbclient start+logon {overhead * 1000:.0f} ms (subtracted)"
                )
                results[server] = {}
                for w in workloads:
                    runs = []
                    for _ in range(args.reps):

                        def reset(w: Workload = w, served: Path = served) -> None:
                            shutil.rmtree(dst, ignore_errors=True)
                            dst.mkdir()
                            if w.name.startswith("get"):
                                # Serve exactly what the get reads; remove the last put's copy.
                                for name in ("big.bin", "many"):
                                    if not (served / name).exists():
                                        if name == "many":
                                            shutil.copytree(src / name, served / name)
                                        else:
                                            shutil.copy(src / name, served / name)
                            elif "large" in w.name:
                                (served / "big.bin").unlink(missing_ok=True)
                            else:
                                shutil.rmtree(served / "many", ignore_errors=True)

                        try:
                            runs.append(measure(port, w, src, dst, reset, overhead))
                        except RuntimeError as exc:
                            print(f"{server}: {w.name}: {exc}", file=sys.stderr)
                            break
                        check_copy(w, src, dst, served)
                    if runs:
                        results[server][w.name] = sorted(runs, key=lambda r: r.seconds)[
                            len(runs) // 2
                        ]
                    print(
                        f"  {server:8} {w.name:22} "
                        + ", ".join(f"{r.mb_s:.1f}" for r in runs)
                        + " MB/s",
                        file=sys.stderr,
                    )
        print_table(workloads, results, labels, args)
    return 0


def check_copy(w: Workload, src: Path, dst: Path, served: Path) -> None:
    if "large" in w.name:
        out = dst if w.name.startswith("get") else served
        if (out / "big.bin").stat().st_size != w.nbytes:
            raise SystemExit(f"{w.name}: copied file has the wrong size")
    else:
        out = dst / "many" if w.name.startswith("get") else served / "many"
        if len(list(out.iterdir())) != w.nfiles:
            raise SystemExit(f"{w.name}: {len(list(out.iterdir()))} of {w.nfiles} files copied")


def print_table(
    workloads: list[Workload],
    results: dict[str, dict[str, Result]],
    labels: dict[str, str],
    args: argparse.Namespace,
) -> None:
    print(
        f"\nsmbclient over 127.0.0.1; large file {args.size_mb} MiB, "
        f"{args.files} x {args.file_kb} KiB files; median of {args.reps}; SMB 3.1.1; "
        "large file with signing off, on, and encrypted (AES-128-GCM)"
    )
    for key, label in labels.items():
        print(f"  {key}: {label}")
    header = f"| {'workload':22} | {'smbd':>18} | {'peerwork':>18} | {'peerwork/smbd':>13} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for w in workloads:
        cells = []
        for server in ("smbd", "peerwork"):
            r = results.get(server, {}).get(w.name)
            if server not in results:
                cells.append("not run")
            elif r is None:
                cells.append("failed")
            elif w.nfiles > 1:
                cells.append(f"{r.mb_s:.1f} MB/s {r.files_s:.0f} f/s")
            else:
                cells.append(f"{r.mb_s:.1f} MB/s")
        a = results.get("smbd", {}).get(w.name)
        b = results.get("peerwork", {}).get(w.name)
        ratio = f"{b.mb_s / a.mb_s:.2f}" if a and b else "-"
        print(f"| {w.name:22} | {cells[0]:>18} | {cells[1]:>18} | {ratio:>13} |")


if __name__ == "__main__":
    sys.exit(main())
