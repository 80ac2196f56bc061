"""OGC API - Features items of a layer view: the feature renderer of the one read builder
(``geo.queries.filters``); one statement builds the page's GeoJSON in PostGIS.

The page, the number returned, its last id and ``numberMatched`` come back from one round trip.
``numberMatched`` (docs/ogc.md): a page that is not full tells the exact total for free (offset
+ rows); a full first page counts its matches up to ``count_cap`` + 1 rows in the same
statement; above the cap, a request without a bbox (a whole layer, as GDAL and QGIS open it)
is counted exactly by :func:`count` within a time budget. A wrong or estimated number is never
reported.

Pages go by offset, or — in the default order (id) — by keyset: ``after_id`` is the last id of
the previous page, so paging costs the same at any depth and never skips or repeats a feature
while features are added or removed.

The bbox arrives as four numbers for ``ST_MakeEnvelope``, SRIDs are numeric literals, values are
bind parameters, and identifiers come from ``geo.layers`` — so equal request shapes give equal
SQL text, which psycopg prepares after a few runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from psycopg import sql

from geo.layers import LayerView
from geo.params import BBox
from geo.queries import Query, Rows
from geo.queries.filters import AttributeFilter, Clauses, SpatialFilter, clauses

if TYPE_CHECKING:
    from geo.queries.ogc_filter import Predicate


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
    cql: Predicate | None = None
    sortby: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    limit: int = 100
    offset: int = 0
    after_id: int | None = None  # keyset: the previous page's last id (default order only)
    skip_geometry: bool = False
    properties: tuple[str, ...] | None = None
    crs: OutputCrs = CRS84
    count_cap: int = 10_000  # a first page counts its matches up to this many, in-statement
    as_of: datetime | None = None  # with a history view (geo.layers.as_of): the versions then


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOWHERE = BBox(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Page:
    features: str  # a JSON array, as PostGIS wrote it
    returned: int
    matched: int | None  # exact when known for free (a page that is not full), else None
    last_id: int | None = None  # the page's last feature's id (for a keyset next link)


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


def _clauses(q: ItemQuery) -> Clauses:
    """The request's filters through the one read builder (``geo.queries.filters``); OGC time
    intervals are closed, an instant is an interval of one instant."""
    timed = q.time is not None and q.time_field is not None
    attributes = AttributeFilter(
        equals={name: [value] for name, value in q.equals},
        time_column=q.time_field if timed else None,
        time_from=q.time.start if q.time is not None else None,
        time_to=q.time.end if q.time is not None else None,
        time_to_inclusive=True,
        cql=q.cql,
        as_of=q.as_of,
    )
    return clauses(q.view, SpatialFilter(bbox=q.bbox), attributes)


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


def _shape(q: ItemQuery) -> ItemQuery:
    """The query with its values blanked: equal shapes give equal statements."""
    time = None
    if q.time is not None:
        time = TimeRange(_EPOCH if q.time.start else None, _EPOCH if q.time.end else None)
    return replace(
        q,
        bbox=_NOWHERE if q.bbox is not None else None,
        time=time,
        equals=tuple((name, None) for name, _ in q.equals),
        limit=0,
        offset=0,
        after_id=None if q.after_id is None else 0,
        count_cap=0,
        as_of=None if q.as_of is None else _EPOCH,
    )


def _after(q: ItemQuery, c: Clauses) -> None:
    if q.after_id is not None:
        c.where.append(sql.SQL("t.id > %(after_id)s"))
        c.params["after_id"] = q.after_id


@lru_cache(maxsize=512)
def _statement(shape: ItemQuery) -> sql.Composed:
    """The page statement of a request shape, composed once: composing costs about as much
    Python as the rest of a small request (measured on bench/ogc Q1)."""
    c = _clauses(shape)
    _after(shape, c)
    feature = feature_sql(
        shape.view, shape.crs, properties=shape.properties, skip_geometry=shape.skip_geometry
    )
    page = c.sql(
        sql.SQL("{} AS f, t.id AS id").format(feature),
        shape.view,
        sql.SQL("ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s").format(_order(shape)),
    )
    counted = c.sql(sql.SQL("1"), shape.view, sql.SQL("LIMIT %(cap)s + 1"))
    # json_agg keeps the subquery's order; the last id is the page's last row's in id order.
    # The count runs only for a full page (PostgreSQL evaluates the CASE branch it takes) and
    # reads at most cap + 1 index rows.
    return sql.SQL(
        "SELECT a.features, a.n, a.last_id, CASE "
        "WHEN a.n > 0 AND a.n < %(limit)s THEN %(offset)s + a.n "
        "WHEN a.n = 0 AND %(offset)s = 0 THEN 0 "
        "WHEN %(cap)s = 0 THEN NULL "
        "ELSE (SELECT count(*) FROM ({counted}) c) "
        "END FROM (SELECT coalesce(json_agg(p.f), '[]')::text AS features, count(*) AS n, "
        "max(p.id) AS last_id FROM ({page}) p) a"
    ).format(counted=counted, page=page)


def items(q: ItemQuery) -> Query[Page]:
    """One page of features with the number returned and, when known exactly, matched: free
    from a page that is not full, or counted up to ``count_cap`` for a first page."""
    c = _clauses(q)
    _after(q, c)
    # A CQL2 filter's SQL varies with its shape (and is not hashable): composed per request.
    statement = _statement(_shape(q)) if q.cql is None else _statement.__wrapped__(q)
    first = q.after_id is None and q.offset == 0
    cap = q.count_cap if first else 0
    params = {**c.params, "limit": q.limit, "offset": q.offset, "cap": cap}

    def decode(rows: Rows) -> Page:
        features, returned, last_id, matched = rows[0]
        n = int(returned)
        exact = q.after_id is None and (0 < n < q.limit or (n == 0 and q.offset == 0))
        if not exact and (q.after_id is not None or matched is None or int(matched) > cap):
            matched = None
        return Page(features, n, None if matched is None else int(matched),
                    None if last_id is None else int(last_id))  # fmt: skip

    return Query(statement, params, decode)


def count(q: ItemQuery, budget_ms: int) -> Query[int]:
    """The exact number of features the query's filters match, cancelled by PostgreSQL after
    ``budget_ms`` (``QueryCanceled``: the caller reports no number)."""
    c = _clauses(q)
    statement = sql.SQL("SELECT count(*) FROM ({}) c").format(
        c.sql(sql.SQL("1"), q.view, sql.SQL(""))
    )
    return Query(statement, c.params, lambda rows: int(rows[0][0]),
                 local=(("statement_timeout", f"{budget_ms}ms"),))  # fmt: skip


@lru_cache(maxsize=256)
def _item_statement(view: LayerView, crs: OutputCrs) -> sql.Composed:
    c = clauses(view, None, AttributeFilter(equals={"id": [0]},
                                            as_of=_EPOCH if view.historic else None))  # fmt: skip
    return c.sql(sql.SQL("{}::text").format(feature_sql(view, crs)), view, sql.SQL(""))


def item(
    view: LayerView, item_id: int, crs: OutputCrs = CRS84, as_of: datetime | None = None
) -> Query[str | None]:
    """One feature as GeoJSON text (as it was at ``as_of``, with a history view); None when
    the view has no such feature (then)."""

    def decode(rows: Rows) -> str | None:
        return str(rows[0][0]) if rows else None

    # The id (``eq0``) and the instant are the only parameters of the clauses here.
    params: dict[str, object] = {"eq0": item_id}
    if as_of is not None:
        params["as_of"] = as_of
    return Query(_item_statement(view, crs), params, decode)
