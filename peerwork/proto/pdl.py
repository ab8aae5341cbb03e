"""Document formats (PDLs) an IPP Everywhere printer takes, and how to tell them apart.

Shared by the printer (for ``application/octet-stream`` documents) and by
``peerwork print`` (to name the format it sends).
"""

from __future__ import annotations

FORMATS = ("application/pdf", "image/pwg-raster", "image/urf", "image/jpeg")
SNIFF_BYTES = 8
_MAGIC = (
    (b"%PDF", "application/pdf"),
    (b"RaS2", "image/pwg-raster"),
    (b"UNIRAST", "image/urf"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def sniff(head: bytes) -> str:
    """The format whose magic number ``head`` starts with; "" when none matches."""
    return next((fmt for magic, fmt in _MAGIC if head.startswith(magic)), "")
