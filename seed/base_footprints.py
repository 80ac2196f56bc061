"""Building footprints behind the address base's doors (seed/base_data.py uses them).

Each door (seed/addresses.py: 12 m off a road's centre line) gets a rectangle behind it, away
from the road: its front ``SETBACK_M`` metres behind the door, 16–30 m wide along the road,
12–30 m deep. A rectangle that comes within ``ROAD_CLEAR_M`` of any road (a corner, a road
behind) or overlaps a building of a lower id is left out, so footprints never cover a road
nor each other, and the choice depends only on the doors before it (a bigger scale adds doors
and keeps what a smaller one placed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

KX = float(np.cos(np.radians(31.24)))
M_PER_DEG = 110_574.0
SETBACK_M = 6.0
ROAD_CLEAR_M = 7.0


@dataclass
class Footprints:
    """The rectangles (metric shapely polygons, lon/lat WKT) of the doors kept, by index."""

    kept: NDArray[np.intp]  # indices into the doors given
    polygons: NDArray[np.object_]  # metric
    wkt: list[str]  # lon/lat MULTIPOLYGON, SRID 4326 EWKT
    inner: NDArray[np.float64]  # per kept door: (origin x, y, depth dx, dy, width dx, dy)


def metric(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.column_stack([lon * KX, lat]) * M_PER_DEG


def _ewkt(poly: Any) -> str:
    xy = shapely.get_coordinates(poly) / M_PER_DEG
    ring = ", ".join(f"{x / KX:.7f} {y:.7f}" for x, y in xy)
    return f"SRID=4326;MULTIPOLYGON((({ring})))"


def place(
    doors: NDArray[np.float64],
    roads: list[Any],
    earlier: list[Any],
    rng: np.random.Generator,
) -> Footprints:
    """Rectangles for ``doors`` (metric x, y) behind the nearest of ``roads`` (metric lines);
    ``earlier``: the footprints already loaded (metric), which new ones must not overlap."""
    n = len(doors)
    width = rng.uniform(16.0, 30.0, n)
    depth = rng.uniform(12.0, 30.0, n)
    road_tree = shapely.STRtree(roads)
    points = shapely.points(doors)
    nearest = road_tree.nearest(points)
    on_road = shapely.get_coordinates(
        shapely.shortest_line(points, np.asarray(roads, dtype=object)[nearest])
    )[1::2]
    away = doors - on_road
    norm = np.hypot(away[:, 0], away[:, 1])
    norm[norm == 0] = 1.0
    nrm = away / norm[:, None]
    tan = np.column_stack([-nrm[:, 1], nrm[:, 0]])
    front = doors + nrm * SETBACK_M
    half = tan * (width / 2)[:, None]
    back = nrm * depth[:, None]
    corners = np.stack([front - half, front + half, front + half + back, front - half + back,
                        front - half], axis=1)  # fmt: skip
    polygons = shapely.polygons(corners)
    clear = road_tree.query(polygons, predicate="dwithin", distance=ROAD_CLEAR_M)
    ok = np.ones(n, dtype=bool)
    ok[np.unique(clear[0])] = False
    if earlier:
        hits = shapely.STRtree(earlier).query(polygons, predicate="intersects")
        ok[np.unique(hits[0])] = False
    own = shapely.STRtree(polygons)
    pairs = own.query(polygons, predicate="intersects")
    later = pairs[:, pairs[0] > pairs[1]] if pairs.size else pairs
    blockers: dict[int, list[int]] = {}
    for j, i in zip(later[0], later[1], strict=True):
        blockers.setdefault(int(j), []).append(int(i))
    for j in range(n):  # greedy in door order: a door loses to a kept earlier one
        if ok[j] and any(ok[i] for i in blockers.get(j, ())):
            ok[j] = False
    kept = np.flatnonzero(ok)
    inner = np.column_stack([(front - half)[kept], back[kept], (2 * half)[kept]])
    return Footprints(kept, polygons[kept], [_ewkt(p) for p in polygons[kept]], inner)
