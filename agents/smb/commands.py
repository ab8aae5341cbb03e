"""Registers every file-command handler with the SMB2 core (importing a module registers it)."""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("peerwork.smb")

FILE_COMMAND_MODULES = (
    "peerwork.agents.smb.cmd_create",  # CREATE, CLOSE, FLUSH
    "peerwork.agents.smb.cmd_readwrite",  # READ, WRITE
    "peerwork.agents.smb.cmd_directory",  # QUERY_DIRECTORY, CHANGE_NOTIFY
    "peerwork.agents.smb.cmd_info",  # QUERY_INFO, SET_INFO
    "peerwork.agents.smb.cmd_lock",  # LOCK
)

for _name in FILE_COMMAND_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:
            raise
        # A command without a handler is answered STATUS_NOT_SUPPORTED by the core.
        log.warning("SMB handler module %s is missing", _name)
