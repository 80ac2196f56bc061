"""What the open-data catalogue says about each dataset that only the data can tell: its
features' count, bounding box, time span and last change (docs/open-data.md), and the names of
the departments that own the datasets.

One statement for every view: one aggregate per view (its table, its row filter — the public
view's, so a hidden row never widens a public bbox), glued with UNION ALL. Identifiers come from
``geo.layers`` and ``geo.queries.ogc_fields``, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from geo.layers import LayerView
from geo.queries import Query, Rows
from geo.queries.filters import relation
from geo.queries.ogc_fields import TIME_FIELD

#: The column that says when a row last changed, where a table keeps one.
CHANGED_FIELD = {"facilities": "updated_at"}


@dataclass(frozen=True, slots=True)
class Coverage:
    """A view's extent: features, lon/lat bbox (None when empty), time span, last change."""

    features: int
    bbox: tuple[float, float, float, float] | None
    start: datetime | None
    end: datetime | None
    modified: datetime | None


def _one(view: LayerView) -> sql.Composed:
    time = TIME_FIELD.get(view.name)
    changed = CHANGED_FIELD.get(view.table)
    none = sql.SQL("NULL::timestamptz")
    start = sql.SQL("min(t.{})").format(sql.Identifier(time)) if time else none
    end = sql.SQL("max(t.{})").format(sql.Identifier(time)) if time else none
    latest = [sql.SQL("max(t.{})").format(sql.Identifier(c)) for c in (changed, time) if c]
    modified = sql.SQL("greatest({})").format(sql.SQL(", ").join(latest)) if latest else none
    return sql.SQL(
        "SELECT {name}, count(*), ST_XMin(ST_Extent(t.geom)), ST_YMin(ST_Extent(t.geom)), "
        "ST_XMax(ST_Extent(t.geom)), ST_YMax(ST_Extent(t.geom)), {start}, {end}, {modified} "
        "FROM {table} t WHERE {filter}"
    ).format(
        name=sql.Literal(view.name), start=start, end=end, modified=modified,
        table=relation(view), filter=sql.SQL(view.row_filter),  # our constant
    )  # fmt: skip


def coverage(views: Sequence[LayerView]) -> Query[dict[str, Coverage]]:
    """Each view's :class:`Coverage`, by layer name."""
    if not views:
        return Query(sql.SQL("SELECT 1 WHERE FALSE"), {}, lambda rows: {})
    statement = sql.SQL(" UNION ALL ").join(_one(v) for v in views)

    def decode(rows: Rows) -> dict[str, Coverage]:
        found = {}
        for name, n, x0, y0, x1, y1, start, end, modified in rows:
            box = None if x0 is None else tuple(round(float(v), 6) for v in (x0, y0, x1, y1))
            found[str(name)] = Coverage(int(n), box, start, end, modified)  # type: ignore[arg-type]
        return found

    return Query(statement, {}, decode)


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str


def departments(codes: Sequence[str]) -> Query[dict[str, Department]]:
    """The departments of ``codes`` (an unknown code is simply absent), by code."""
    statement = sql.SQL("SELECT code, name_zh, name_en FROM departments WHERE code = ANY(%(c)s)")
    return Query(statement, {"c": list(codes)}, lambda rows: {r[0]: Department(*r) for r in rows})
