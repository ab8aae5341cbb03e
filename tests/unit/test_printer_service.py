"""The [printers] section and what the printers service puts on the advert board."""

from __future__ import annotations

from typing import Any

import pytest

from peerwork.agents.adverts import AdvertBoard
from peerwork.agents.printers.service import (
    IPP_TYPE,
    IPPS_TYPE,
    UNIVERSAL,
    UNIVERSAL_IPPS,
    PrinterService,
    printers_advert,
)
from peerwork.config.printers import PRINTERS, BackendKind, BackendUri, parse_backend
from peerwork.errors import ConfigError
from peerwork.printer_grants import DEFAULT_GRANTS, PrintAccess, access_for

OFFICE = {"name": "office", "backend": "file:/srv/pdf", "info": "Front", "location": "Desk"}


def test_section_reads_printers_and_limits() -> None:
    section = PRINTERS.read({"port": 0, "max_jobs_per_client": 3, "printer": [OFFICE]})
    assert section.port == 0 and section.max_jobs_per_client == 3
    (printer,) = section.printers
    assert (printer.name, printer.backend, printer.location) == ("office", "file:/srv/pdf", "Desk")
    assert section.find("OFFICE") is printer


@pytest.mark.parametrize(
    "raw",
    [
        {"printer": [{"name": "a b", "backend": "file:/x"}]},
        {"printer": [{"name": "a", "backend": "lpd://x"}]},
        {"printer": [{"name": "a", "backend": "file:relative/x"}]},
        {"printer": [{"name": "a", "backend": "cups:bad queue"}]},
        {"printer": [{"name": "a", "backend": "socket://host:99999"}]},
        {"printer": [{"name": "a", "backend": "ipp://host"}]},
        {"printer": [{**OFFICE, "grants": {"alice": "full"}}]},
        {"printer": [{**OFFICE, "grants": "everyone"}]},
        {"printer": [{"name": "a", "backend": "file:/x", "formats": ["text/plain"]}]},
        {"printer": [OFFICE, OFFICE]},
        {"printer": ["office"]},
        {"port": 70000},
        {"max_uploads": 0},
        {"max_jobs": True},
    ],
)
def test_bad_sections_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        PRINTERS.read(raw)


def test_runs_without_printers_so_an_added_one_applies_live() -> None:
    # With no printer it runs without a port (see test_printer_admin); off only when asked.
    assert PrinterService.disabled_reason(PRINTERS.read({}), None) == ""  # type: ignore[arg-type]
    off = PRINTERS.read({"enabled": False})
    assert "enabled = false" in PrinterService.disabled_reason(off, None)  # type: ignore[arg-type]


def test_advert_has_ipp_records_with_the_txt_keys_clients_read() -> None:
    section = PRINTERS.read({"printer": [OFFICE, {**OFFICE, "name": "colour", "duplex": True}]})
    advert = printers_advert(section, 8631, "PC1", "peerid")
    assert advert.roles == ("printers",) and advert.ports == {"ipp": 8631}
    office, colour = advert.records
    assert (office.service_type, office.port, office.subtypes) == (IPP_TYPE, 8631, (UNIVERSAL,))
    assert office.instance == "office @ PC1" and colour.instance == "colour @ PC1"
    txt = office.txt
    assert txt["rp"] == "ipp/print/office"
    assert txt["pdl"] == "application/pdf,image/pwg-raster,image/urf,image/jpeg"
    assert txt["Color"] == "T" and txt["Duplex"] == "F" and colour.txt["Duplex"] == "T"
    assert "DM1" in colour.txt["URF"] and "DM1" not in txt["URF"]
    assert txt["kind"] == "document" and txt["adminurl"] == "http://PC1.local:8631/"
    assert len(txt["UUID"]) == 36 and txt["UUID"] != colour.txt["UUID"]
    assert txt["printer-type"].startswith("0x") and "TLS" not in txt  # plain IPP: no upgrade
    assert advert.extra == {"pr": "office,colour"}  # the names, in the signed record
    board = AdvertBoard()
    board.set("printers", advert)
    assert board.roles() == ["printers"] and board.ports() == {"ipp": 8631}


def test_advert_with_ipps_has_ipps_records_with_tls() -> None:
    section = PRINTERS.read({"printer": [OFFICE]})
    advert = printers_advert(section, 631, "PC1", "peerid", ipps_port=8632)
    assert advert.ports == {"ipp": 631, "ipps": 8632}
    plain, secure = advert.records
    assert (secure.service_type, secure.port, secure.subtypes) == (
        IPPS_TYPE,
        8632,
        (UNIVERSAL_IPPS,),
    )
    assert secure.instance == plain.instance == "office @ PC1"
    assert secure.txt["TLS"] == "1.3" and secure.txt["adminurl"] == "https://PC1.local:8632/"
    assert secure.txt["rp"] == plain.txt["rp"] and secure.txt["UUID"] == plain.txt["UUID"]


def test_backends_and_grants_are_read() -> None:
    section = PRINTERS.read(
        {
            "printer": [
                {"name": "a", "backend": "cups:Office_Laser"},
                {"name": "b", "backend": "socket://10.0.0.9"},
                {"name": "c", "backend": "ipp://10.0.0.8:8000/ipp/print", "grants": GRANTS},
            ]
        }
    )
    a, b, c = section.printers
    assert parse_backend(a.backend) == BackendUri(BackendKind.CUPS, "Office_Laser")
    assert parse_backend(b.backend) == BackendUri(BackendKind.SOCKET, "10.0.0.9", 9100)
    assert parse_backend(c.backend) == BackendUri(BackendKind.IPP, "10.0.0.8", 8000, "/ipp/print")
    # No grants written: anyone may print, nobody manages.
    assert a.grants == DEFAULT_GRANTS
    assert access_for(a.grants, None) is PrintAccess.PRINT
    assert access_for(a.grants, "bob") is PrintAccess.PRINT
    # As shares: an account's own entry replaces everyone; no logon gets anonymous only.
    assert access_for(c.grants, "Alice") is PrintAccess.MANAGE
    assert access_for(c.grants, "bob") is PrintAccess.NONE
    assert access_for(c.grants, "carol") is PrintAccess.PRINT
    assert access_for(c.grants, None) is PrintAccess.NONE
    assert access_for(c.grants, "anonymous") is PrintAccess.PRINT  # never the anonymous entry


GRANTS = {"alice": "manage", "bob": "none", "everyone": "print", "anonymous": "none"}
