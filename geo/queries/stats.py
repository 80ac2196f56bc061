"""Case counts grouped by grid cell, category, status and day: heat maps and dashboards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.queries import Query, Rows
from geo.queries.filters import AttributeFilter, SpatialFilter, checked_areas, clauses

DIMENSIONS = {
    "grid_cell_id": sql.SQL("t.grid_cell_id"),
    "category": sql.SQL("t.category"),
    "status": sql.SQL("t.status"),
    # Days as the city lives them.
    "day": sql.SQL("to_char(t.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"),
}


def case_stats(
    view: LayerView,
    spatial: SpatialFilter | None,
    dimensions: Sequence[str],
    equals: dict[str, list[Any]],
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> Query[list[dict[str, Any]]]:
    """The buckets, at most ``limit`` of them: more is refused (a heat map that silently lacks
    buckets misleads), with a message that says how to narrow the question."""
    if not dimensions:
        raise InvalidInput("groupBy needs at least one dimension.")
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise InvalidInput(f"Cannot group cases by {', '.join(unknown)}.")
    c = clauses(
        view,
        spatial,
        AttributeFilter(equals=equals, time_column="reported_at", time_from=since, time_to=until),
    )
    exprs = [DIMENSIONS[d] for d in dimensions]
    select = sql.SQL(", ").join(
        [*(sql.SQL("{} AS {}").format(e, sql.Identifier(d)) for e, d in zip(exprs, dimensions,
                                                                             strict=True)),
         sql.SQL("count(*)")]
    )  # fmt: skip
    positions = sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(dimensions)))
    tail = sql.SQL("GROUP BY {p} ORDER BY {p} LIMIT {n}").format(
        p=positions, n=sql.Literal(limit + 1)
    )
    statement = c.sql(select, view, tail)
    names = [*dimensions, "count"]

    def decode(result: Rows) -> list[dict[str, Any]]:
        if len(result) > limit:
            raise InvalidInput(
                f"More than {limit:,} buckets: group by fewer dimensions, narrow the area, the "
                "time range or the statuses and categories, or raise limit.", limit=limit,
            )  # fmt: skip
        return [dict(zip(names, r, strict=True)) for r in result]

    if c.areas:
        return checked_areas(statement, c.params, decode, c.areas)
    return Query(statement, c.params, decode)
