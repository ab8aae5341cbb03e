"""peerwork: a peer-to-peer workgroup suite for small offices."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
