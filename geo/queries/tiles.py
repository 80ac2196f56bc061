"""Mapbox vector tiles (WebMercatorQuad) of a layer view, built by ``ST_AsMVT``.

The tile's envelope reaches PostGIS as numbers (EPSG:3857 for clipping, EPSG:4326 with the
buffer for the index), SRIDs are numeric literals (a text SRID makes PostGIS rebuild the
transform for every row: seconds per tile), each tile holds at most ``cap`` features, and
polygons are simplified to about a pixel below ``SIMPLIFY_BELOW`` zoom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from psycopg import sql

from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.queries import Query, Rows
from geo.queries.filters import SpatialFilter, clauses
from geo.queries.ogc_fields import TYPES

EXTENT = 4096  # MVT grid per tile side
BUFFER = 64  # grid units drawn beyond the tile edge, so symbols and strokes join up
SIMPLIFY_BELOW = 13
HALF = 20037508.342789244  # half the WebMercatorQuad square, metres
EARTH_RADIUS = 6378137.0  # the sphere of Web Mercator


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


def tile_properties(view: LayerView) -> list[str]:
    """The columns a tile carries: everything the view publishes but JSON objects."""
    return [c for c in view.columns if TYPES[c] != "object"]


def mvt(view: LayerView, tile: Tile, cap: int) -> Query[bytes]:
    """One tile of ``view`` (an empty bytes string when nothing is there)."""
    margin = tile.size_m * BUFFER / EXTENT
    geom: sql.Composable = sql.SQL("ST_Transform(t.geom, 3857)")
    if view.geometry_type != "Point" and tile.z < SIMPLIFY_BELOW:
        geom = sql.SQL("ST_Simplify({}, %(tolerance)s, true)").format(geom)
    tile_geom = sql.SQL(
        "ST_AsMVTGeom({geom}, ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3857), "
        "{extent}, {buffer}, true)"
    ).format(geom=geom, extent=sql.Literal(EXTENT), buffer=sql.Literal(BUFFER))
    if view.geometry_type == "Point":
        # A point needs no clipping (the index box already holds exactly the tile + buffer,
        # since Web Mercator maps lon and lat separately) — only its grid cell, computed with
        # the spherical Mercator formulas: 2.5× cheaper than ST_Transform + ST_AsMVTGeom.
        tile_geom = sql.SQL(
            "ST_MakePoint(round((ST_X(t.geom) * {k} - %(x0)s) * %(scale)s), "
            "round((%(y1)s - ln(tan(radians(45 + ST_Y(t.geom) / 2))) * {r}) * %(scale)s))"
        ).format(k=sql.Literal(HALF / 180.0), r=sql.Literal(EARTH_RADIUS))
    cols = [
        sql.SQL("t.{}::text AS {}" if TYPES[c] == "datetime" else "t.{} AS {}").format(
            sql.Identifier(c), sql.Identifier(c)
        )
        for c in tile_properties(view)
    ]
    # The tile and its buffer as the index box of the one read builder: candidates by index
    # only (the renderer clips polygons itself), the view's row filter applied as everywhere.
    c = clauses(view, SpatialFilter(index_box=tile.lonlat(margin)), None)
    rows = c.sql(
        sql.SQL("t.id, {cols}, {tile_geom} AS geom").format(
            cols=sql.SQL(", ").join(cols), tile_geom=tile_geom
        ),
        view.table,
        sql.SQL("LIMIT %(cap)s"),
    )
    statement = sql.SQL(
        "SELECT ST_AsMVT(m, {name}, {extent}, 'geom', 'id') FROM ({rows}) m "
        "WHERE m.geom IS NOT NULL"
    ).format(name=sql.Literal(view.name), extent=sql.Literal(EXTENT), rows=rows)
    x0, y0, x1, y1 = tile.mercator()
    params = {
        **c.params,
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "cap": cap,
        "tolerance": tile.size_m / EXTENT,
        "scale": EXTENT / tile.size_m,
    }

    def decode(rows: Rows) -> bytes:
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else b""

    return Query(statement, params, decode)
