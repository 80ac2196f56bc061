"""The base data's two questions of issue 17, item 7, on the seeded city: "population of the
grid cells within 1 km" (per cell: total, registered / resident / floating, elderly living
alone, disabled, low income) and "organisations in this building" — the statements OneMap runs
for GraphQL ``populationByCell(near:)`` and ``building(id) { organisations }``
(geo.queries.base_data; the cells' figures are the sums of their buildings' counts as
published under small-count suppression, at the default threshold 5), one after another on
one connection, from random buildings of the city (fixed seed).

    python -m bench.basedata.run [--url URL] [--n 500] [--radius 1000]

It prints p50/p95/max of each in milliseconds, with the cells and persons counted per call.
"""

from __future__ import annotations

import argparse
import os
import random

import psycopg

from bench.timing import pct, timed
from geo.params import LonLat
from geo.queries import fetch_sync
from geo.queries.base_data import organisations_of, population_of_cells


def run(url: str, n: int, radius: float) -> dict[str, float]:
    rng = random.Random(17)
    with psycopg.connect(url, autocommit=True) as conn:
        places = conn.execute(
            "SELECT id, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings ORDER BY id"
        ).fetchall()
        with_orgs = [r[0] for r in conn.execute(
            "SELECT DISTINCT building_id FROM organisations ORDER BY 1")]  # fmt: skip
        sizes = conn.execute("SELECT (SELECT count(*) FROM buildings), "
                             "(SELECT count(*) FROM persons), "
                             "(SELECT count(*) FROM organisations)").fetchone()  # fmt: skip
        picks = rng.sample(places, min(n, len(places)))
        for _id, lon, lat in picks[:20]:  # warm the caches as a running server would be
            fetch_sync(conn, population_of_cells(near=(LonLat(lon, lat), radius)))
        pop_ms, cells, persons = [], [], []
        for _id, lon, lat in picks:
            found, ms = timed(conn, population_of_cells(near=(LonLat(lon, lat), radius)))
            pop_ms.append(ms)
            cells.append(len(found))
            persons.append(sum(c.counts["total"] or 0 for c in found))
        org_ms, orgs = [], []
        for building in rng.sample(with_orgs, min(n, len(with_orgs))):
            found_orgs, ms = timed(conn, organisations_of([building]))
            org_ms.append(ms)
            orgs.append(len(found_orgs))
    assert sizes is not None
    return {
        "buildings": sizes[0], "persons": sizes[1], "organisations": sizes[2],
        "population_p50_ms": pct(pop_ms, 0.5), "population_p95_ms": pct(pop_ms, 0.95),
        "population_max_ms": max(pop_ms), "cells_per_call": sum(cells) / len(cells),
        "published_persons_per_call": sum(persons) / len(persons),
        "organisations_p50_ms": pct(org_ms, 0.5), "organisations_p95_ms": pct(org_ms, 0.95),
        "organisations_max_ms": max(org_ms), "organisations_per_call": sum(orgs) / len(orgs),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("ONEMAP_DATABASE_URL"))
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--radius", type=float, default=1000.0)
    args = parser.parse_args()
    for key, value in run(args.url, args.n, args.radius).items():
        print(f"{key:24} {value:,.2f}" if isinstance(value, float) else f"{key:24} {value:,}")


if __name__ == "__main__":
    main()
