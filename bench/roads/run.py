"""Drive-time nearest against straight-line nearest, and the fastest route, on the seeded
demo city: the statements OneMap runs (geo.queries.routing), one after another on one
connection, from random points of the city (seeded facilities' positions, fixed seed).

    python -m bench.roads.run [--url URL] [--points 200] [--n 10]

For each point: the ``n`` nearest emergency resources (fire stations, hospitals, police
stations, shelters) by drive time, the same by straight line (KNN on the GiST index), and a
route to a second random point. It prints p50/p95 of each, and how the two answers differ:
how often the nearest by road is not the nearest in a straight line, and how many of the
straight-line ``n`` are not among the drive-time ``n``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import psycopg

from bench.timing import pct, timed
from geo.params import LonLat
from geo.queries.routing import drive_time_nearest, route

RESOURCES = ["fire_station", "hospital", "police_station", "shelter"]

_STRAIGHT = """
SELECT f.id FROM facilities f
WHERE f.category = ANY(%(cats)s)
ORDER BY f.geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) LIMIT %(n)s
"""


def run(url: str, points: int, n: int) -> dict[str, float]:
    rng = random.Random(16)
    drive_ms: list[float] = []
    straight_ms: list[float] = []
    route_ms: list[float] = []
    first_differs = 0
    missed = 0
    with psycopg.connect(url, autocommit=True) as conn:
        places = [LonLat(x, y) for x, y in conn.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM facilities ORDER BY id")]  # fmt: skip
        for i in range(points + 5):  # the first five warm the caches
            here, there = rng.choice(places), rng.choice(places)
            by_road, d_ms = timed(conn, drive_time_nearest(here, RESOURCES, n))
            t0 = time.perf_counter()
            rows = conn.execute(_STRAIGHT, {"cats": RESOURCES, "lon": here.lon,
                                            "lat": here.lat, "n": n}).fetchall()  # fmt: skip
            s_ms = (time.perf_counter() - t0) * 1000
            _found, r_ms = timed(conn, route(here, there))
            if i < 5:
                continue
            drive_ms.append(d_ms)
            straight_ms.append(s_ms)
            route_ms.append(r_ms)
            line = [r[0] for r in rows]
            road = [r.id for r in by_road]
            first_differs += bool(road and line and road[0] != line[0])
            missed += len(set(line) - set(road))
    return {
        "drive_p50_ms": statistics.median(drive_ms), "drive_p95_ms": pct(drive_ms, 0.95),
        "straight_p50_ms": statistics.median(straight_ms),
        "straight_p95_ms": pct(straight_ms, 0.95),
        "route_p50_ms": statistics.median(route_ms), "route_p95_ms": pct(route_ms, 0.95),
        "nearest_differs_share": first_differs / points,
        "straight_not_in_drive_per_query": missed / points,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("ONEMAP_DATABASE_URL"))
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or ONEMAP_DATABASE_URL names the seeded database")
    for key, value in run(args.url, args.points, args.n).items():
        print(f"{key:34} {value:10.3f}")


if __name__ == "__main__":
    main()
