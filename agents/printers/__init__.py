"""Printer sharing: IPP Everywhere printers served from this PC (see ``service``)."""

from .service import PrinterService

__all__ = ["PrinterService"]
