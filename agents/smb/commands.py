"""Registers every file-command handler with the SMB2 core (importing a module registers it)."""

from peerwork.agents.smb import (  # noqa: F401  (imported for their @handler registrations)
    cmd_create,  # CREATE, CLOSE, FLUSH
    cmd_directory,  # QUERY_DIRECTORY, CHANGE_NOTIFY
    cmd_info,  # QUERY_INFO, SET_INFO
    cmd_lock,  # LOCK
    cmd_readwrite,  # READ, WRITE
)
