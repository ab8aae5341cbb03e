"""The screens the app switches between: key, mode name and label, in the order shown."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Place:
    key: str
    mode: str
    label: str
    about: str


PLACES = (
    Place("1", "this-pc", "This PC", "name, workgroup, services and their ports, warnings"),
    Place("2", "workgroup", "Workgroup", "the PCs of the workgroup on the LAN, live"),
    Place("3", "shares", "Shares", "this PC's shared folders and who may use them"),
    Place("4", "accounts", "Accounts", "workgroup accounts: add, change password, remove"),
    Place("5", "browse", "Browse", "open a PC's share, copy files in and out"),
    Place("6", "printers", "Printers", "this PC's shared printers and their queue"),
    Place("7", "mail", "Mail", "the workgroup post office: your inbox"),
    Place("8", "gateway", "Gateway", "Internet connection sharing: plan, enable, leases"),
)
OFFLINE = "offline"
