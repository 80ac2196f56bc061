"""The one read builder: what a caller asks of a layer view (a spatial filter and attribute
filters) becomes the FROM/WHERE clauses of one statement, with their bind parameters.

Every read of a layer goes through :func:`clauses` — OGC items (``ogc_items``: the feature
renderer), GraphQL rows (``search``: the row renderer), compiled GraphQL pages (``pages``),
vector tiles (``tiles``) and case statistics (``stats``) — so a filter means the same everywhere,
and the view's row filter (which carries the caller's jurisdiction, ``geo.access``) is applied
by every one of them. The renderers only choose columns, order and shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg import sql

from geo.errors import InvalidInput, NotFound
from geo.layers import LayerView
from geo.params import BBox, LonLat, Radius
from geo.queries import Query, Rows

if TYPE_CHECKING:
    from geo.queries.ogc_filter import Predicate


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


@dataclass(frozen=True)
class Near:
    point: LonLat
    radius: Radius


@dataclass(frozen=True)
class SpatialFilter:
    """Any combination; all given parts must hold. ``intersects`` is a GeoJSON geometry."""

    bbox: BBox | None = None
    near: Near | None = None
    #: Only the index test against a lon/lat box (x0, y0, x1, y1): a vector tile's candidates,
    #: which the tile renderer clips itself.
    index_box: tuple[float, float, float, float] | None = None
    within: AreaById | AreaPolygon | None = None
    intersects: AreaPolygon | None = None


@dataclass(frozen=True)
class AttributeFilter:
    """Equality/membership on view columns, a time range on one column (half-open unless
    ``time_to_inclusive``: OGC's intervals are closed), and a CQL2 predicate already compiled
    against the view's published columns (``ogc_filter``)."""

    equals: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # column → allowed values
    time_column: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    time_to_inclusive: bool = False
    cql: Predicate | None = None
    #: The instant of an "as of" read of a history view (``geo.layers.as_of``): the versions
    #: valid then (docs/history.md). Required with a history view, refused without one.
    as_of: datetime | None = None


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

    def sql(
        self, select: sql.Composable, table: str | LayerView, tail: sql.Composable
    ) -> sql.Composed:
        return sql.SQL("{with_}SELECT {select} FROM {table} t {joins} WHERE {where} {tail}").format(
            with_=sql.SQL("WITH {} ").format(sql.SQL(", ").join(self.ctes))
            if self.ctes
            else sql.SQL(""),
            select=select,
            table=relation(table),
            joins=sql.SQL(" ").join(self.joins),
            where=sql.SQL(" AND ").join(self.where),
            tail=tail,
        )


def relation(source: str | LayerView) -> sql.Composable:
    """What a read builder selects ``FROM`` (as alias t): a built-in layer's table, or a
    catalogue layer's relation seen through a subquery that names its id column ``id`` and its
    geometry ``geom`` in lon/lat (SRID 4326) — PostgreSQL pulls such a subquery up into the
    outer query, so the relation's own indexes serve (a geometry in another SRID is
    transformed per row: no index for bboxes, docs/catalogue.md)."""
    if isinstance(source, str):
        return sql.Identifier(source)
    if source.schema is None:
        return sql.Identifier(source.table)
    geom: sql.Composable = sql.Identifier(source.geom_column)
    if source.srid != 4326:
        geom = sql.SQL("ST_Transform({}, 4326)").format(geom)
    published = [c for c in source.columns if c not in ("id", "geom")]
    if source.historic:  # its history table: each version's validity too (docs/history.md)
        published.append("valid")
    return sql.SQL("(SELECT {id} AS id, {geom} AS geom{cols} FROM {rel})").format(
        id=sql.Identifier(source.id_column),
        geom=geom,
        cols=sql.SQL("").join(
            sql.SQL(", {}::text AS {}" if c in source.text_columns else ", {}").format(
                sql.Identifier(c), *((sql.Identifier(c),) if c in source.text_columns else ())
            )
            for c in published
        ),
        rel=sql.Identifier(source.schema, source.table),
    )


def clauses(
    view: LayerView, spatial: SpatialFilter | None, attributes: AttributeFilter | None
) -> Clauses:
    spatial = spatial or SpatialFilter()
    attributes = attributes or AttributeFilter()
    c = Clauses({}, [], [], [sql.SQL(view.row_filter)], [])
    params, where, joins = c.params, c.where, c.joins
    if view.historic != (attributes.as_of is not None):
        raise InvalidInput(
            f"{view.name} keeps no history to read as of a time."
            if not view.historic
            else f"a read of {view.name}'s history needs the instant it is as of."
        )
    if attributes.as_of is not None:
        # GiST (geom, valid) on the history table (migration 0031) serves it with the bbox.
        params["as_of"] = attributes.as_of
        where.append(sql.SQL("t.valid @> %(as_of)s::timestamptz"))
    if spatial.bbox is not None:
        b = spatial.bbox
        params.update(minx=b.minx, miny=b.miny, maxx=b.maxx, maxy=b.maxy)
        # ST_Intersects alone: PostGIS adds the index test itself, and the planner estimates
        # the box once. Spelled out as well, the two estimates multiply and a dense box looks
        # rare: a 5 km box of 130,000 cases was then sorted whole (1.8 s) instead of read in
        # id order until the page is full (measured on the scale-10 city, bench/ogc).
        env = sql.SQL("ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326)")
        where.append(sql.SQL("ST_Intersects(t.geom, {e})").format(e=env))
    if spatial.index_box is not None:
        params.update(zip(("bx0", "by0", "bx1", "by1"), spatial.index_box, strict=True))
        where.append(sql.SQL("t.geom && ST_MakeEnvelope(%(bx0)s, %(by0)s, %(bx1)s, %(by1)s, 4326)"))
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
        allowed = list(values)
        # One value is a plain equality: the same statement as a hand-written lookup by id,
        # which psycopg prepares and PostgreSQL plans without an array.
        one = len(allowed) == 1
        params[f"eq{i}"] = allowed[0] if one else allowed
        test = "{} = {}" if one else "{} = ANY({})"
        where.append(sql.SQL(test).format(_column(view, col), sql.Placeholder(f"eq{i}")))
    if attributes.time_column and (attributes.time_from or attributes.time_to):
        time_col = _column(view, attributes.time_column)
        if attributes.time_from:
            params["t_from"] = attributes.time_from
            where.append(sql.SQL("{} >= %(t_from)s").format(time_col))
        if attributes.time_to:
            params["t_to"] = attributes.time_to
            upto = "<=" if attributes.time_to_inclusive else "<"
            where.append(sql.SQL("{} {} %(t_to)s").format(time_col, sql.SQL(upto)))
    if attributes.cql is not None:
        where.append(attributes.cql.sql)
        params.update(attributes.cql.params)
    return c


def checked_areas(
    statement: sql.Composed,
    params: dict[str, Any],
    decode: Any,
    areas: list[AreaById],
) -> Query[list[dict[str, Any]]]:
    """No rows could mean an empty area or a missing one: tell them apart in the same trip
    (NotFound naming the area that does not exist)."""
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
