"""A tiny TCP relay on 127.0.0.1 between an SMB client and a server, for tests.

It passes NetBIOS frames through whole, records how each client frame starts
(``0xFE 'SMB'`` plain or signed, ``0xFD 'SMB'`` encrypted), and, when armed, alters
the next client frame at least ``min_size`` bytes long: a man in the middle changing
a signed or encrypted request on the wire (by default one byte near its end is
flipped; ``how`` may rewrite it any way, given the client's previous frame too, e.g.
to replay that one instead). ``edit`` may rewrite any client frame (given its index
and bytes), e.g. a NEGOTIATE on its way. Frame lengths follow what was written.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

# Bytes of a frame to keep for inspection (the SMB2 header is 64, the transform 52).
KEEP = 64


@dataclass
class TamperRelay:
    target_port: int
    frames: list[bytes] = field(default_factory=list)  # first KEEP bytes of each client frame
    tampered: int = 0
    edit: Callable[[int, bytearray], None] | None = None
    _armed_size: int | None = None
    _how: Tamper | None = None
    _previous: bytes = b""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def arm(self, min_size: int, how: Tamper | None = None) -> None:
        """Alter the next client frame of at least ``min_size`` bytes with ``how``
        (default: flip a byte 100 bytes before its end)."""
        with self._lock:
            self._armed_size, self._how = min_size, how or flip_near_end

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> TamperRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._socks += [client, server]
            for src, dst, inspect in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=(src, dst, inspect), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, inspect: bool) -> None:
        try:
            while not self._stop.is_set():
                head = _read(src, 4)
                if head is None:
                    break
                (length,) = struct.unpack(">I", b"\x00" + head[1:])
                body = _read(src, length)
                if body is None:
                    break
                if inspect:
                    body = self._inspect(bytearray(body))
                    head = head[:1] + len(body).to_bytes(3, "big")
                dst.sendall(head + body)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def _inspect(self, body: bytearray) -> bytes:
        with self._lock:
            if self.edit is not None:
                self.edit(len(self.frames), body)
            self.frames.append(bytes(body[:KEEP]))
            previous, self._previous = self._previous, bytes(body)
            if self._armed_size is not None and len(body) >= self._armed_size:
                assert self._how is not None
                body = self._how(body, previous)
                self._armed_size = None
                self.tampered += 1
        return bytes(body)


Tamper = Callable[[bytearray, bytes], bytearray]


def flip_near_end(frame: bytearray, previous: bytes) -> bytearray:
    frame[len(frame) - 100] ^= 0x01
    return frame


def _read(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
