"""``$filter`` and ``$orderby`` trees compiled to SQL on an entity set, values bound.

Every literal becomes a bind parameter (``Params.add``); identifiers and SQL come only from
:mod:`geo.queries.sensors_schema` and the tables below. JSON values (``result``,
``properties/…``) are read as the other side of a comparison needs them: a number, a string or
a boolean (a JSON value of another type compares as null, so it never matches).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from geo.errors import InvalidInput
from geo.queries.sensors_odata import (
    ARITHMETIC,
    COMPARISONS,
    Binary,
    Call,
    Literal,
    Node,
    Path,
    Unary,
)
from geo.queries.sensors_schema import ENTITY_SETS, EntitySet, prop

type Typed = tuple[sql.Composable, str]


@dataclass
class Params:
    """The bind parameters of one statement, named ``p0``, ``p1`` … in order."""

    values: dict[str, Any] = field(default_factory=dict)
    _names: Any = field(default_factory=itertools.count)
    _aliases: Any = field(default_factory=itertools.count)

    def add(self, value: Any, cast: str | None = None) -> sql.Composable:
        name = f"p{next(self._names)}"
        self.values[name] = value
        placeholder: sql.Composable = sql.Placeholder(name)
        return placeholder + sql.SQL(f"::{cast}") if cast else placeholder

    def alias(self) -> str:
        return f"n{next(self._aliases)}"


_OPS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
        "add": "+", "sub": "-", "mul": "*", "div": "/"}  # fmt: skip
_CASTS = {"string": "text", "number": "numeric", "bool": "boolean", "time": "timestamptz"}
_KINDS = {"string": "text", "number": "number", "bool": "bool", "time": "time"}


def _s(text: str) -> sql.SQL:
    return sql.SQL(text)  # our constants only


def _call(fn: str, *args: sql.Composable) -> sql.Composed:
    return _s(fn + "(") + sql.SQL(", ").join(args) + _s(")")


def coerce(value: Typed, want: str) -> sql.Composable:
    """``value`` as kind ``want`` (JSON read as a number, text, boolean or time)."""
    expr, kind = value
    if kind == want or kind == "null":
        return expr
    if kind == "json":
        if want == "number":
            return _s("(CASE WHEN jsonb_typeof(") + expr + _s(") = 'number' THEN (") + expr + \
                _s(")::numeric END)")  # fmt: skip
        if want == "bool":
            return _s("(CASE WHEN jsonb_typeof(") + expr + _s(") = 'boolean' THEN (") + expr + \
                _s(")::boolean END)")  # fmt: skip
        if want == "text":
            return _s("(") + expr + _s(" #>> '{}')")
        if want == "time":
            return _s("((") + expr + _s(" #>> '{}')::timestamptz)")
    if kind == "text" and want == "time":
        return _s("(") + expr + _s(")::timestamptz")
    raise InvalidInput(f"$filter: a {kind} value is used where a {want} is needed.")


@dataclass
class Compiler:
    entity: EntitySet
    alias: str
    params: Params

    def compile(self, node: Node) -> Typed:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Path):
            return self.path(self.entity, self.alias, node.parts)
        if isinstance(node, Unary):
            if node.op == "not":
                return _s("(NOT ") + coerce(self.compile(node.operand), "bool") + _s(")"), "bool"
            raise InvalidInput(f"$filter: unknown operator {node.op!r}.")
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def condition(self, node: Node) -> sql.Composable:
        """A ``$filter`` as a WHERE predicate."""
        return coerce(self.compile(node), "bool")

    def literal(self, node: Literal) -> Typed:
        if node.kind == "null":
            return _s("NULL"), "null"
        if node.kind == "geometry":
            return _call("ST_GeomFromText", self.params.add(node.value, "text"), _s("4326")), \
                "geometry"  # fmt: skip
        return self.params.add(node.value, _CASTS[node.kind]), _KINDS[node.kind]

    def path(self, entity: EntitySet, alias: str, parts: tuple[str, ...]) -> Typed:
        head, rest = parts[0], parts[1:]
        found = prop(entity, head)
        if found is not None:
            expr: sql.Composable = _s(found.expr.format(a=alias))
            if not rest:
                return expr, found.kind
            if found.kind != "json":
                raise InvalidInput(f"$filter: {head!r} of {entity.name} has no members.")
            keys = sql.SQL(", ").join(self.params.add(k, "text") for k in rest)
            return _s("(") + expr + _s(" #> ARRAY[") + keys + _s("])"), "json"
        nav = entity.navs.get(head)
        if nav is None:
            raise InvalidInput(
                f"$filter: {entity.singular} has no property or navigation {head!r}; it has "
                f"{', '.join([*entity.props, *entity.navs])}."
            )
        if nav.many or not rest:
            raise InvalidInput(
                f"$filter: {head!r} leads to a collection or an entity, not a value; filter "
                "on a property of a single related entity, e.g. Datastream/Thing/name."
            )
        target = ENTITY_SETS[nav.target]
        child = self.params.alias()
        inner, kind = self.path(target, child, rest)
        assert nav.key is not None
        return (
            _s("(SELECT ")
            + inner
            + _s(f" FROM {target.table} {child} WHERE {child}.id = {alias}.{nav.key})")
        ), kind

    def binary(self, node: Binary) -> Typed:
        op = node.op
        left, right = self.compile(node.left), self.compile(node.right)
        if op in ("and", "or"):
            return _s("(") + coerce(left, "bool") + _s(f" {op.upper()} ") + \
                coerce(right, "bool") + _s(")"), "bool"  # fmt: skip
        if op in ARITHMETIC:
            a, b = coerce(left, "number"), coerce(right, "number")
            if op == "mod":
                return _call("mod", a, b), "number"
            return _s("(") + a + _s(f" {_OPS[op]} ") + b + _s(")"), "number"
        assert op in COMPARISONS
        if "null" in (left[1], right[1]):
            other = right if left[1] == "null" else left
            if op not in ("eq", "ne"):
                raise InvalidInput("$filter: null compares only with eq or ne.")
            test = " IS NULL)" if op == "eq" else " IS NOT NULL)"
            return _s("(") + other[0] + _s(test), "bool"
        want = _common(left[1], right[1])
        if want == "geometry":
            raise InvalidInput("$filter: compare geometries with st_equals(…), not eq.")
        return _s("(") + coerce(left, want) + _s(f" {_OPS[op]} ") + coerce(right, want) + \
            _s(")"), "bool"  # fmt: skip

    def call(self, node: Call) -> Typed:
        spec = FUNCTIONS.get(node.name)
        if spec is None:
            raise InvalidInput(
                f"$filter: unknown function {node.name!r}; known: {', '.join(sorted(FUNCTIONS))}."
            )
        kinds, result, build = spec
        if len(node.args) not in kinds:
            raise InvalidInput(f"$filter: {node.name}() takes {_arity(kinds)} arguments.")
        args = [coerce(self.compile(a), k) for a, k in zip(node.args, kinds[len(node.args)],
                                                            strict=True)]  # fmt: skip
        return build(*args), result


def _common(a: str, b: str) -> str:
    if a == b:
        return a
    if "json" in (a, b):
        return b if a == "json" else a
    if {a, b} == {"text", "time"}:
        return "time"
    raise InvalidInput(f"$filter: a {a} value cannot be compared with a {b} value.")


def _arity(kinds: dict[int, tuple[str, ...]]) -> str:
    return " or ".join(str(n) for n in sorted(kinds))


def _fn(name: str) -> Callable[..., sql.Composable]:
    return lambda *args: _call(name, *args)


def _extract(field_name: str) -> Callable[..., sql.Composable]:
    return lambda t: _s(f"extract({field_name} FROM ") + t + _s(")")


def _substring(s: sql.Composable, i: sql.Composable, n: sql.Composable | None = None) -> Any:
    start = _s("((") + i + _s(")::int + 1)")
    if n is None:
        return _call("substr", s, start)
    return _call("substr", s, start, _s("(") + n + _s(")::int"))


_T, _N, _G = "text", "number", "geometry"
#: name → ({arity: argument kinds}, result kind, SQL builder)
FUNCTIONS: dict[str, tuple[dict[int, tuple[str, ...]], str, Callable[..., sql.Composable]]] = {
    "substringof": ({2: (_T, _T)}, "bool", lambda a, b: _s("(strpos(") + b + _s(", ") + a +
                                                         _s(") > 0)")),
    "contains": ({2: (_T, _T)}, "bool", lambda a, b: _s("(strpos(") + a + _s(", ") + b +
                                                      _s(") > 0)")),
    "startswith": ({2: (_T, _T)}, "bool", _fn("starts_with")),
    "endswith": ({2: (_T, _T)}, "bool", lambda a, b: _s("(right(") + a + _s(", char_length(") +
                                                      b + _s(")) = ") + b + _s(")")),
    "length": ({1: (_T,)}, _N, _fn("char_length")),
    "indexof": ({2: (_T, _T)}, _N, lambda a, b: _s("(strpos(") + a + _s(", ") + b + _s(") - 1)")),
    "substring": ({2: (_T, _N), 3: (_T, _N, _N)}, _T, _substring),
    "tolower": ({1: (_T,)}, _T, _fn("lower")),
    "toupper": ({1: (_T,)}, _T, _fn("upper")),
    "trim": ({1: (_T,)}, _T, _fn("btrim")),
    "concat": ({2: (_T, _T)}, _T, lambda a, b: _s("(") + a + _s(" || ") + b + _s(")")),
    "year": ({1: ("time",)}, _N, _extract("year")),
    "month": ({1: ("time",)}, _N, _extract("month")),
    "day": ({1: ("time",)}, _N, _extract("day")),
    "hour": ({1: ("time",)}, _N, _extract("hour")),
    "minute": ({1: ("time",)}, _N, _extract("minute")),
    "second": ({1: ("time",)}, _N, lambda t: _s("floor(extract(second FROM ") + t + _s("))")),
    "fractionalseconds": ({1: ("time",)}, _N, lambda t: _s("(extract(second FROM ") + t +
                                                        _s(") - floor(extract(second FROM ") +
                                                        t + _s(")))")),
    "date": ({1: ("time",)}, "time", lambda t: _s("date_trunc('day', ") + t + _s(")")),
    "totaloffsetminutes": ({1: ("time",)}, _N, lambda t: _s("0")),  # times are served in UTC
    "now": ({0: ()}, "time", lambda: _s("now()")),
    "round": ({1: (_N,)}, _N, _fn("round")),
    "floor": ({1: (_N,)}, _N, _fn("floor")),
    "ceiling": ({1: (_N,)}, _N, _fn("ceil")),
    "geo.distance": ({2: (_G, _G)}, _N, _fn("ST_Distance")),
    "geo.length": ({1: (_G,)}, _N, _fn("ST_Length")),
    "geo.intersects": ({2: (_G, _G)}, "bool", _fn("ST_Intersects")),
    "st_equals": ({2: (_G, _G)}, "bool", _fn("ST_Equals")),
    "st_disjoint": ({2: (_G, _G)}, "bool", _fn("ST_Disjoint")),
    "st_touches": ({2: (_G, _G)}, "bool", _fn("ST_Touches")),
    "st_within": ({2: (_G, _G)}, "bool", _fn("ST_Within")),
    "st_overlaps": ({2: (_G, _G)}, "bool", _fn("ST_Overlaps")),
    "st_crosses": ({2: (_G, _G)}, "bool", _fn("ST_Crosses")),
    "st_intersects": ({2: (_G, _G)}, "bool", _fn("ST_Intersects")),
    "st_contains": ({2: (_G, _G)}, "bool", _fn("ST_Contains")),
    "st_relate": ({3: (_G, _G, _T)}, "bool", _fn("ST_Relate")),
}  # fmt: skip
