#!/usr/bin/env python3
"""CPU cost of SMB 3 signing and encryption in peerwork's codecs, per algorithm.

Not a test: run by hand::

    .venv/bin/python bench/smb_crypto.py [--mb 200] [--message-mb 8]

Seals/opens and signs/verifies ``--mb`` of data in messages of ``--message-mb``
(a READ or WRITE of smbclient's size), pieces as the server sends them (a 64-byte
header, the fixed body, the data as a memoryview), and prints MB/s of CPU time
(process time, so other load on the machine matters less than for bench/smb.py).
This is the ceiling the wire can reach with that protection on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peerwork.proto.smb2_header import Smb2Header
from peerwork.proto.smb2_negctx import Cipher, SigningAlgorithm
from peerwork.proto.smb2_signing import Signer
from peerwork.proto.smb2_transform import Opener, Sealer


def _rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / max(seconds, 1e-9) / 1e6:8.0f} MB/s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--message-mb", type=int, default=8)
    args = ap.parse_args()
    size = args.message_mb << 20
    count = max(1, args.mb // args.message_mb)
    data = memoryview(os.urandom(size))
    head = Smb2Header(command=8, message_id=5, flags=1, session_id=9).pack()
    pieces = [head, b"\x11\x00" + bytes(14), data]
    total = count * size
    print(f"{count} messages of {args.message_mb} MiB; MB/s of CPU time (one core)")
    for cipher in Cipher:
        key = bytes(range(cipher.key_size))
        sealer = Sealer(cipher, key, 9, bytes(cipher.nonce_size - 8))
        opener = Opener(cipher, key, 9)
        t0 = time.process_time()
        for _ in range(count):
            tf, body = sealer.seal(pieces)
        t1 = time.process_time()
        frame = tf + bytes(body)  # as the server reads it: one bytes object per frame
        t2 = time.process_time()
        for _ in range(count):
            opener.open(frame)
        t3 = time.process_time()
        print(f"  {cipher.name:12} seal {_rate(total, t1 - t0)}   open {_rate(total, t3 - t2)}")
    for algorithm in SigningAlgorithm:
        signer = Signer(bytes(16), algorithm)
        t0 = time.process_time()
        for _ in range(count):
            signer.sign_header(head, pieces[1:])
        t1 = time.process_time()
        print(f"  {algorithm.name:12} sign {_rate(total, t1 - t0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
