"""The [printers] section and what the printers service puts on the advert board."""

from __future__ import annotations

from typing import Any

import pytest

from peerwork.agents.adverts import AdvertBoard
from peerwork.agents.printers.service import IPP_TYPE, UNIVERSAL, PrinterService, printers_advert
from peerwork.config.printers import PRINTERS
from peerwork.errors import ConfigError

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


def test_off_without_printers() -> None:
    reason = PrinterService.disabled_reason(PRINTERS.read({}), None)  # type: ignore[arg-type]
    assert "no printers" in reason
    assert PrinterService.disabled_reason(PRINTERS.read({"printer": [OFFICE]}), None) == ""  # type: ignore[arg-type]


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
    assert txt["printer-type"].startswith("0x") and "TLS" not in txt  # no IPPS yet
    board = AdvertBoard()
    board.set("printers", advert)
    assert board.roles() == ["printers"] and board.ports() == {"ipp": 8631}
