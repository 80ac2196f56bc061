"""The row renderer of the one read builder (``geo.queries.filters``): rows of a layer view
under a spatial filter and attribute filters, in one statement.

The GraphQL layer (and any surface that wants typed rows rather than GeoJSON documents) uses
this: each row is a dict of the view's columns plus ``id``, ``lon``/``lat`` for points or
``geojson`` (text) for polygons, and ``distance_m`` when searching near a point.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from geo.layers import LayerView
from geo.queries import Query, Rows
from geo.queries.filters import AttributeFilter, SpatialFilter, checked_areas, clauses
from geo.queries.keyset import DISTANCE, Order

GEOJSON_DIGITS = 7
CELL_COLUMNS = ("code", "name", "community_id", "worker_id", "population", "health_risk")


def rows(
    view: LayerView,
    spatial: SpatialFilter | None = None,
    attributes: AttributeFilter | None = None,
    *,
    limit: int,
    order: Order | None = None,
    with_cell: bool = False,
) -> Query[list[dict[str, Any]]]:
    """Up to ``limit`` rows in ``order`` (default: nearest first with ``near``, else by id),
    after the row its cursor names (``geo.queries.keyset``); each row's key text is ``_k``.

    ``with_cell`` joins each row's grid cell (``cell_*`` keys): one statement instead of a
    second look-up, and no per-row work for the caller."""
    near = spatial is not None and spatial.near is not None
    order = order or Order(DISTANCE if near else None)
    c = clauses(view, spatial, attributes)
    c.params.update(limit=limit)
    after = order.where(c.params)
    if after is not None:
        c.where.append(after)
    select: list[sql.Composable] = [sql.SQL("t.id")]
    select += [sql.SQL("t.") + sql.Identifier(col) for col in view.columns]
    names = ["id", *view.columns]
    if view.geometry_type == "Point":
        select += [sql.SQL("ST_X(t.geom) AS lon"), sql.SQL("ST_Y(t.geom) AS lat")]
        names += ["lon", "lat"]
    else:
        select.append(sql.SQL("ST_AsGeoJSON(t.geom, {}) AS geojson").format(GEOJSON_DIGITS))
        names.append("geojson")
    if with_cell and "grid_cell_id" in view.columns:
        c.joins.append(sql.SQL("LEFT JOIN grid_cells gc ON gc.id = t.grid_cell_id"))
        for col in CELL_COLUMNS:
            select.append(sql.SQL("gc.") + sql.Identifier(col))
            names.append(f"cell_{col}")
    if near:
        select.append(sql.SQL("{} AS distance_m").format(sql.SQL(DISTANCE.expr)))
        names.append("distance_m")
    select.append(sql.SQL("{} AS _k").format(order.text()))
    names.append("_k")
    by = order.order_by("distance_m" if order.key is DISTANCE else "")
    statement = c.sql(
        sql.SQL(", ").join(select), view, sql.SQL("ORDER BY {} LIMIT %(limit)s").format(by)
    )

    def decode(result: Rows) -> list[dict[str, Any]]:
        return [dict(zip(names, r, strict=True)) for r in result]

    if c.areas:
        return checked_areas(statement, c.params, decode, c.areas)
    return Query(statement, c.params, decode)


def count_rows(
    view: LayerView, spatial: SpatialFilter | None, attributes: AttributeFilter | None, cap: int
) -> Query[int | None]:
    """How many rows of ``view`` the filters match: exact up to ``cap``, None above (the count
    stops reading at cap + 1 rows)."""
    c = clauses(view, spatial, attributes)
    c.params["cap"] = cap
    inner = c.sql(sql.SQL("1"), view, sql.SQL("LIMIT %(cap)s + 1"))
    statement = sql.SQL("SELECT count(*) FROM ({}) c").format(inner)

    def decode(result: Rows) -> int | None:
        n = int(result[0][0])
        return None if n > cap else n

    return Query(statement, c.params, decode)
