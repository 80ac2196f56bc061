"""Mapbox vector tiles (WebMercatorQuad) of a layer view, built by ``ST_AsMVT``.

The tile's envelope reaches PostGIS as numbers (EPSG:3857 for clipping, EPSG:4326 with the
buffer for the index), SRIDs are numeric literals (a text SRID makes PostGIS rebuild the
transform for every row: seconds per tile), and polygons are simplified to about a pixel below
``SIMPLIFY_BELOW`` zoom.

**Honest tiles.** A tile of a point layer holding more than ``cap`` features (with the
caller's filters) is *aggregated*: the points of the tile's own envelope (no buffer, so
neighbouring tiles never count a point twice) are counted on an ``AGGREGATE_BINS`` ×
``AGGREGATE_BINS`` grid, one point feature per non-empty cell at its centre, carrying
``count``, ``aggregated = true`` and one ``<column>_<value>`` count per value of the layer's
breakdown column (``BREAKDOWN``: cases by status, facilities by category, cameras by status).
So a heat map weighted by ``count`` sums to the true number. Below the cap a tile holds the
features themselves, as before; one statement decides and builds either.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from psycopg import sql

from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.queries import Query, Rows, tile_keys
from geo.queries.filters import AttributeFilter, Clauses, SpatialFilter, clauses, relation
from geo.queries.ogc_fields import type_of

EXTENT = 4096  # MVT grid per tile side
BUFFER = 64  # grid units drawn beyond the tile edge, so symbols and strokes join up
SIMPLIFY_BELOW = 13
HALF = 20037508.342789244  # half the WebMercatorQuad square, metres
EARTH_RADIUS = 6378137.0  # the sphere of Web Mercator
#: Cells per tile side of an aggregated tile (64 × 64: a cell is 4 px of a 256 px tile).
AGGREGATE_BINS = 64
#: Zooms up to this one may aggregate hundreds of thousands of points in one tile.
BIG_GROUPS_BELOW = 12
#: The column an aggregated cell counts by value, per layer.
BREAKDOWN = {"cases": "status", "facilities": "category", "cameras": "status", "sensors": "state"}


@dataclass(frozen=True, slots=True)
class Tile:
    z: int
    x: int  # tileCol
    y: int  # tileRow, from the top

    def check(self, max_zoom: int) -> Tile:
        if not 0 <= self.z <= max_zoom:
            raise InvalidInput(f"tileMatrix must be between 0 and {max_zoom}, got {self.z}.")
        n = 1 << self.z
        if not (0 <= self.x < n and 0 <= self.y < n):
            raise InvalidInput(
                f"tileRow and tileCol must be between 0 and {n - 1} at zoom {self.z}."
            )
        return self

    @property
    def size_m(self) -> float:
        return 2 * HALF / (1 << self.z)

    def mercator(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        size = self.size_m
        minx = -HALF + self.x * size - margin
        maxy = HALF - self.y * size + margin
        return minx, maxy - size - 2 * margin, minx + size + 2 * margin, maxy

    def lonlat(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = self.mercator(margin)
        return _lon(minx), _lat(miny), _lon(maxx), _lat(maxy)


def _lon(x: float) -> float:
    return max(-180.0, min(180.0, x / HALF * 180.0))


def _lat(y: float) -> float:
    y = max(-HALF, min(HALF, y))
    return math.degrees(math.atan(math.sinh(y / HALF * math.pi)))


def to_mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(-85.06, min(85.06, lat))
    return lon * HALF / 180.0, math.log(math.tan(math.radians(45 + lat / 2))) * EARTH_RADIUS


def tiles_holding(lon: float, lat: float, max_zoom: int) -> Iterator[Tile]:
    """Every tile, zoom 0 to ``max_zoom``, that draws a point at (lon, lat): its own tile and
    the neighbours whose buffer reaches it (what a change there makes stale)."""
    mx, my = to_mercator(lon, lat)
    for z in range(max_zoom + 1):
        n = 1 << z
        size = 2 * HALF / n
        margin = size * BUFFER / EXTENT

        def span(lo: float, hi: float, n: int = n, size: float = size) -> range:
            first = max(0, math.floor(lo / size))
            return range(first, min(n - 1, math.floor(hi / size)) + 1)

        for x in span(mx + HALF - margin, mx + HALF + margin):
            for y in span(HALF - my - margin, HALF - my + margin):
                yield Tile(z, x, y)


def tile_properties(view: LayerView) -> list[str]:
    """The columns a tile carries: everything the view publishes but JSON objects."""
    return [c for c in view.columns if type_of(view, c) != "object"]


def breakdown_column(view: LayerView) -> str | None:
    found = BREAKDOWN.get(view.name)
    return found if found in view.columns else None


def _mercator_cell(scale: str) -> tuple[sql.Composable, sql.Composable]:
    """A point's column and row on a grid of the tile (``scale`` = cells per metre), computed
    with the spherical Mercator formulas: 2.5× cheaper than ST_Transform + ST_AsMVTGeom."""
    x = sql.SQL("(ST_X(t.geom) * {k} - %(x0)s) * %({s})s").format(
        k=sql.Literal(HALF / 180.0), s=sql.SQL(scale)
    )
    y = sql.SQL("(%(y1)s - ln(tan(radians(45 + ST_Y(t.geom) / 2))) * {r}) * %({s})s").format(
        r=sql.Literal(EARTH_RADIUS), s=sql.SQL(scale)
    )
    return x, y


def _aggregate(view: LayerView, where: sql.Composable) -> sql.Composable:
    """The aggregated tile: counts per cell of the tile's own envelope (half-open cells, so a
    point on an edge belongs to exactly one tile). The cells outside the envelope (the index
    box's buffer) are dropped after grouping (OFFSET 0 keeps the filter from being pushed
    down): as a row filter the planner guessed a handful of rows and sorted 600,000 on disk
    instead of hashing them (scale-10 city, z11)."""
    x, y = _mercator_cell("binscale")
    by = breakdown_column(view)
    value = sql.SQL("t.{}::text").format(sql.Identifier(by)) if by else sql.SQL("NULL::text")
    parts = sql.SQL(
        "jsonb_object_agg({prefix} || coalesce(g.v, 'none'), g.n)" if by else "'{{}}'::jsonb"
    ).format(prefix=sql.Literal(f"{by}_"))
    cell = EXTENT / AGGREGATE_BINS
    return sql.SQL(
        "SELECT ST_AsMVT(a, {name}, {extent}, 'geom') FROM ("
        "SELECT ST_MakePoint((b.bx + 0.5) * {cell}, (b.by + 0.5) * {cell}) AS geom, "
        "b.count, true AS aggregated, b.parts FROM ("
        "SELECT g.bx, g.by, sum(g.n)::int AS count, {parts} AS parts FROM ("
        "SELECT p.bx, p.by, p.v, count(*)::int AS n FROM ("
        "SELECT floor({x})::int AS bx, floor({y})::int AS by, {value} AS v {where}"
        ") p GROUP BY p.bx, p.by, p.v OFFSET 0) g "
        "WHERE g.bx >= 0 AND g.bx < {bins} AND g.by >= 0 AND g.by < {bins} "
        "GROUP BY g.bx, g.by) b) a"
    ).format(
        name=sql.Literal(view.name), extent=sql.Literal(EXTENT), cell=sql.Literal(cell),
        parts=parts, x=x, y=y, value=value, where=where, bins=sql.Literal(AGGREGATE_BINS),
    )  # fmt: skip


def _from_where(c: Clauses, view: LayerView) -> sql.Composable:
    """The FROM/WHERE of the one read builder's clauses (a tile uses no areas: no CTE, no join)."""
    assert not c.ctes
    assert not c.joins
    return sql.SQL("FROM {} t WHERE {}").format(relation(view), sql.SQL(" AND ").join(c.where))


def _statement(
    view: LayerView, simplify: bool, c: Clauses, own: sql.Composable | None = None
) -> sql.Composed:
    """The tile statement; ``own`` — the FROM/WHERE of the tile's own cases by quadkey
    (geo.queries.tile_keys) — decides and aggregates from one index range when given."""
    point = view.geometry_type == "Point"
    geom: sql.Composable = sql.SQL("ST_Transform(t.geom, 3857)")
    if simplify:
        geom = sql.SQL("ST_Simplify({}, %(tolerance)s, true)").format(geom)
    tile_geom: sql.Composable = sql.SQL(
        "ST_AsMVTGeom({geom}, ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3857), "
        "{extent}, {buffer}, true)"
    ).format(geom=geom, extent=sql.Literal(EXTENT), buffer=sql.Literal(BUFFER))
    if point:
        # A point needs no clipping (the index box already holds exactly the tile + buffer,
        # since Web Mercator maps lon and lat separately) — only its place on the tile's grid.
        x, y = _mercator_cell("scale")
        tile_geom = sql.SQL("ST_MakePoint(round({}), round({}))").format(x, y)
    cols = [
        sql.SQL("t.{}::text AS {}" if type_of(view, c) == "datetime" else "t.{} AS {}").format(
            sql.Identifier(c), sql.Identifier(c)
        )
        for c in tile_properties(view)
    ]
    rows = c.sql(
        sql.SQL("t.id, {cols}, {tile_geom} AS geom").format(
            cols=sql.SQL(", ").join(cols), tile_geom=tile_geom
        ),
        view,
        sql.SQL("LIMIT %(cap)s"),
    )
    features = sql.SQL("ST_AsMVT(m, {name}, {extent}, 'geom', 'id')").format(
        name=sql.Literal(view.name), extent=sql.Literal(EXTENT)
    )
    if point and own is not None:
        # Counted on the keys of the tile's own cases, an index-only range; the CASE runs only
        # the branch it takes. The features' LIMIT leaves room for the buffer's neighbours.
        return sql.SQL(
            "SELECT CASE WHEN {more} THEN ({aggregate}) "
            "ELSE (SELECT {features} FROM ({rows}) m) END"
        ).format(
            more=tile_keys.more_than(own), features=features, rows=rows,
            aggregate=tile_keys.aggregate(view, own, view.name, EXTENT, breakdown_column(view)),
        )  # fmt: skip
    if point:
        # One more than the cap tells whether the tile must aggregate; the CASE runs only the
        # branch it takes (PostgreSQL evaluates an InitPlan when first needed).
        return sql.SQL(
            "WITH f AS MATERIALIZED ({rows}) SELECT CASE WHEN (SELECT count(*) FROM f) > "
            "%(budget)s THEN ({aggregate}) ELSE (SELECT {features} FROM f m) END"
        ).format(rows=rows, aggregate=_aggregate(view, _from_where(c, view)), features=features)
    return sql.SQL("SELECT {features} FROM ({rows}) m WHERE m.geom IS NOT NULL").format(
        features=features, rows=rows
    )


@lru_cache(maxsize=64)
def _unfiltered(view: LayerView, simplify: bool, keyed: bool) -> sql.SQL:
    """The statement of an unfiltered tile, composed and rendered once per view: composing
    costs more Python than the rest of a cold tile request (bench/ogc)."""
    return sql.SQL(_composed(view, simplify, keyed, (0.0, 0.0, 0.0, 0.0), None)[0].as_string(None))


def _composed(
    view: LayerView,
    simplify: bool,
    keyed: bool,
    index_box: tuple[float, float, float, float],
    attributes: AttributeFilter | None,
) -> tuple[sql.Composed, dict[str, object]]:
    c = clauses(view, SpatialFilter(index_box=index_box), attributes)
    own = tile_keys.key_where(clauses(view, None, attributes), view) if keyed else None
    return _statement(view, simplify, c, own), c.params


def mvt(
    view: LayerView, tile: Tile, cap: int, attributes: AttributeFilter | None = None
) -> Query[bytes]:
    """One tile of ``view`` with the caller's filters (an empty bytes string when nothing is
    there): the features, or — for a point layer with more than ``cap`` of them — the counts."""
    margin = tile.size_m * BUFFER / EXTENT
    if tile.z < view.low_zoom_below:  # generalised: the major rows only (the roads' classes)
        view = replace(view, row_filter=f"({view.row_filter}) AND ({view.low_zoom_filter})")
    point = view.geometry_type == "Point"
    simplify = not point and tile.z < SIMPLIFY_BELOW
    keyed = point and tile_keys.keyed(view, tile.z)
    # The tile and its buffer as the index box of the one read builder: candidates by index
    # only (the renderer clips polygons itself), the view's row filter and the caller's
    # filters applied as everywhere.
    statement: sql.SQL | sql.Composed
    statement, params = _composed(view, simplify, keyed, tile.lonlat(margin), attributes)
    if attributes is None:
        statement = _unfiltered(view, simplify, keyed)
    x0, y0, x1, y1 = tile.mercator()
    k0, k1 = tile_keys.key_range(tile.z, tile.x, tile.y)
    params = {
        **params,
        "k0": k0,
        "k1": k1,
        "kshift": 2 * (tile_keys.KEY_LEVEL - tile.z - tile_keys.BIN_BITS),
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "cap": cap + cap // 4 if keyed else cap + 1 if point else cap,
        "budget": cap,
        "tolerance": tile.size_m / EXTENT,
        "scale": EXTENT / tile.size_m,
        "binscale": AGGREGATE_BINS / tile.size_m,
    }

    def decode(rows: Rows) -> bytes:
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else b""

    # A low-zoom tile may count hundreds of thousands of cases (z11/1715/836 of the scale-10
    # city: 592,000): with 32 MB its grouping stays in memory instead of sorting on disk
    # (205 → 135 ms there). Higher zooms never group that many and skip the extra round trips.
    local = (("work_mem", "32MB"),) if keyed and tile.z <= BIG_GROUPS_BELOW else ()
    return Query(statement, params, decode, local=local, binary=True)
