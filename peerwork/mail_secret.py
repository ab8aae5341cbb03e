"""The smarthost password: one 0600 file in the home, never in peerwork.toml.

The agent reads it each time it connects to the smarthost (so a new password
needs no restart) and never logs it; ``peerwork mail smarthost-password``
writes it.
"""

from __future__ import annotations

from pathlib import Path

from peerwork.atomic import atomic_write_text
from peerwork.errors import InvalidInput


def smarthost_secret(home: Path) -> Path:
    return home / "mail" / "smarthost.secret"


def save_smarthost_password(home: Path, password: str) -> Path:
    """Write the password (atomically, mode 0600); the file's path."""
    if not password or "\n" in password or "\r" in password or "\0" in password:
        raise InvalidInput("the smarthost password must be one non-empty line")
    path = smarthost_secret(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_text(path, password + "\n", mode=0o600)
    return path
