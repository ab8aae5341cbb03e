"""POP3 commands (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS): one line in, one :class:`Command` out.

Sans-IO. A command line is at most 255 octets with its CRLF (RFC 2449 4);
anything else (unknown verbs, wrong argument counts, non-ASCII, NULs) raises
:class:`Pop3SyntaxError` with the text of the ``-ERR`` answer, and the session
goes on unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_LINE = 255
MAX_ARG = 40  # RFC 2449: each argument up to 40 octets


class Pop3SyntaxError(ValueError):
    """The client sent something that is not a POP3 command we serve."""


class Verb(enum.Enum):
    USER = "USER"
    PASS = "PASS"  # noqa: S105 (a command name, not a password)
    STAT = "STAT"
    LIST = "LIST"
    UIDL = "UIDL"
    RETR = "RETR"
    TOP = "TOP"
    DELE = "DELE"
    RSET = "RSET"
    NOOP = "NOOP"
    QUIT = "QUIT"
    CAPA = "CAPA"
    STLS = "STLS"


# Verb -> (minimum, maximum) number of arguments.
_ARITY = {
    Verb.USER: (1, 1),
    Verb.PASS: (1, 1),
    Verb.STAT: (0, 0),
    Verb.LIST: (0, 1),
    Verb.UIDL: (0, 1),
    Verb.RETR: (1, 1),
    Verb.TOP: (2, 2),
    Verb.DELE: (1, 1),
    Verb.RSET: (0, 0),
    Verb.NOOP: (0, 0),
    Verb.QUIT: (0, 0),
    Verb.CAPA: (0, 0),
    Verb.STLS: (0, 0),
}
_NUMERIC = {Verb.LIST, Verb.UIDL, Verb.RETR, Verb.TOP, Verb.DELE}


@dataclass(frozen=True, slots=True)
class Command:
    """``args`` as sent; for the message commands they are checked to be numbers
    (``numbers`` holds them), so a handler never parses text itself."""

    verb: Verb
    args: tuple[str, ...] = ()

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(int(a) for a in self.args) if self.verb in _NUMERIC else ()

    def pack(self) -> bytes:
        return " ".join((self.verb.value, *self.args)).encode("ascii") + b"\r\n"


def parse_command(line: bytes) -> Command:
    """One command line, CRLF (or a bare LF) included or not."""
    if len(line) > MAX_LINE:
        raise Pop3SyntaxError("command line too long")
    line = line.removesuffix(b"\n").removesuffix(b"\r")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise Pop3SyntaxError("commands must be ASCII") from None
    if not text.isprintable():
        raise Pop3SyntaxError("control characters in the command")
    # PASS takes the rest of the line: a password may contain spaces (RFC 1939 13).
    head, _, rest = text.partition(" ")
    try:
        verb = Verb(head.upper())
    except ValueError:
        raise Pop3SyntaxError("unknown command") from None
    if verb is Verb.PASS:
        args: tuple[str, ...] = (rest,) if rest else ()
    else:
        args = tuple(rest.split(" ")) if rest else ()
        if any(not a or len(a) > MAX_ARG for a in args):
            raise Pop3SyntaxError("malformed arguments")
    low, high = _ARITY[verb]
    if not low <= len(args) <= high:
        raise Pop3SyntaxError(f"{verb.value} takes {low}-{high} argument(s)")
    if verb in _NUMERIC and not all(a.isdigit() and a.isascii() for a in args):
        raise Pop3SyntaxError("message numbers must be decimal")
    return Command(verb, args)


def ok(text: str = "") -> bytes:
    return f"+OK {text}".rstrip().encode() + b"\r\n"


def err(text: str) -> bytes:
    return f"-ERR {text}".encode() + b"\r\n"
