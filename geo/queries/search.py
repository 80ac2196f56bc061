"""Rows of a layer view under a spatial filter and attribute filters, in one statement.

The GraphQL layer (and any surface that wants typed rows rather than GeoJSON documents) uses
this: each row is a dict of the view's columns plus ``id``, ``lon``/``lat`` for points or
``geojson`` (text) for polygons, and ``distance_m`` when searching near a point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.errors import InvalidInput, NotFound
from geo.layers import LayerView
from geo.params import BBox, LonLat, Radius
from geo.queries import Query, Rows
from geo.queries.features import AreaById, AreaPolygon

GEOJSON_DIGITS = 7
CELL_COLUMNS = ("code", "name", "community_id", "worker_id", "population", "health_risk")


@dataclass(frozen=True)
class Near:
    point: LonLat
    radius: Radius


@dataclass(frozen=True)
class SpatialFilter:
    """Any combination; all given parts must hold. ``intersects`` is a GeoJSON geometry."""

    bbox: BBox | None = None
    near: Near | None = None
    within: AreaById | AreaPolygon | None = None
    intersects: AreaPolygon | None = None


@dataclass(frozen=True)
class AttributeFilter:
    """Equality/membership on view columns, and a time range on one column."""

    equals: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # column → allowed values
    time_column: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None


def _column(view: LayerView, name: str) -> sql.Composable:
    if name not in view.columns and name != "id":
        raise InvalidInput(f"{view.name} cannot be filtered by {name!r}.")
    return sql.SQL("t.") + sql.Identifier(name)


@dataclass
class Clauses:
    """The FROM/WHERE parts of a filtered read of a view, with their bind parameters."""

    params: dict[str, Any]
    ctes: list[sql.Composable]
    joins: list[sql.Composable]
    where: list[sql.Composable]
    areas: list[AreaById]

    def sql(self, select: sql.Composable, table: str, tail: sql.Composable) -> sql.Composed:
        return sql.SQL("{with_}SELECT {select} FROM {table} t {joins} WHERE {where} {tail}").format(
            with_=sql.SQL("WITH {} ").format(sql.SQL(", ").join(self.ctes))
            if self.ctes
            else sql.SQL(""),
            select=select,
            table=sql.Identifier(table),
            joins=sql.SQL(" ").join(self.joins),
            where=sql.SQL(" AND ").join(self.where),
            tail=tail,
        )


def clauses(
    view: LayerView, spatial: SpatialFilter | None, attributes: AttributeFilter | None
) -> Clauses:
    spatial = spatial or SpatialFilter()
    attributes = attributes or AttributeFilter()
    c = Clauses({}, [], [], [sql.SQL(view.row_filter)], [])
    params, where, joins = c.params, c.where, c.joins
    if spatial.bbox is not None:
        b = spatial.bbox
        params.update(minx=b.minx, miny=b.miny, maxx=b.maxx, maxy=b.maxy)
        env = sql.SQL("ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326)")
        where.append(sql.SQL("t.geom && {e} AND ST_Intersects(t.geom, {e})").format(e=env))
    if spatial.near is not None:
        p, r = spatial.near.point, spatial.near.radius
        dx, dy = r.degree_margins(p.lat)
        params.update(lon=p.lon, lat=p.lat, dx=dx, dy=dy, r=r.metres)
        joins.append(
            sql.SQL("CROSS JOIN (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g) p")
        )
        where.append(
            sql.SQL(
                "t.geom && ST_Expand(p.g, %(dx)s, %(dy)s) "
                "AND ST_DWithin(t.geom::geography, p.g::geography, %(r)s)"
            )
        )
    for name, area in (("w", spatial.within), ("x", spatial.intersects)):
        if area is None:
            continue
        if isinstance(area, AreaById):
            source = sql.SQL("SELECT geom FROM {} WHERE id = {}").format(
                sql.Identifier(area.table), sql.Placeholder(f"{name}_id")
            )
            params[f"{name}_id"] = area.id
            c.areas.append(area)
        else:
            # Parsed once in a materialised CTE: inline, a GeoJSON parameter is re-parsed per row.
            source = sql.SQL("SELECT ST_SetSRID(ST_GeomFromGeoJSON({}), 4326) AS geom").format(
                sql.Placeholder(f"{name}_geojson")
            )
            params[f"{name}_geojson"] = area.geojson
        c.ctes.append(sql.SQL("{} AS MATERIALIZED ({})").format(sql.Identifier(name), source))
        joins.append(
            sql.SQL("JOIN {n} ON t.geom && {n}.geom AND ST_Intersects(t.geom, {n}.geom)").format(
                n=sql.Identifier(name)
            )
        )
    for i, (col, values) in enumerate(attributes.equals.items()):
        params[f"eq{i}"] = list(values)
        where.append(sql.SQL("{} = ANY({})").format(_column(view, col), sql.Placeholder(f"eq{i}")))
    if attributes.time_column and (attributes.time_from or attributes.time_to):
        time_col = _column(view, attributes.time_column)
        if attributes.time_from:
            params["t_from"] = attributes.time_from
            where.append(sql.SQL("{} >= %(t_from)s").format(time_col))
        if attributes.time_to:
            params["t_to"] = attributes.time_to
            where.append(sql.SQL("{} < %(t_to)s").format(time_col))
    return c


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
        return _checked_areas(statement, c.params, decode, c.areas)
    return Query(statement, c.params, decode)


def _checked_areas(
    statement: sql.Composed,
    params: dict[str, Any],
    decode: Any,
    areas: list[AreaById],
) -> Query[list[dict[str, Any]]]:
    """No rows could mean an empty area or a missing one: tell them apart in the same trip."""
    checks = [
        sql.SQL("(SELECT count(*) FROM {} WHERE id = {})").format(
            sql.Identifier(a.table), sql.Literal(a.id)
        )
        for a in areas
    ]
    wrapped = sql.SQL(
        "SELECT {checks}, q.* FROM ({inner}) q RIGHT JOIN (SELECT 1) one ON true"
    ).format(checks=sql.SQL(", ").join(checks), inner=statement)

    def decode_checked(result: Rows) -> list[dict[str, Any]]:
        for i, area in enumerate(areas):
            if not result or result[0][i] == 0:
                raise NotFound(
                    f"No {area.table.removesuffix('s').replace('_', ' ')} with id {area.id}."
                )
        n = len(areas)
        return list(decode([r[n:] for r in result if r[n] is not None]))

    return Query(wrapped, params, decode_checked)
