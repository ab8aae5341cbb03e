"""Directory search patterns as Windows matches them (MS-FSA 2.1.4.4, IsInExpression).

``*`` any run, ``?`` one character, and the DOS wildcards clients send for
8.3-era patterns: ``<`` (DOS_STAR: any run, up to and through the last dot),
``>`` (DOS_QM: one character, or none at a dot or the end), ``"`` (DOS_DOT: a dot,
or nothing at the end). Case-insensitive. Semantics follow Samba's
masktest-derived ms_fnmatch.

Linear time, no recursion: the pattern compiles to an NFA whose state set is
one integer (bit j: "the first j pattern characters are matched"), advanced by
a fixed handful of integer operations per name character, whatever the
pattern — ``*a*a*a…b`` costs what ``*.txt`` costs. A :class:`Pattern` counts
the name characters it examined (``steps``) so a listing can be bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

WILDCARDS = frozenset('*?<>"')
MAX_PATTERN = 512
# Name characters one listing may examine: ~200,000 names of 100 characters, a few
# seconds of matching in a worker thread at most.
DEFAULT_LISTING_WORK = 20_000_000
_STAR_RUN = re.compile(r"\*{2,}")


def has_wildcards(pattern: str) -> bool:
    return any(ch in WILDCARDS for ch in pattern)


def _bits(pattern: str, chars: str) -> int:
    return sum(1 << j for j, ch in enumerate(pattern) if ch in chars)


def _closure(states: int, eps: int) -> int:
    """``states`` plus every state reachable through epsilon edges j -> j+1 (bit j of
    ``eps``): carry propagation does the chains in one addition. With x = S|A and
    y = S (A = eps << 1), the carry into bit k+1 is S_k | (A_k & carry_k), which
    is exactly "state k is reachable"."""
    x = states | (eps << 1)
    return (((x + states) ^ x ^ states) >> 1) | states


@dataclass(frozen=True, slots=True)
class _Program:
    size: int  # pattern length; bit ``size`` is the accepting state
    literal: dict[str, int]  # character -> states that consume exactly it
    any_char: int  # '?'
    dos_qm: int  # '>'
    dos_dot: int  # '"'
    star: int  # '*'
    dos_star: int  # '<'


@lru_cache(maxsize=256)
def _compile(pattern: str) -> _Program:
    literal: dict[str, int] = {}
    for j, ch in enumerate(pattern):
        if ch not in WILDCARDS:
            literal[ch] = literal.get(ch, 0) | (1 << j)
    return _Program(
        size=len(pattern),
        literal=literal,
        any_char=_bits(pattern, "?"),
        dos_qm=_bits(pattern, ">"),
        dos_dot=_bits(pattern, '"'),
        star=_bits(pattern, "*"),
        dos_star=_bits(pattern, "<"),
    )


@dataclass(slots=True)
class Pattern:
    """A compiled search pattern; ``steps`` counts name characters examined so far."""

    text: str
    steps: int = 0
    _prog: _Program | None = field(default=None, repr=False)
    _all: bool = False

    def __post_init__(self) -> None:
        text = self.text
        if text in ("", "*", "*.*"):
            # "*.*" means "everything" to every Windows program, dots or not.
            self._all = True
            return
        text = _STAR_RUN.sub("*", text)
        # No name (at most 255 characters) needs a longer pattern: it matches nothing.
        self._prog = _compile(text.casefold()) if len(text) <= MAX_PATTERN else None

    def matches(self, name: str) -> bool:
        """True when ``name`` is in the expression (case-insensitive)."""
        if self._all:
            return True
        prog = self._prog
        if prog is None:
            return False
        n = name.casefold()
        self.steps += len(n) + 1
        last_dot = n.rfind(".")
        always = prog.star | prog.dos_star
        states = _closure(1, always | (prog.dos_qm if n[:1] == "." else 0))
        for i, ch in enumerate(n):
            if not states:
                return False
            dot = ch == "."
            advance = prog.literal.get(ch, 0) | prog.any_char
            if dot:
                advance |= prog.dos_dot
                if i + 1 == len(n):
                    advance |= prog.dos_qm
            else:
                advance |= prog.dos_qm
            if i == last_dot:
                # DOS_STAR may run through the last dot but stops right after it.
                advance |= prog.dos_star
                stay = prog.star
            else:
                stay = always
            states = ((states & advance) << 1) | (states & stay)
            # Epsilon edges at the next position: '>' skips at a dot or the end,
            # '"' only at the end.
            nxt = i + 1
            eps = always
            if nxt == len(n):
                eps |= prog.dos_qm | prog.dos_dot
            elif n[nxt] == ".":
                eps |= prog.dos_qm
            states = _closure(states, eps)
        if not n:
            states = _closure(states, always | prog.dos_qm | prog.dos_dot)
        return bool(states >> prog.size & 1)


def matches(pattern: str, name: str) -> bool:
    """True when ``name`` is in the expression ``pattern`` (case-insensitive)."""
    return Pattern(pattern).matches(name)
