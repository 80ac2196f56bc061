"""A whole selection of a layer view as rows, for downloads (CSV, GeoPackage, GeoJSON): the row
renderer of the one read builder (``geo.queries.filters``, through ``ogc_items``' clauses), so a
download holds exactly what the same ``/items`` request would page through — every filter, the
view's row filter (the caller's jurisdiction) and only the view's published columns.

The rows are read through a server-side cursor (:func:`stream`), a batch at a time: a download
of a million features never holds more than one batch in memory. Geometry comes out in the
requested CRS as numbers (points: x and y), WKT (areas) or WKB, always x = east: a CSV names its
columns and a GeoPackage stores x/y, so EPSG:4326's latitude-first axis order does not apply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import AsyncConnection, sql

from geo.queries import Query, Rows
from geo.queries.ogc_items import ItemQuery, _after, _clauses, _order, feature_sql

#: How the geometry comes out: x and y columns (points) or WKT (areas), WKB, or not at all.
GeometryAs = Literal["text", "wkb", "none"]


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns of a download's rows, in order: ``id``, the properties, then the geometry's
    (``x``/``y``, ``wkt``, ``wkb`` or none)."""

    properties: tuple[str, ...]
    geometry: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return ("id", *self.properties, *self.geometry)


def columns(q: ItemQuery, geometry: GeometryAs) -> Columns:
    props = tuple(c for c in q.view.columns if q.properties is None or c in q.properties)
    if geometry == "none" or q.skip_geometry:
        return Columns(props, ())
    if geometry == "wkb":
        return Columns(props, ("wkb",))
    return Columns(props, ("x", "y") if q.view.geometry_type == "Point" else ("wkt",))


def _geometry(q: ItemQuery, cols: Columns) -> list[sql.Composable]:
    g: sql.Composable = sql.SQL("t.geom")
    if q.crs.srid != 4326:
        g = sql.SQL("ST_Transform(t.geom, {})").format(sql.Literal(q.crs.srid))
    found: dict[str, sql.Composable] = {
        "x": sql.SQL("ST_X({})").format(g),
        "y": sql.SQL("ST_Y({})").format(g),
        "wkt": sql.SQL("ST_AsText({}, {})").format(g, sql.Literal(q.crs.digits)),
        "wkb": sql.SQL("ST_AsBinary({})").format(g),
    }
    return [found[c] for c in cols.geometry]


def rows(q: ItemQuery, cols: Columns, limit: int) -> Query[Rows]:
    """The selection's rows in the request's order (``sortby``, then id), at most ``limit``
    from ``offset`` (or after ``after_id``)."""
    c = _clauses(q)
    _after(q, c)
    select = [
        sql.SQL("t.id"),
        *(sql.SQL("t.{}").format(sql.Identifier(p)) for p in cols.properties),
    ]
    statement = c.sql(
        sql.SQL(", ").join([*select, *_geometry(q, cols)]),
        q.view,
        sql.SQL("ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s").format(_order(q)),
    )
    return Query(statement, {**c.params, "limit": limit, "offset": q.offset}, lambda r: r)


def features(q: ItemQuery, limit: int) -> Query[Rows]:
    """The selection as GeoJSON Features, one text per row, in the request's order (a GeoJSON
    download: the features as the same ``/items`` request renders them)."""
    c = _clauses(q)
    _after(q, c)
    feature = feature_sql(q.view, q.crs, properties=q.properties, skip_geometry=q.skip_geometry)
    statement = c.sql(
        sql.SQL("({})::text").format(feature),
        q.view.table,
        sql.SQL("ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s").format(_order(q)),
    )
    return Query(statement, {**c.params, "limit": limit, "offset": q.offset}, lambda r: r)


def count(q: ItemQuery) -> Query[int]:
    """How many features the selection holds (before ``offset`` and ``limit``)."""
    c = _clauses(q)
    _after(q, c)
    statement = sql.SQL("SELECT count(*) FROM ({}) c").format(
        c.sql(sql.SQL("1"), q.view, sql.SQL(""))
    )
    return Query(statement, c.params, lambda r: int(r[0][0]))


async def stream(
    conn: AsyncConnection[Any], query: Query[Any], batch: int = 5000
) -> AsyncIterator[Sequence[tuple[Any, ...]]]:
    """The rows of ``query`` through a server-side cursor, ``batch`` at a time."""
    async with conn.transaction(), conn.cursor(name="onemap_ogc_download") as cur:
        await cur.execute(query.statement, query.params)
        while found := await cur.fetchmany(batch):
            yield found
