"""Issue 16, item 8: a plan's activation on the seeded city, and its parts, beside the same
context computed with straight-line distances, in one run.

    python -m bench.emergency.run [--url URL] [--points 50] [--level II] [--out FILE]

For ``--points`` seeded waterlogging points (fixed seed), one after another on one
connection, each in a transaction that is rolled back (nothing is left behind):

- **activation**: ``geo.services.incidents.activate`` of the demo city's flood plan at the
  point — the whole stored incident: the context (affected units, hazard sources, cameras,
  population by cell, open cases, sensor alarms), the resources by drive time and the
  lifelines, the tasks and the timeline (the synthetic weather is asked before, as a command
  seat does);
- **context by road**: the resources and lifelines alone (``incident_routes.gather``);
- **context by straight line**: the same resources chosen by straight-line distance (KNN on
  the GiST index, as many per category), and straight segments instead of routes — what a
  system without a road network would show;
- **ten nearest resources by drive time** (``drive_time_nearest``, the four categories) and
  the same ten by straight line.

Targets (issue 16): activation ≤ 300 ms p50 on the scale-10 city; the ten nearest by drive
time ≤ 100 ms p50. Prints p50/p95 and writes a Markdown table with ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from geo.access import CITY, Principal
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.routing import drive_time_nearest
from geo.services import incident_routes, incidents
from geo.weather import SyntheticWeather
from server.kernel.db import READ_SESSION_OPTIONS

RESOURCES = ["fire_station", "hospital", "police_station", "shelter"]
FLOOD_PLAN = "演示市政办发〔2026〕18号"  # the demo city's flood plan (seed/plans.py)
_STRAIGHT = (
    "SELECT n.* FROM unnest(%(cats)s::text[]) AS c(category) CROSS JOIN LATERAL ("
    " SELECT f.id, ST_Distance(f.geom::geography, p.g::geography) AS m FROM facilities f,"
    " (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g) p"
    " WHERE f.category = c.category ORDER BY f.geom <-> p.g LIMIT %(n)s) n"
)
_STRAIGHT_ALL = (
    "SELECT f.id FROM facilities f WHERE f.category = ANY(%(cats)s) "
    "ORDER BY f.geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) LIMIT %(n)s"
)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def _ms(work: Any) -> float:
    t0 = time.perf_counter()
    await work
    return (time.perf_counter() - t0) * 1000


async def run(url: str, points: int, level: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in (
        "activation", "context by road", "context by straight line",
        "ten nearest by drive time", "ten nearest by straight line")}  # fmt: skip
    weather = SyntheticWeather()
    # The session settings the server's pools use (jit off, custom plans: server/kernel/db.py).
    async with await AsyncConnection.connect(url, options=READ_SESSION_OPTIONS) as conn:
        cur = await conn.execute(
            "SELECT id FROM users WHERE 'dispatcher' = ANY(roles) "
            "AND jurisdiction_scope = 'city' ORDER BY id LIMIT 1")  # fmt: skip
        row = await cur.fetchone()
        assert row is not None, "the demo city's dispatcher is seeded"
        commander = Principal(int(row[0]), frozenset({"dispatcher"}), "bench", CITY)
        cur = await conn.execute("SELECT id FROM plans ORDER BY (number = %s) DESC, id LIMIT 1",
                                 (FLOOD_PLAN,))  # fmt: skip
        plan = await cur.fetchone()
        assert plan is not None, "the demo city's plans are seeded"
        cur = await conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM facilities "
                                 "WHERE category = 'waterlogging_point' ORDER BY id")  # fmt: skip
        places = [LonLat(float(x), float(y)) for x, y in await cur.fetchall()]
        await conn.commit()
        rng = random.Random(16)
        for i in range(points + 3):  # the first three warm the caches
            here = rng.choice(places)
            now = datetime.now(UTC)
            # Open the transaction first: the services' own blocks become savepoints in it,
            # and the rollback below takes everything back.
            await conn.execute("SELECT 1")
            got = {
                "activation": await _ms(incidents.activate(
                    conn, commander, plan_id=int(plan[0]), level=level, point=here, area=None,
                    reach_m=None, weather=weather, now=now)),
                "context by road": await _ms(incident_routes.gather(conn, here, {})),
                "context by straight line": await _ms(conn.execute(
                    _STRAIGHT, {"cats": RESOURCES, "lon": here.lon, "lat": here.lat,
                                "n": incident_routes.PER_CATEGORY})),
                "ten nearest by drive time": await _ms(fetch(
                    conn, drive_time_nearest(here, RESOURCES, 10, True))),
                "ten nearest by straight line": await _ms(conn.execute(
                    _STRAIGHT_ALL, {"cats": RESOURCES, "lon": here.lon, "lat": here.lat,
                                    "n": 10})),
            }  # fmt: skip
            await conn.rollback()  # the incident, its tasks, events and audit rows go
            if i >= 3:
                for k, v in got.items():
                    times[k].append(v)
    return times


def report(times: dict[str, list[float]], args: argparse.Namespace) -> str:
    lines = [f"# Emergency activation benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
             f"Command: `python -m bench.emergency.run --points {args.points} --level "
             f"{args.level}` on `{args.label}`; 2-core machine, one connection, each "
             "activation rolled back.", "",
             "| measured | p50 ms | p95 ms |", "|---|---:|---:|"]  # fmt: skip
    for name, values in times.items():
        lines.append(f"| {name} | {statistics.median(values):.1f} | {_pct(values, 0.95):.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("ONEMAP_DATABASE_URL"))
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--level", default="II")
    parser.add_argument("--label", default="the seeded city", help="what the database holds")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or ONEMAP_DATABASE_URL names the seeded database")
    text = report(asyncio.run(run(args.url, args.points, args.level)), args)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
