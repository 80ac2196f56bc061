"""Features of a layer view in a bbox, near a point, or within an area, as GeoJSON from PostGIS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from geo.errors import InvalidInput, NotFound
from geo.layers import LayerView
from geo.params import BBox, LonLat, Radius
from geo.queries import Query, Rows

GEOJSON_DIGITS = 7  # ≈ 1 cm


def _feature(view: LayerView, extra: dict[str, sql.Composable] | None = None) -> sql.Composable:
    """``json_build_object`` of a Feature of ``t`` (the layer's alias)."""
    props: list[sql.Composable] = []
    for col in view.columns:
        props += [sql.Literal(col), sql.SQL("t.") + sql.Identifier(col)]
    for key, expr in (extra or {}).items():
        props += [sql.Literal(key), expr]
    return sql.SQL(
        "json_build_object('type', 'Feature', 'id', t.id, "
        "'geometry', ST_AsGeoJSON(t.geom, {digits})::json, "
        "'properties', json_build_object({props}))"
    ).format(digits=sql.Literal(GEOJSON_DIGITS), props=sql.SQL(", ").join(props))


def _collection(inner: sql.Composable) -> sql.Composed:
    return sql.SQL(
        "SELECT json_build_object('type', 'FeatureCollection', "
        "'features', coalesce(json_agg(f.feature), '[]'::json))::text FROM ({inner}) f"
    ).format(inner=inner)


def _decode_collection(rows: Rows) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(rows[0][0])
    return result


def in_bbox(view: LayerView, bbox: BBox, limit: int) -> Query[dict[str, Any]]:
    """Up to ``limit`` features intersecting ``bbox``, in id order."""
    inner = sql.SQL(
        "SELECT {feature} AS feature FROM {table} t "
        "WHERE t.geom && ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326) "
        "AND ST_Intersects(t.geom, ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326)) "
        "AND {filter} ORDER BY t.id LIMIT %(limit)s"
    ).format(feature=_feature(view), table=sql.Identifier(view.table),
             filter=sql.SQL(view.row_filter))  # fmt: skip
    params = {"minx": bbox.minx, "miny": bbox.miny, "maxx": bbox.maxx, "maxy": bbox.maxy,
              "limit": limit}  # fmt: skip
    return Query(_collection(inner), params, _decode_collection)


def near(view: LayerView, point: LonLat, radius: Radius, limit: int) -> Query[dict[str, Any]]:
    """Features within ``radius`` metres of ``point``, nearest first, each with ``distance_m``.

    A box in degrees that surely holds the circle lets the GiST index pick candidates; the
    geography distance (metres on the spheroid) decides.
    """
    dx, dy = radius.degree_margins(point.lat)
    distance = sql.SQL("round(ST_Distance(t.geom::geography, p.g)::numeric, 2)")
    inner = sql.SQL(
        "SELECT {feature} AS feature FROM {table} t, "
        "(SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g) p "
        "WHERE t.geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), "
        "%(dx)s, %(dy)s) "
        "AND ST_DWithin(t.geom::geography, p.g, %(r)s) AND {filter} "
        "ORDER BY ST_Distance(t.geom::geography, p.g), t.id LIMIT %(limit)s"
    ).format(feature=_feature(view, {"distance_m": distance}),
             table=sql.Identifier(view.table), filter=sql.SQL(view.row_filter))  # fmt: skip
    params = {"lon": point.lon, "lat": point.lat, "dx": dx, "dy": dy, "r": radius.metres,
              "limit": limit}  # fmt: skip
    return Query(_collection(inner), params, _decode_collection)


@dataclass(frozen=True, slots=True)
class AreaById:
    """An admin area (``admin_areas``) or a grid cell (``grid_cells``) by id."""

    table: str  # "admin_areas" or "grid_cells"
    id: int

    def __post_init__(self) -> None:
        if self.table not in {"admin_areas", "grid_cells"}:
            raise InvalidInput(f"an area is an admin area or a grid cell, not {self.table!r}.")


@dataclass(frozen=True, slots=True)
class AreaPolygon:
    """A GeoJSON Polygon or MultiPolygon in lon/lat (checked by the surface that parsed it)."""

    geojson: str


def within(view: LayerView, area: AreaById | AreaPolygon, limit: int) -> Query[dict[str, Any]]:
    """Features intersecting an area; NotFound when the area id does not exist."""
    source: sql.Composable
    if isinstance(area, AreaById):
        source = sql.SQL("SELECT geom FROM {} WHERE id = %(area)s").format(
            sql.Identifier(area.table)
        )
        params: dict[str, Any] = {"area": area.id}
    else:
        # Parsed once in a materialised CTE: a GeoJSON parameter inline is re-parsed per row.
        source = sql.SQL("SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(area)s), 4326) AS geom")
        params = {"area": area.geojson}
    statement = sql.SQL(
        "WITH a AS MATERIALIZED ({source}) "
        "SELECT (SELECT count(*) FROM a), json_build_object('type', 'FeatureCollection', "
        "'features', coalesce(json_agg(f.feature), '[]'::json))::text FROM ("
        "SELECT {feature} AS feature FROM {table} t, a "
        "WHERE t.geom && a.geom AND ST_Intersects(t.geom, a.geom) AND {filter} "
        "ORDER BY t.id LIMIT %(limit)s) f"
    ).format(source=source, feature=_feature(view), table=sql.Identifier(view.table),
             filter=sql.SQL(view.row_filter))  # fmt: skip
    params["limit"] = limit

    def decode(rows: Rows) -> dict[str, Any]:
        if rows[0][0] == 0:
            raise NotFound(f"no area with id {params['area']}.")
        result: dict[str, Any] = json.loads(rows[0][1])
        return result

    return Query(statement, params, decode)
