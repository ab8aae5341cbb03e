"""The share list a file service adds to the signed ``_peerwork._tcp`` record.

Sans-IO. Keys: ``sh``, ``sh1``, ``sh2`` … share names, comma-separated, split so
that every ``key=value`` string stays within 255 bytes (the TXT string limit);
``sht=1`` says the list was cut short (more shares than ``budget`` bytes can
carry, or a name too long in UTF-8 for one string): ask the peer itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_TXT_STRING = 255
TRUNCATED_KEY = "sht"
_KEY_LIMIT = 64  # sh, sh1 … sh63: more than any budget allows
_MAX_SHARES = 512
_MAX_NAME = 255


def share_key(i: int) -> str:
    return "sh" if i == 0 else f"sh{i}"


def encode_shares(names: Iterable[str], budget: int) -> dict[str, str]:
    """TXT keys for ``names`` within ``budget`` wire bytes (``sht=1`` included when cut)."""
    room_for_flag = _txt_len(TRUNCATED_KEY, "1")
    chunks, truncated = _pack(tuple(names), budget - room_for_flag)
    out = {share_key(i): chunk for i, chunk in enumerate(chunks)}
    if truncated:
        out[TRUNCATED_KEY] = "1"
    return out


def decode_shares(fields: Mapping[str, str | None]) -> tuple[tuple[str, ...], bool]:
    """Share names from received keys, and whether the peer says the list is cut short."""
    names: list[str] = []
    for i in range(_KEY_LIMIT):
        value = fields.get(share_key(i))
        if value is None:
            break
        names.extend(n.strip()[:_MAX_NAME] for n in value.split(",") if n.strip())
    return tuple(names[:_MAX_SHARES]), fields.get(TRUNCATED_KEY) == "1"


def _txt_len(key: str, value: str) -> int:
    return 2 + len(key.encode()) + len(value.encode("utf-8", "surrogatepass"))


def _pack(shares: tuple[str, ...], budget: int) -> tuple[list[str], bool]:
    chunks: list[str] = []
    current: list[str] = []
    spent = 0

    def room(names: list[str]) -> int:
        return _txt_len(share_key(len(chunks)), ",".join(names))

    for name in shares:
        if "," in name or not name.strip():
            continue  # validate_share_name refuses these; never corrupt the list
        trial = [*current, name]
        if room(trial) <= MAX_TXT_STRING + 1 and spent + room(trial) <= budget:
            current = trial
            continue
        if current:
            spent += room(current)
            chunks.append(",".join(current))
            current = []
        if len(chunks) >= _KEY_LIMIT:
            return chunks, True
        if room([name]) > MAX_TXT_STRING + 1 or spent + room([name]) > budget:
            return chunks, True
        current = [name]
    if current:
        chunks.append(",".join(current))
    return chunks, False
