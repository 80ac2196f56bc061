"""The OData ``$filter`` expressions SensorThings 1.1 uses, parsed into a small tree.

No SQL here: :mod:`geo.queries.sensors_filter` compiles the tree into bound SQL. The grammar is
the subset the standard lists (section 9.3.3.5.1): comparison (``eq ne gt ge lt le``), logical
(``and or not``), arithmetic (``add sub mul div mod``), parentheses, function calls (string,
date, math and geospatial functions), literals (strings in single quotes, numbers, ``true``,
``false``, ``null``, ISO 8601 times, ``geography'POINT(…)'``) and property paths such as
``Datastream/Thing/name`` or ``properties/owner``.

A hand-written Pratt parser: the PyPI ``odata-query`` parser targets OData 4.0 with SQLAlchemy
models and lacks the SensorThings functions (``substringof``, ``st_within``…); a few hundred
lines here keep every error message ours and every value a bind parameter downstream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from geo.errors import InvalidInput

MAX_LENGTH = 4000
MAX_DEPTH = 40


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any
    kind: str  # string, number, bool, null, time, geometry


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # not, neg
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


type Node = Literal | Path | Unary | Binary | Call

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
ARITHMETIC = ("add", "sub", "mul", "div", "mod")
#: Binding power of each infix operator (higher binds tighter).
_INFIX = {"or": 1, "and": 2, **dict.fromkeys(COMPARISONS, 3), "add": 4, "sub": 4,
          "mul": 5, "div": 5, "mod": 5}  # fmt: skip
_KEYWORDS = {"true", "false", "null", "not", *_INFIX}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<geo>(?:geography|geometry)'(?P<wkt>[^']*)')
  | (?P<string>'(?:[^']|'')*')
  | (?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_@][A-Za-z0-9_.@]*)
  | (?P<punct>[(),/])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise InvalidInput(f"$filter: unexpected character {text[at]!r} at position {at + 1}.")
        kind = match.lastgroup or ""
        if kind == "wkt":
            kind = "geo"
        if kind != "space":
            found.append(_Token(kind, match.group(0), at))
        at = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise InvalidInput("$filter: the expression ends too early.")
        self.i += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise InvalidInput(
                f"$filter: expected {text!r} at position {token.at + 1}, found {token.text!r}."
            )

    def expression(self, power: int = 0) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidInput("$filter: the expression is nested too deeply.")
        left = self.prefix()
        while True:
            token = self.peek()
            if token is None or token.kind != "name" or token.text not in _INFIX:
                break
            bp = _INFIX[token.text]
            if bp <= power:
                break
            self.take()
            right = self.expression(bp)
            left = Binary(token.text, left, right)
        self.depth -= 1
        return left

    def prefix(self) -> Node:
        token = self.take()
        if token.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"), "string")
        if token.kind == "number":
            value = Decimal(token.text)
            whole = not any(c in token.text for c in ".eE")
            return Literal(int(value) if whole else value, "number")
        if token.kind == "time":
            return Literal(_time(token.text), "time")
        if token.kind == "geo":
            wkt = token.text[token.text.index("'") + 1 : -1]
            return Literal(wkt, "geometry")
        if token.kind == "name":
            return self.name(token)
        raise InvalidInput(f"$filter: unexpected {token.text!r} at position {token.at + 1}.")

    def name(self, token: _Token) -> Node:
        word = token.text
        if word in ("true", "false"):
            return Literal(word == "true", "bool")
        if word == "null":
            return Literal(None, "null")
        if word == "not":
            return Unary("not", self.expression(_INFIX["mod"]))
        if word in _INFIX:
            raise InvalidInput(f"$filter: {word!r} at position {token.at + 1} needs a left side.")
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            self.take()
            args: list[Node] = []
            if self.peek() is not None and self.peek().text == ")":  # type: ignore[union-attr]
                self.take()
            else:
                while True:
                    args.append(self.expression())
                    sep = self.take()
                    if sep.text == ")":
                        break
                    if sep.text != ",":
                        raise InvalidInput(
                            f"$filter: expected ',' or ')' at position {sep.at + 1} in "
                            f"{word}(…), found {sep.text!r}."
                        )
            return Call(word.lower(), tuple(args))
        parts = [word]
        while self.peek() is not None and self.peek().text == "/":  # type: ignore[union-attr]
            self.take()
            part = self.take()
            if part.kind != "name" or part.text in _KEYWORDS:
                raise InvalidInput(f"$filter: a property name must follow '/' at {part.at + 1}.")
            parts.append(part.text)
        return Path(tuple(parts))


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"$filter: {text!r} is not a valid time.") from None


def parse_filter(text: str) -> Node:
    """The tree of a ``$filter`` value; InvalidInput (400) with the position when malformed."""
    if not text.strip():
        raise InvalidInput("$filter is empty.")
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"$filter is longer than {MAX_LENGTH} characters.")
    parser = _Parser(text)
    node = parser.expression()
    rest = parser.peek()
    if rest is not None:
        raise InvalidInput(
            f"$filter: unexpected {rest.text!r} at position {rest.at + 1} (an operator missing?)."
        )
    return node


def parse_path(text: str) -> Path:
    """A property path as ``$orderby`` and ``$select`` write it (``Datastream/name``)."""
    parts = tuple(p.strip() for p in text.split("/"))
    if not all(re.fullmatch(r"[A-Za-z_@][A-Za-z0-9_.@]*", p) for p in parts):
        raise InvalidInput(f"{text!r} is not a property path.")
    return Path(parts)
