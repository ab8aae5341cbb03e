"""Making untrusted text (names and values from the network) safe to show in a terminal."""

from __future__ import annotations

import unicodedata


def printable(value: object, limit: int = 200) -> str:
    """``value`` as text with control and format characters replaced by U+FFFD, cut to ``limit``.

    Stops escape sequences in a peer's announced name from driving the user's terminal.
    """
    text = str(value)[:limit]
    return "".join(
        "\ufffd" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") else ch
        for ch in text
    )
