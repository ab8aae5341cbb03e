"""IPP for tests: a printer-sharing agent home, and raw IPP requests over http.client.

``ipp_post`` is a plain HTTP client (the standard library's) carrying our
codec's bytes, so attack tests can send what no real client would.
"""

from __future__ import annotations

import base64
import http.client
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit

from peerwork.proto.ipp import Group, Message, attr
from peerwork.proto.ipp_constants import GroupTag, Tag
from tests.helpers.agent import init_home

# One blank page: enough for a printer that files what it gets.
TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def printer_home(
    home: Path,
    out: Path,
    *,
    name: str = "office",
    grants: Mapping[str, str] | None = None,
    backend: str = "",
    **limits: Any,
) -> None:
    """A PC1 home on loopback sharing one printer (``file:`` into ``out`` unless
    ``backend`` names another), its ports picked freely."""
    init_home(home)
    add_printer(
        home,
        out,
        name=name,
        grants=grants,
        backend=backend,
        bind="127.0.0.1",
        port=0,
        ipps_port=0,
        **limits,
    )


def add_printer(
    home: Path,
    out: Path,
    *,
    name: str = "office",
    grants: Mapping[str, str] | None = None,
    backend: str = "",
    **section: Any,
) -> None:
    """Share a ``file:`` printer into ``out`` from ``home``; ``section``: more [printers] keys."""
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    table = tomlkit.table()
    for key, value in section.items():
        table[key] = value
    printer = tomlkit.table()
    printer.update(
        {
            "name": name,
            "backend": backend or f"file:{out}",
            "info": "Office PDF",
            "location": "Desk",
        }
    )
    if grants is not None:
        printer["grants"] = dict(grants)
    table["printer"] = tomlkit.aot()
    table["printer"].append(printer)
    doc["printers"] = table
    path.write_text(tomlkit.dumps(doc))


def operation(
    code: int,
    uri: str,
    *extra: Any,
    job: Mapping[str, Any] | None = None,
    data: bytes = b"",
    request_id: int = 1,
    user: str = "alice",
) -> Message:
    """A well-formed request: charset, language, printer-uri, requesting-user-name, ``extra``."""
    op = (
        attr("attributes-charset", Tag.CHARSET, "utf-8"),
        attr("attributes-natural-language", Tag.LANGUAGE, "en"),
        attr("printer-uri", Tag.URI, uri),
        attr("requesting-user-name", Tag.NAME, user),
        *extra,
    )
    groups = [Group(GroupTag.OPERATION, op)]
    if job:
        groups.append(Group(GroupTag.JOB, tuple(job.values())))
    return Message((2, 0), code, request_id, tuple(groups), data)


def ipp_post(
    port: int, body: bytes, path: str = "/ipp/print/office", timeout: float = 20
) -> Message:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/ipp"})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    assert response.status == 200, (response.status, raw[:200])
    return Message.parse(raw)


def ipp_exchange(
    port: int,
    body: bytes,
    *,
    tls: bool = False,
    auth: tuple[str, str] | None = None,
    path: str = "/ipp/print/office",
    timeout: float = 20,
) -> tuple[int, Message, http.client.HTTPResponse]:
    """POST ``body`` over plain HTTP or TLS (the self-signed peer certificate accepted),
    with HTTP Basic ``auth`` if given: the HTTP status, the IPP answer, the response."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/ipp"}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, Message.parse(raw), response


def status_of(reply: Message) -> int:
    return reply.code


def job_value(reply: Message, name: str) -> Any:
    group = reply.group(GroupTag.JOB)
    found = group.get(name) if group else None
    return found.value if found else None


def finished_files(out: Path) -> list[Path]:
    """Files a file: backend finished (it writes each under a hidden .part name first)."""
    return sorted(p for p in out.iterdir() if not p.name.startswith("."))
