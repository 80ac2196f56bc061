"""OGC API - Features items of a layer view: one statement builds the page's GeoJSON in PostGIS.

The page, the number returned and ``numberMatched`` come back from one round trip. The count
strategy (docs/ogc.md): a page that is not full tells the exact total for free (offset + rows);
otherwise the matches are counted up to ``count_cap`` + 1 rows — exact when at most the cap,
omitted (None) above it. A wrong or estimated number is never reported.

The bbox arrives as four numbers for ``ST_MakeEnvelope``, SRIDs are numeric literals, values are
bind parameters, and identifiers come from ``geo.layers`` — so equal request shapes give equal
SQL text, which psycopg prepares after a few runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.layers import LayerView
from geo.params import BBox
from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class OutputCrs:
    uri: str
    srid: int
    lat_first: bool  # EPSG:4326 and EPSG:4490 list latitude first
    digits: int


CRS84 = OutputCrs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False, 7)
OUTPUT_CRS = {
    c.uri: c
    for c in (
        CRS84,
        OutputCrs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 7),
        OutputCrs("http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False, 2),
        OutputCrs("http://www.opengis.net/def/crs/EPSG/0/4490", 4490, True, 7),
    )
}


@dataclass(frozen=True, slots=True)
class TimeRange:
    """An instant (start == end) or a closed interval; None is an open end."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class ItemQuery:
    view: LayerView
    bbox: BBox | None = None  # lon/lat, EPSG:4326
    time_field: str | None = None
    time: TimeRange | None = None
    equals: tuple[tuple[str, object], ...] = ()
    cql: sql.Composable | None = None
    sortby: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    limit: int = 100
    offset: int = 0
    skip_geometry: bool = False
    properties: tuple[str, ...] | None = None
    crs: OutputCrs = CRS84
    count_cap: int = 10_000


@dataclass(frozen=True, slots=True)
class Page:
    features: str  # a JSON array, as PostGIS wrote it
    returned: int
    matched: int | None


def geometry_sql(crs: OutputCrs) -> sql.Composable:
    geom: sql.Composable = sql.SQL("t.geom")
    if crs.srid != 4326:
        geom = sql.SQL("ST_Transform(t.geom, {})").format(sql.Literal(crs.srid))
    if crs.lat_first:
        geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
    return geom


def feature_sql(
    view: LayerView,
    crs: OutputCrs = CRS84,
    *,
    properties: tuple[str, ...] | None = None,
    skip_geometry: bool = False,
) -> sql.Composable:
    """``json_build_object`` of one Feature of row ``t``."""
    cols = [c for c in view.columns if properties is None or c in properties]
    props = sql.SQL(", ").join(
        sql.SQL("{}, t.{}").format(sql.Literal(c), sql.Identifier(c)) for c in cols
    )
    geometry: sql.Composable = sql.SQL("NULL::json")
    if not skip_geometry:
        geometry = sql.SQL("ST_AsGeoJSON({}, {})::json").format(
            geometry_sql(crs), sql.Literal(crs.digits)
        )
    return sql.SQL(
        "json_build_object('type', 'Feature', 'id', t.id, 'geometry', {geometry}, "
        "'properties', json_build_object({props}))"
    ).format(geometry=geometry, props=props)


def _where(q: ItemQuery) -> tuple[sql.Composable, dict[str, Any]]:
    parts: list[sql.Composable] = [sql.SQL(q.view.row_filter)]
    params: dict[str, Any] = {}
    if q.bbox is not None:
        parts.append(
            sql.SQL(
                "ST_Intersects(t.geom, "
                "ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326))"
            )
        )
        params.update(minx=q.bbox.minx, miny=q.bbox.miny, maxx=q.bbox.maxx, maxy=q.bbox.maxy)
    if q.time is not None and q.time_field is not None:
        col = sql.SQL("t.") + sql.Identifier(q.time_field)
        if q.time.start is not None and q.time.start == q.time.end:
            parts.append(sql.SQL("{} = %(t0)s").format(col))
            params["t0"] = q.time.start
        else:
            if q.time.start is not None:
                parts.append(sql.SQL("{} >= %(t0)s").format(col))
                params["t0"] = q.time.start
            if q.time.end is not None:
                parts.append(sql.SQL("{} <= %(t1)s").format(col))
                params["t1"] = q.time.end
    for i, (name, value) in enumerate(q.equals):
        parts.append(sql.SQL("t.{} = %(p{})s").format(sql.Identifier(name), sql.SQL(str(i))))
        params[f"p{i}"] = value
    if q.cql is not None:
        parts.append(q.cql)
    return sql.SQL(" AND ").join(parts), params


def _order(q: ItemQuery) -> sql.Composable:
    keys: list[sql.Composable] = [
        sql.SQL("t.{} {}").format(sql.Identifier(c), sql.SQL("DESC" if desc else "ASC"))
        for c, desc in q.sortby
        if c != "id"
    ]
    # id last, in the direction asked for it (or ascending): a total order for stable paging.
    id_desc = any(desc for c, desc in q.sortby if c == "id")
    keys.append(sql.SQL("t.id DESC" if id_desc else "t.id"))
    return sql.SQL(", ").join(keys)


def items(q: ItemQuery) -> Query[Page]:
    """One page of features with the number returned and, when known exactly, matched."""
    where, params = _where(q)
    feature = feature_sql(q.view, q.crs, properties=q.properties, skip_geometry=q.skip_geometry)
    table = sql.Identifier(q.view.table)
    statement = sql.SQL(
        "SELECT a.features, a.n, CASE "
        "WHEN a.n > 0 AND a.n < %(limit)s THEN %(offset)s + a.n "
        "WHEN a.n = 0 AND %(offset)s = 0 THEN 0 "
        "WHEN %(cap)s = 0 THEN NULL "
        "ELSE (SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE {where} LIMIT %(cap)s + 1) c) "
        "END FROM (SELECT coalesce(json_agg(p.f), '[]')::text AS features, count(*) AS n FROM "
        "(SELECT {feature} AS f FROM {table} t WHERE {where} ORDER BY {order} "
        "LIMIT %(limit)s OFFSET %(offset)s) p) a"
    ).format(table=table, where=where, feature=feature, order=_order(q))
    params.update(limit=q.limit, offset=q.offset, cap=q.count_cap)
    cap = q.count_cap

    def decode(rows: Rows) -> Page:
        features, returned, matched = rows[0]
        exact = 0 < returned < q.limit or (returned == 0 and q.offset == 0)
        if not exact and matched is not None and matched > cap:
            matched = None
        return Page(features, int(returned), None if matched is None else int(matched))

    return Query(statement, params, decode)


def item(view: LayerView, item_id: int, crs: OutputCrs = CRS84) -> Query[str | None]:
    """One feature as GeoJSON text; None when the view has no such feature."""
    statement = sql.SQL(
        "SELECT {feature}::text FROM {table} t WHERE t.id = %(id)s AND {filter}"
    ).format(
        feature=feature_sql(view, crs),
        table=sql.Identifier(view.table),
        filter=sql.SQL(view.row_filter),
    )

    def decode(rows: Rows) -> str | None:
        return str(rows[0][0]) if rows else None

    return Query(statement, {"id": item_id}, decode)
