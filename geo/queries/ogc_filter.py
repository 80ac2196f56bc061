"""CQL2 (text or JSON, parsed by pygeofilter) → a psycopg SQL predicate on a layer view.

pygeofilter's own SQL backend pastes literals into the SQL text unquoted; this one only ever
emits identifiers from the view's published columns, and every value is a bind parameter
(:class:`Predicate` carries them, named ``cql0``, ``cql1`` …, beside the statement's own), so
no value ever reaches the SQL text. Each comparison's types are checked first so that a
mismatch is a 400 with a reason rather than a database error.

``LIKE`` follows CQL2: ``%`` matches any run of characters, ``_`` one character, and ``\\``
escapes the next one (``'100\\%'`` is the text "100%"); the pattern is checked and handed to
PostgreSQL's LIKE with ``ESCAPE '\\'``, whose rules are the same. Text with a NUL, numbers that
are not finite, filters longer than :data:`MAX_FILTER_CHARS` or nested past Python's stack are
refused with a 400.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import cql2
from psycopg import sql
from pygeofilter import ast, values  # type: ignore[import-untyped]
from pygeofilter.backends.evaluator import Evaluator, handle  # type: ignore[import-untyped]
from pygeofilter.parsers.cql2_json import parse as parse_json  # type: ignore[import-untyped]

from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.queries.ogc_fields import column

GEOMETRY_NAMES = frozenset({"geometry", "geom"})
#: The longest filter text parsed (a polygon of a few hundred vertices fits; uvicorn refuses a
#: request line much longer anyway).
MAX_FILTER_CHARS = 16 * 1024
_CMP = {
    ast.ComparisonOp.EQ: "=", ast.ComparisonOp.NE: "<>", ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=", ast.ComparisonOp.GT: ">", ast.ComparisonOp.GE: ">=",
}  # fmt: skip
_SPATIAL = {
    ast.SpatialComparisonOp.INTERSECTS: "ST_Intersects",
    ast.SpatialComparisonOp.DISJOINT: "ST_Disjoint",
    ast.SpatialComparisonOp.CONTAINS: "ST_Contains",
    ast.SpatialComparisonOp.WITHIN: "ST_Within",
    ast.SpatialComparisonOp.TOUCHES: "ST_Touches",
    ast.SpatialComparisonOp.CROSSES: "ST_Crosses",
    ast.SpatialComparisonOp.OVERLAPS: "ST_Overlaps",
    ast.SpatialComparisonOp.EQUALS: "ST_Equals",
}
#: Index-friendly temporal operators on an instant column (CQL2's ``T_*``).
_TEMPORAL_INSTANT = {
    ast.TimeAfter: ">", ast.TimeBefore: "<", ast.TimeEquals: "=",
}  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class Predicate:
    """A compiled filter: SQL on alias ``t`` with placeholders, and the values they bind."""

    sql: sql.Composable
    params: dict[str, Any]


def _checked(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise InvalidInput("text in the filter cannot contain a NUL character.")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput("numbers in the filter must be finite.")
    return value


def like_pattern(pattern: str) -> str:
    """A CQL2 LIKE pattern as PostgreSQL's LIKE … ESCAPE '\\' reads it (the same wildcards
    and escape), checked: a pattern may not end with a lone escape."""
    out, chars = [], iter(pattern)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise InvalidInput("a LIKE pattern cannot end with the escape character \\.")
            out.append("\\" + escaped if escaped in "%_\\" else escaped)
        else:
            out.append(char)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Term:
    """An evaluated expression: its SQL and its JSON type (None: a predicate)."""

    sql: sql.Composable
    type: str | None


class _ToSql(Evaluator):  # type: ignore[misc]
    def __init__(self, view: LayerView) -> None:
        self.view = view
        self.params: dict[str, Any] = {}

    def value(self, value: Any, cast: str = "") -> sql.Composable:
        """A placeholder bound to ``value`` (with a cast where a function's overloads need
        one: an untyped text parameter matches several)."""
        name = f"cql{len(self.params)}"
        self.params[name] = _checked(value)
        return sql.SQL("{}{}").format(sql.Placeholder(name), sql.SQL(cast))

    @handle(ast.Not)  # type: ignore[untyped-decorator]
    def not_(self, node: Any, sub: Term) -> Term:
        return Term(sql.SQL("NOT ({})").format(sub.sql), None)

    @handle(ast.And, ast.Or)  # type: ignore[untyped-decorator]
    def combination(self, node: Any, lhs: Term, rhs: Term) -> Term:
        op = sql.SQL(" AND " if isinstance(node, ast.And) else " OR ")
        return Term(sql.SQL("({})").format(op.join([lhs.sql, rhs.sql])), None)

    @handle(ast.Comparison, subclasses=True)  # type: ignore[untyped-decorator]
    def comparison(self, node: Any, lhs: Term, rhs: Term) -> Term:
        self._same_type(lhs, rhs)
        return Term(sql.SQL("({} {} {})").format(lhs.sql, sql.SQL(_CMP[node.op]), rhs.sql), None)

    @handle(ast.Between)  # type: ignore[untyped-decorator]
    def between(self, node: Any, lhs: Term, low: Term, high: Term) -> Term:
        self._same_type(lhs, low), self._same_type(lhs, high)
        neg = sql.SQL("NOT " if node.not_ else "")
        return Term(
            sql.SQL("({} {}BETWEEN {} AND {})").format(lhs.sql, neg, low.sql, high.sql), None
        )

    @handle(ast.Like)  # type: ignore[untyped-decorator]
    def like(self, node: Any, lhs: Term) -> Term:
        if lhs.type != "string" or not isinstance(node.pattern, str):
            raise InvalidInput("LIKE compares a text property with a text pattern.")
        op = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
        pattern = self.value(like_pattern(node.pattern), "::text")
        return Term(sql.SQL("({} {} {} ESCAPE '\\')").format(lhs.sql, sql.SQL(op), pattern), None)

    @handle(ast.In)  # type: ignore[untyped-decorator]
    def in_(self, node: Any, lhs: Term, *options: Term) -> Term:
        for option in options:
            self._same_type(lhs, option)
        neg = sql.SQL("NOT " if node.not_ else "")
        items = sql.SQL(", ").join(o.sql for o in options)
        return Term(sql.SQL("({} {}IN ({}))").format(lhs.sql, neg, items), None)

    @handle(ast.IsNull)  # type: ignore[untyped-decorator]
    def null(self, node: Any, lhs: Term) -> Term:
        return Term(
            sql.SQL("({} IS {}NULL)").format(lhs.sql, sql.SQL("NOT " if node.not_ else "")), None
        )

    @handle(ast.SpatialComparisonPredicate, subclasses=True)  # type: ignore[untyped-decorator]
    def spatial(self, node: Any, lhs: Term, rhs: Term) -> Term:
        if lhs.type != "geometry" or rhs.type != "geometry":
            raise InvalidInput(f"{node.op.name} compares the geometry with a geometry.")
        return Term(
            sql.SQL("{}({}, {})").format(sql.SQL(_SPATIAL[node.op]), lhs.sql, rhs.sql), None
        )

    @handle(ast.BBox)  # type: ignore[untyped-decorator]
    def bbox(self, node: Any, lhs: Term) -> Term:
        if lhs.type != "geometry":
            raise InvalidInput("BBOX applies to the geometry.")
        box = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, 4326)").format(
            *(
                self.value(float(v), "::float8")
                for v in (node.minx, node.miny, node.maxx, node.maxy)
            )
        )
        return Term(sql.SQL("ST_Intersects({}, {})").format(lhs.sql, box), None)

    @handle(ast.TemporalPredicate, subclasses=True)  # type: ignore[untyped-decorator]
    def temporal(self, node: Any, lhs: Term, rhs: Term) -> Term:
        if lhs.type != "datetime":
            raise InvalidInput(f"{node.op.value} applies to a date-time property.")
        if rhs.type == "datetime" and type(node) in _TEMPORAL_INSTANT:
            op = sql.SQL(_TEMPORAL_INSTANT[type(node)])
            return Term(sql.SQL("({} {} {})").format(lhs.sql, op, rhs.sql), None)
        if rhs.type == "interval" and isinstance(node, ast.TimeDuring | ast.TimeOverlaps):
            return Term(sql.SQL("({} <@ {})").format(lhs.sql, rhs.sql), None)
        raise InvalidInput(
            f"{node.op.value} is supported as T_AFTER/T_BEFORE/T_EQUALS with an instant or "
            "T_DURING with an interval."
        )

    @handle(ast.Function)  # type: ignore[untyped-decorator]
    def function(self, node: Any, *args: Term) -> Term:
        """CASEI (case-insensitive comparison), which pygeofilter reads as ``lower``."""
        if node.name == "lower" and len(args) == 1 and args[0].type == "string":
            return Term(sql.SQL("lower({})").format(args[0].sql), "string")
        raise InvalidInput(f"the filter uses the function {node.name}, which this server "
                           "does not support (CASEI of a text is).")  # fmt: skip

    @handle(ast.Attribute)  # type: ignore[untyped-decorator]
    def attribute(self, node: Any) -> Term:
        if node.name in GEOMETRY_NAMES:
            return Term(sql.SQL("t.geom"), "geometry")
        col = column(self.view, node.name)
        return Term(sql.SQL("t.") + sql.Identifier(col.name), col.type)

    @handle(values.Geometry, values.Envelope)  # type: ignore[untyped-decorator]
    def geometry(self, node: Any) -> Term:
        text = json.dumps(node.geometry)
        return Term(
            sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({}), 4326)").format(self.value(text, "::text")),
            "geometry",
        )

    @handle(type(None))  # type: ignore[untyped-decorator]
    def open_bound(self, node: None) -> Term:
        """An interval's open end (``..``), which the JSON parser reads as None."""
        return Term(sql.SQL("NULL::timestamptz"), "open")

    @handle(values.Interval)  # type: ignore[untyped-decorator]
    def interval(self, node: Any, start: Term, end: Term) -> Term:
        for bound in (start, end):
            if bound.type not in ("datetime", "open"):
                raise InvalidInput("an interval's ends are instants or '..'.")
        return Term(sql.SQL("tstzrange({}, {}, '[]')").format(start.sql, end.sql), "interval")

    @handle(*values.LITERALS)  # type: ignore[untyped-decorator]
    def literal(self, node: Any) -> Term:
        if isinstance(node, bool):
            return Term(self.value(node), "boolean")
        if isinstance(node, int):
            return Term(self.value(node), "integer")
        if isinstance(node, float):
            return Term(self.value(node), "number")
        if isinstance(node, str):
            return Term(self.value(node, "::text"), "string")
        if isinstance(node, date):
            return Term(self.value(_instant(node), "::timestamptz"), "datetime")
        raise InvalidInput(f"unsupported value in the filter: {node!r}.")

    def adopt(self, node: Any, *sub_args: Any) -> Term:
        name = getattr(node, "name", type(node).__name__)
        raise InvalidInput(f"the filter uses {name}, which this server does not support.")

    @staticmethod
    def _same_type(a: Term, b: Term) -> None:
        numeric = {"integer", "number"}
        if a.type == b.type or (a.type in numeric and b.type in numeric):
            return
        raise InvalidInput(f"cannot compare a {a.type} with a {b.type} in the filter.")


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise InvalidInput(f"expected a date or timestamp in the filter, got {value!r}.")


#: The deepest nesting parsed. cql2-rs recurses natively: a few thousand levels overflow its
#: stack and end the process, so deeper filters are refused before they reach it.
MAX_DEPTH = 100


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"the filter is nested too deeply (more than {MAX_DEPTH} levels).")


def _text_depth(text: str) -> int:
    """The deepest parenthesis nesting of CQL2 text, outside quoted strings."""
    depth = deepest = 0
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted  # '' inside a string toggles twice: still quoted
        elif not quoted and char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif not quoted and char == ")":
            depth -= 1
    return deepest


def _json_depth(node: Any) -> int:
    """The deepest nesting of arrays and objects, without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _pygeofilter_json(node: Any) -> Any:
    """CQL2 1.0 JSON as pygeofilter 0.4's reader takes it: a ``bbox`` literal as the polygon
    it is (pygeofilter reads the four numbers in another order), ``between``'s bounds as one
    list, and ``LIKE`` under ``CASEI`` as LIKE on the lower-cased text and pattern."""
    if isinstance(node, list):
        return [_pygeofilter_json(n) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"} and isinstance(node["bbox"], list) and len(node["bbox"]) == 4:
        x0, y0, x1, y1 = node["bbox"]
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {"type": "Polygon", "coordinates": [ring]}
    op, args = node.get("op"), node.get("args")
    if op == "between" and isinstance(args, list) and len(args) == 3:
        return {"op": op, "args": [_pygeofilter_json(args[0]), _pygeofilter_json(args[1:])]}
    if op == "like" and isinstance(args, list) and len(args) == 2:
        pattern = args[1]
        if isinstance(pattern, dict) and pattern.get("op") == "casei":
            inner = (pattern.get("args") or [None])[0]
            if not isinstance(inner, str):
                raise InvalidInput("CASEI of a LIKE pattern takes a text pattern.")
            return {"op": "like", "args": [_pygeofilter_json(args[0]), inner.lower()]}
    return {k: _pygeofilter_json(v) for k, v in node.items()}


def to_sql(view: LayerView, text: str, lang: str) -> Predicate:
    """A CQL2 filter as a SQL predicate; InvalidInput for bad syntax or unknown properties."""
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(f"the filter is longer than {MAX_FILTER_CHARS} characters.")
    try:
        # cql2 (cql2-rs) parses and checks both encodings against the CQL2 1.0 grammar and
        # gives CQL2 JSON; pygeofilter builds the tree from it (its own text parser misses
        # T_AFTER, BBOX(…) and more), after _pygeofilter_json bridges their differences.
        if lang == "cql2-json":
            document = json.loads(text)
            _check_depth(_json_depth(document))
            cql2.Expr(document).validate()
        else:
            _check_depth(_text_depth(text))
            document = cql2.Expr(text).to_json()
        tree = parse_json(_pygeofilter_json(document))
    except RecursionError:
        raise InvalidInput("the filter is nested too deeply.") from None
    except Exception as exc:  # lark, cql2 and json raise many kinds; all mean "malformed"
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InvalidInput(f"malformed {lang} filter: {reason}") from None
    return tree_to_sql(view, tree)


def tree_to_sql(view: LayerView, tree: Any) -> Predicate:
    """A parsed pygeofilter tree as a SQL predicate (pygeoapi hands its provider these)."""
    if not isinstance(tree, ast.Node):
        raise InvalidInput("the filter is not a predicate.")
    compiler = _ToSql(view)
    try:
        term = compiler.evaluate(tree)
    except RecursionError:
        raise InvalidInput("the filter is nested too deeply.") from None
    if not isinstance(term, Term) or term.type is not None:
        raise InvalidInput("the filter is not a predicate.")
    return Predicate(term.sql, compiler.params)
