"""The IPP endpoint: HTTP POSTs of ``application/ipp`` on aiohttp, streamed.

The attributes are read (bounded by ``MAX_HEAD`` and ``HEAD_TIMEOUT``) and
parsed sans-IO; the document data that follows is handed on as a stream, so
it reaches the spool without ever being held whole in memory.

Plain IPP and IPPS (TLS with the peer certificate) are served side by side.
A password (HTTP Basic) is checked only over IPPS, through the shared
:class:`~peerwork.password_logon.PasswordLogon` (failures throttled); one sent
in the clear is refused unchecked. A request refused for want of a logon over
IPPS gets HTTP 401 with a Basic challenge, so the client asks its user.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import ssl
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from peerwork.password_logon import PasswordLogon
from peerwork.proto.ipp import IppError, Message, Truncated, parse_head
from peerwork.proto.ipp_constants import Status

from .operations import Client, Document, PrinterOperations, answer

log = logging.getLogger("peerwork.printers")
MAX_HEAD = 256 * 1024  # attributes of one request; ipptool's longest is ~2 KB
HEAD_TIMEOUT = 30.0  # seconds to send them
CHUNK = 256 * 1024
CHALLENGE = 'Basic realm="peerwork printers", charset="UTF-8"'
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.%a-zA-Z]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


def _icon() -> bytes:
    """A 64x64 plain PNG for printer-icons (print dialogs show it next to the name)."""
    width = height = 64
    row = b"\x00" + b"\x40\x70\xa0" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


ICON = _icon()


def error_reply(head: bytes | bytearray, status: int, text: str) -> bytes:
    """An answer to a request too broken to parse: its request id if we got that far."""
    version = (head[0], head[1]) if len(head) >= 2 and head[0] in (1, 2) else (1, 1)
    request_id = int.from_bytes(head[4:8], "big") if len(head) >= 8 else 0
    shell = Message(version, 0, request_id)
    return answer(shell, status, text).pack()


def basic_credentials(header: str) -> tuple[str, str] | None:
    """User and password of an ``Authorization: Basic`` header; None if it is not one."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token or len(token) > 1024:
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep and user else None


@dataclass(frozen=True, slots=True)
class Tls:
    """IPPS beside plain IPP: ``context`` (the peer certificate) on ``port``."""

    context: ssl.SSLContext
    port: int


class IppHttpServer:
    """Serves ``ops`` on ``host:port`` (0 picks a free port; ``port`` tells which), and
    over TLS on ``tls.port`` when ``tls`` is given; ``logon`` checks Basic passwords."""

    def __init__(
        self,
        ops: PrinterOperations,
        host: str,
        port: int,
        tls: Tls | None = None,
        logon: PasswordLogon | None = None,
    ) -> None:
        self.ops, self.host, self._port = ops, host, port
        self.tls, self.logon = tls, logon
        self._tls_port = tls.port if tls else 0
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def tls_port(self) -> int | None:
        return self._tls_port if self.tls else None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_HEAD)
        app.router.add_post("/{tail:.*}", self._post)
        app.router.add_get("/icon.png", self._icon)
        app.router.add_get("/{tail:.*}", self._page)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port, reuse_address=True).start()
            if self.tls is not None:
                await web.TCPSite(
                    runner, self.host, self._tls_port, ssl_context=self.tls.context
                ).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        # The real ports when 0 was asked for, in the order the sites started.
        self._port = int(runner.addresses[0][1])
        if self.tls is not None:
            self._tls_port = int(runner.addresses[1][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _client(self, request: web.Request, account: str | None = None) -> Client:
        port = self._tls_port if request.secure else self._port
        host = request.host if _HOST.match(request.host or "") else f"{self.host}:{port}"
        scheme = "ipps" if request.secure else "ipp"
        return Client(address=request.remote or "", base=f"{scheme}://{host}", account=account)

    async def _logon(self, request: web.Request, message: Message) -> str | web.Response | None:
        """The account a request logged on as (None: no credentials), or the answer
        refusing it: a password in the clear, or a wrong one (after the throttle's delay)."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        if not request.secure:
            why = "passwords are taken only over ipps://; this one was not checked"
            return self._ipp(answer(message, Status.NOT_AUTHORIZED, why).pack())
        credentials = basic_credentials(header)
        result = None
        if credentials is not None and self.logon is not None:
            user, password = credentials
            result = self.logon.check(user, password, request.remote or "", "ipps")
            if result.account is not None:
                return result.account
            if result.delay:
                await asyncio.sleep(result.delay)
        why = "wrong user name or password" if credentials else "send Basic credentials"
        return self._ipp(answer(message, Status.NOT_AUTHORIZED, why).pack(), challenge=True)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/ipp":
            return web.Response(status=400, text="send application/ipp\n")
        head = bytearray()
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                message, offset = await self._read_head(request, head)
        except TimeoutError:
            return self._ipp(error_reply(head, Status.TIMEOUT, "the request came too slowly"))
        except IppError as exc:
            return self._ipp(error_reply(head, exc.status, str(exc)))
        account = await self._logon(request, message)
        if isinstance(account, web.Response):
            return account
        client = self._client(request, account)
        document = Document(bytes(head[offset:]), _rest(request))
        reply = await self.ops.handle(message, document, client)
        # Refused for want of a logon where one is possible: ask for one.
        ask = reply.code == Status.NOT_AUTHORIZED and client.secure and account is None
        return self._ipp(reply.pack(), challenge=ask)

    async def _read_head(self, request: web.Request, head: bytearray) -> tuple[Message, int]:
        """Read until the attributes end. Re-parse only when the buffer has grown by a
        quarter (or at the end of the body), so a client dripping bytes costs O(n log n)."""
        tried_at = 0
        while True:
            chunk = await request.content.readany()
            head += chunk
            if not chunk or len(head) >= tried_at + max(4096, tried_at // 4):
                tried_at = len(head)
                try:
                    message, offset = parse_head(bytes(head))
                except Truncated:
                    if not chunk:
                        raise IppError("the request ends inside its attributes") from None
                    if len(head) >= MAX_HEAD:
                        raise IppError(
                            f"attributes longer than {MAX_HEAD // 1024} KiB",
                            Status.REQUEST_ENTITY_TOO_LARGE,
                        ) from None
                else:
                    if offset > MAX_HEAD:
                        raise IppError(
                            f"attributes longer than {MAX_HEAD // 1024} KiB",
                            Status.REQUEST_ENTITY_TOO_LARGE,
                        )
                    return message, offset

    @staticmethod
    def _ipp(body: bytes, challenge: bool = False) -> web.Response:
        if challenge:
            return web.Response(
                status=401,
                body=body,
                content_type="application/ipp",
                headers={"WWW-Authenticate": CHALLENGE},
            )
        return web.Response(body=body, content_type="application/ipp")

    async def _icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=ICON, content_type="image/png")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        names = ", ".join(p.name for p in self.ops.book.settings.printers)
        return web.Response(text=f"peerwork printers: {names}\n")


async def _rest(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(CHUNK):
        yield chunk
