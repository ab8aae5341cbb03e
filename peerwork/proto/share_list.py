"""The share list a file service adds to the signed ``_peerwork._tcp`` record.

Sans-IO. Keys: ``sh``, ``sh1``, ``sh2`` … share names, comma-separated, split so
that every ``key=value`` string stays within 255 bytes (the TXT string limit);
``sht=1`` says the list was cut short (more shares than ``budget`` bytes can
carry, or a name too long in UTF-8 for one string): ask the peer itself.
The printers service lists its printer names the same way under ``pr``/``prt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_TXT_STRING = 255
TRUNCATED_KEY = "sht"
PRINTERS_KEY, PRINTERS_TRUNCATED_KEY = "pr", "prt"
_KEY_LIMIT = 64  # sh, sh1 … sh63: more than any budget allows
_MAX_SHARES = 512
_MAX_NAME = 255


def share_key(i: int, prefix: str = "sh") -> str:
    return prefix if i == 0 else f"{prefix}{i}"


def encode_shares(
    names: Iterable[str], budget: int, prefix: str = "sh", flag: str = TRUNCATED_KEY
) -> dict[str, str]:
    """TXT keys for ``names`` within ``budget`` wire bytes (``sht=1`` included when cut)."""
    room_for_flag = _txt_len(flag, "1")
    chunks, truncated = _pack(tuple(names), budget - room_for_flag, prefix)
    out = {share_key(i, prefix): chunk for i, chunk in enumerate(chunks)}
    if truncated:
        out[flag] = "1"
    return out


def decode_shares(
    fields: Mapping[str, str | None], prefix: str = "sh", flag: str = TRUNCATED_KEY
) -> tuple[tuple[str, ...], bool]:
    """Share names from received keys, and whether the peer says the list is cut short."""
    names: list[str] = []
    for i in range(_KEY_LIMIT):
        value = fields.get(share_key(i, prefix))
        if value is None:
            break
        names.extend(n.strip()[:_MAX_NAME] for n in value.split(",") if n.strip())
    return tuple(names[:_MAX_SHARES]), fields.get(flag) == "1"


def encode_printers(names: Iterable[str], budget: int) -> dict[str, str]:
    return encode_shares(names, budget, PRINTERS_KEY, PRINTERS_TRUNCATED_KEY)


def decode_printers(fields: Mapping[str, str | None]) -> tuple[tuple[str, ...], bool]:
    return decode_shares(fields, PRINTERS_KEY, PRINTERS_TRUNCATED_KEY)


def _txt_len(key: str, value: str) -> int:
    return 2 + len(key.encode()) + len(value.encode("utf-8", "surrogatepass"))


def _pack(shares: tuple[str, ...], budget: int, prefix: str) -> tuple[list[str], bool]:
    chunks: list[str] = []
    current: list[str] = []
    spent = 0

    def room(names: list[str]) -> int:
        return _txt_len(share_key(len(chunks), prefix), ",".join(names))

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
