"""Registers every file-command handler with the SMB2 core (importing a module registers it)."""

from peerwork.agents.smb import (  # noqa: F401  (imported for their @handler registrations)
    cmd_create,
    cmd_directory,
    cmd_info,
    cmd_lock,
    cmd_readwrite,
)
