"""Directory search patterns as Windows matches them (MS-FSA 2.1.4.4, IsInExpression).

``*`` any run, ``?`` one character, and the DOS wildcards clients send for
8.3-era patterns: ``<`` (DOS_STAR: any run, up to and through the last dot),
``>`` (DOS_QM: one character, or none at a dot or the end), ``"`` (DOS_DOT: a dot,
or nothing at the end). Case-insensitive. Semantics follow Samba's
masktest-derived ms_fnmatch.
"""

from __future__ import annotations

from functools import lru_cache

WILDCARDS = frozenset('*?<>"')
MAX_PATTERN = 512


def has_wildcards(pattern: str) -> bool:
    return any(ch in WILDCARDS for ch in pattern)


def matches(pattern: str, name: str) -> bool:
    """True when ``name`` is in the expression ``pattern`` (case-insensitive)."""
    if pattern in ("", "*", "*.*"):
        # "*.*" means "everything" to every Windows program, dots or not.
        return True
    while "**" in pattern:
        pattern = pattern.replace("**", "*")
    if len(pattern) > MAX_PATTERN:
        # No name (at most 255 characters) needs a longer pattern; bounding it
        # also bounds the matcher's recursion.
        return False
    return _match(pattern.casefold(), name.casefold())


@lru_cache(maxsize=4096)
def _match(p: str, n: str) -> bool:
    memo: dict[tuple[int, int], bool] = {}
    last_dot = n.rfind(".")

    def at(pi: int, ni: int) -> bool:
        key = (pi, ni)
        hit = memo.get(key)
        if hit is not None:
            return hit
        result = step(pi, ni)
        memo[key] = result
        return result

    def step(pi: int, ni: int) -> bool:
        while pi < len(p):
            c = p[pi]
            pi += 1
            if c == "?":
                if ni >= len(n):
                    return False
                ni += 1
            elif c == ">":
                if ni < len(n) and n[ni] == ".":
                    return (ni + 1 == len(n) and at(pi, ni + 1)) or at(pi, ni)
                if ni >= len(n):
                    return at(pi, ni)
                ni += 1
            elif c == "*":
                return any(at(pi, k) for k in range(ni, len(n) + 1))
            elif c == "<":
                for k in range(ni, len(n)):
                    if at(pi, k):
                        return True
                    if k == last_dot:
                        return at(pi, k + 1)
                return at(pi, len(n))
            elif c == '"':
                if ni >= len(n):
                    return at(pi, ni)
                if n[ni] != ".":
                    return False
                ni += 1
            else:
                if ni >= len(n) or n[ni] != c:
                    return False
                ni += 1
        return ni == len(n)

    return at(0, 0)
