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

GEOJSON_DIGITS = 7
CELL_COLUMNS = ("code", "name", "community_id", "worker_id", "population", "health_risk")


def rows(
    view: LayerView,
    spatial: SpatialFilter | None = None,
    attributes: AttributeFilter | None = None,
    *,
    limit: int,
    offset: int = 0,
    with_cell: bool = False,
) -> Query[list[dict[str, Any]]]:
    """Up to ``limit`` rows after ``offset``: nearest first with ``near``, else by id.

    ``with_cell`` joins each row's grid cell (``cell_*`` keys): one statement instead of a
    second look-up, and no per-row work for the caller."""
    c = clauses(view, spatial, attributes)
    c.params.update(limit=limit, offset=offset)
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
    order: sql.Composable = sql.SQL("t.id")
    if spatial is not None and spatial.near is not None:
        select.append(sql.SQL("ST_Distance(t.geom::geography, p.g::geography) AS distance_m"))
        names.append("distance_m")
        order = sql.SQL("distance_m, t.id")
    statement = c.sql(
        sql.SQL(", ").join(select),
        view.table,
        sql.SQL("ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s").format(order),
    )

    def decode(result: Rows) -> list[dict[str, Any]]:
        return [dict(zip(names, r, strict=True)) for r in result]

    if c.areas:
        return checked_areas(statement, c.params, decode, c.areas)
    return Query(statement, c.params, decode)
