"""What the POP3 and IMAP listeners share: the socket, the connection cap, stopping.

A subclass names its line limit, the reply a client over the cap gets, and
the session it runs per connection; everything a client does wrong ends at
most that client's connection.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from peerwork.password_logon import PasswordLogon

log = logging.getLogger("peerwork.mail")


class PickupServer:
    line_limit: int  # the StreamReader buffer: the longest line a client may send
    busy_reply: bytes  # what a client over max_connections is told before the close
    protocol: str  # for the log

    def __init__(
        self,
        logon: PasswordLogon,
        mail_root: Path,
        *,
        max_connections: int,
        idle_timeout: float,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.logon = logon
        self.mail_root = mail_root
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.tls = tls
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, limit=self.line_limit)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.max_connections:
            writer.write(self.busy_reply)
            writer.close()
            return
        self.connections += 1
        self._writers.add(writer)
        try:
            await self.session(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except Exception:
            # A bug must cost this one client its connection, never the service.
            log.exception("%s session failed", self.protocol)
        finally:
            self.connections -= 1
            self._writers.discard(writer)
            writer.close()
