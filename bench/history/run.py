"""Reading the one map as of a time (docs/history.md) against reading it today, on the seeded
city: the statements OneMap runs for OGC items (a 1 km box, 100 features) and for a vector
tile, for facilities and buildings, live and from the history (``geo.layers.as_of``), one
after another on one connection.

    python -m bench.history.run [--url URL] [--n 200] [--as-of 2025-06-01T00:00:00Z]

It prints the p50 of each in milliseconds and the plan of "as of in a box".
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime
from typing import Any

import psycopg

from geo.layers import BUILDINGS, FACILITIES, as_of
from geo.params import BBox
from geo.queries import Query, fetch_sync
from geo.queries.filters import AttributeFilter
from geo.queries.ogc_items import ItemQuery, items
from geo.queries.tiles import Tile, mvt
from tests.tile_helpers import tile_at

LON, LAT = 121.4737, 31.2304  # People's Square


def _p50(conn: psycopg.Connection[Any], query: Query[Any], n: int) -> float:
    fetch_sync(conn, query)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fetch_sync(conn, query)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("ONEMAP_DATABASE_URL"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--as-of", default="2025-06-01T00:00:00Z")
    args = parser.parse_args()
    when = datetime.fromisoformat(args.as_of.replace("Z", "+00:00"))
    box = BBox(LON - 0.005, LAT - 0.0045, LON + 0.005, LAT + 0.0045)
    with psycopg.connect(args.url, autocommit=True) as conn:
        for view, zoom in ((FACILITIES, 15), (BUILDINGS, 16)):
            then = as_of(view)
            assert then is not None
            tile = Tile(*tile_at(zoom, LON, LAT))
            live_items = items(ItemQuery(view=view, bbox=box, limit=100))
            then_items = items(ItemQuery(view=then, bbox=box, limit=100, as_of=when))
            live_tile = mvt(view, tile, 2000)
            then_tile = mvt(then, tile, 2000, AttributeFilter(as_of=when))
            print(f"{view.name}: items (1 km box) p50 live {_p50(conn, live_items, args.n):.2f} "
                  f"ms, as of {_p50(conn, then_items, args.n):.2f} ms; tile z{zoom} p50 live "
                  f"{_p50(conn, live_tile, args.n):.2f} ms, as of "
                  f"{_p50(conn, then_tile, args.n):.2f} ms")  # fmt: skip
        plan = conn.execute(
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM facilities_history t WHERE "
            "ST_Intersects(t.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326)) "
            "AND t.valid @> %s::timestamptz",
            (box.minx, box.miny, box.maxx, box.maxy, when),
        ).fetchall()
        print("\n".join(r[0] for r in plan))


if __name__ == "__main__":
    main()
