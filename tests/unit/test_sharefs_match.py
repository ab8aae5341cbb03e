"""The wildcard matcher (peerwork/sharefs/match.py) against a slow reference, and its
cost on hostile patterns counted in steps (name characters examined), not timed."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.sharefs.match import MAX_PATTERN, Pattern, matches


def reference(pattern: str, name: str) -> bool:
    """Samba's ms_fnmatch semantics as plain backtracking over every split: exponential,
    obviously right, only for small inputs."""
    if pattern in ("", "*", "*.*"):
        return True
    p, n = pattern.casefold(), name.casefold()
    last_dot = n.rfind(".")

    def at(pi: int, ni: int) -> bool:
        if pi == len(p):
            return ni == len(n)
        c, rest = p[pi], pi + 1
        if c == "*":
            return any(at(rest, k) for k in range(ni, len(n) + 1))
        if c == "<":
            # Any run that does not go past the last dot (it may end with that dot).
            stop = len(n) if ni > last_dot else last_dot + 1
            return any(at(rest, k) for k in range(ni, stop + 1))
        if c == "?":
            return ni < len(n) and at(rest, ni + 1)
        if c == ">":
            if ni == len(n):
                return at(rest, ni)
            if n[ni] == ".":
                return at(rest, ni) or (ni + 1 == len(n) and at(rest, ni + 1))
            return at(rest, ni + 1)
        if c == '"':
            if ni == len(n):
                return at(rest, ni)
            return n[ni] == "." and at(rest, ni + 1)
        return ni < len(n) and n[ni] == c and at(rest, ni + 1)

    return at(0, 0)


@pytest.mark.parametrize(
    ("pattern", "name", "ok"),
    [
        ("*", "anything", True),
        ("*.*", "noext", True),
        ("", "x", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("A*Z", "abcz", True),
        ("*.txt", "a.txt.bak", False),
        ("*.TXT", "report.txt", True),
        ("<.txt", "a.b.txt", True),
        ("<", "a.b", False),
        ("<.b", "a.b", True),
        ("<b", "a.b", True),
        ("a>>", "a", True),
        ("a>>.txt", "ab.txt", True),
        (">.>", "a.", True),
        ('a"', "a", True),
        ('a"txt', "a.txt", True),
        ('a"txt', "abtxt", False),
        ("***a", "a", True),
        ("Stra?e", "STRASSE", False),
        ("*ß", "Strass", True),  # casefold: ß is ss, as Windows' upcase table is not
        ("*a" * 120 + "b", "a" * 255, False),
        ("*a" * 120 + "b", "a" * 200 + "b", True),
    ],
)
def test_known_cases(pattern: str, name: str, ok: bool) -> None:
    assert matches(pattern, name) is ok
    if len(pattern) < 12 and len(name) < 12:
        assert reference(pattern, name) is ok


SMALL_PATTERN = st.text(alphabet='ab.*?<>"', max_size=7)
SMALL_NAME = st.text(alphabet="abAB.", max_size=7)


@settings(max_examples=3000)
@given(SMALL_PATTERN, SMALL_NAME)
def test_same_answers_as_the_reference(pattern: str, name: str) -> None:
    assert matches(pattern, name) is reference(pattern, name)


@settings(max_examples=300)
@given(st.text(max_size=600), st.text(max_size=300))
def test_hostile_text_never_crashes(pattern: str, name: str) -> None:
    assert matches(pattern, name) in (True, False)


def _hostile_patterns() -> list[str]:
    return [
        "*a" * 120 + "b",  # the 241-character pattern of issue 12
        "<a" * 120 + "b",
        "*?" * 120 + "b",
        ">" * 255 + "b",
        "*" + "a*" * 200 + "b",
        '*."' * 80,
        "?" * 256,
    ]


@pytest.mark.parametrize("pattern", _hostile_patterns())
def test_work_is_linear_in_the_name(pattern: str) -> None:
    """One step per name character (plus one per name), whatever the pattern; no
    recursion, so even a tiny recursion limit does not matter."""
    names = ["a" * 255, "a" * 254 + "b", "a." * 127, "." * 255]
    compiled = Pattern(pattern)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)
    try:
        for name in names:
            compiled.matches(name)
    finally:
        sys.setrecursionlimit(limit)
    assert compiled.steps == sum(len(n) + 1 for n in names)


def test_over_long_pattern_matches_nothing_and_costs_nothing() -> None:
    compiled = Pattern("a" * (MAX_PATTERN + 1))
    assert not compiled.matches("a" * (MAX_PATTERN + 1))
    assert compiled.steps == 0
    # Star runs collapse before the length check: this is just "*".
    assert Pattern("*" * 10_000 + "x").matches("abx")
