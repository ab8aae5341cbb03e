"""``[channel]``: the agent-to-agent channel (mutual TLS with the peer keys)."""

from __future__ import annotations

from dataclasses import dataclass

from .read import as_port, setting
from .section import ConfigSection

# Unprivileged, so the same default serves root and user agents alike.
DEFAULT_CHANNEL_PORT = 7445


@dataclass(frozen=True, slots=True)
class ChannelSection:
    """The agent-to-agent channel (mutual TLS with the peer keys), announced as ``ctl``."""

    enabled: bool = True
    bind: str = "0.0.0.0"
    port: int = setting(DEFAULT_CHANNEL_PORT, as_port)
    # Seconds a caller has from TCP connect to a verified TLS 1.3 handshake.
    handshake_timeout: float = 10.0


CHANNEL = ConfigSection(
    "channel",
    ChannelSection,
    """\
[channel]                 # agent-to-agent channel: mutual TLS with the peer keys
enabled = true
bind = "0.0.0.0"
port = 7445               # announced to peers as "ctl"; same default as root or not
handshake_timeout = 10    # seconds a caller gets to prove its peer key
""",
)
