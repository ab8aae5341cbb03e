"""The reference SMTP server of bench/mail.py: stock aiosmtpd writing each message
into a Maildir with fsync (tmp, fsync, rename into new/, fsync the folder), then 250.

    python bench/mail_reference.py MAILDIR  -> prints its port, serves until killed
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP


class MaildirHandler:
    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.to_thread(self._store, envelope.original_content)
        return "250 OK"

    def _store(self, data: bytes) -> None:
        name = uuid.uuid4().hex
        tmp = self.root / "tmp" / name
        with tmp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.rename(self.root / "new" / name)
        fd = os.open(self.root / "new", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def main(root: Path) -> None:
    loop = asyncio.get_running_loop()
    handler = MaildirHandler(root)
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=200_000_000, loop=loop), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
