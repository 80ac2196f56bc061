"""Vector tiles as their users see them: decoded (mapbox-vector-tile) and counted in SQL."""

from __future__ import annotations

import math
from typing import Any

import mapbox_vector_tile
import psycopg

LON, LAT = 121.4737, 31.2304  # People's Square, the dense middle of the demo city


def tile_at(z: int, lon: float = LON, lat: float = LAT) -> tuple[int, int, int]:
    """(z, x, y) of the tile holding a point; y counts rows from the top."""
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def url(layer: str, z: int, x: int, y: int, query: str = "") -> str:
    """The OGC path: tileMatrix/tileRow/tileCol."""
    return f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}" + (
        f"?{query}" if query else ""
    )


def features(data: bytes, layer: str) -> list[dict[str, Any]]:
    if not data:
        return []
    found: list[dict[str, Any]] = mapbox_vector_tile.decode(data).get(layer, {}).get("features", [])
    return found


def in_envelope(
    db: psycopg.Connection[Any], table: str, where: str, z: int, x: int, y: int,
    params: tuple[Any, ...] = (),
) -> int:  # fmt: skip
    """How many rows of ``table`` (alias t) meeting ``where`` lie in the tile's envelope."""
    row = db.execute(
        f"SELECT count(*) FROM {table} t WHERE ({where}) AND "
        "ST_Intersects(ST_Transform(t.geom, 3857), ST_TileEnvelope(%s, %s, %s))",
        (*params, z, x, y),
    ).fetchone()
    assert row is not None
    return int(row[0])
