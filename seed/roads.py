"""Loads the demo city's road network (seed.road_network) into ``roads`` and ``road_vertices``.

A step of the seed (``seed_progress`` layer ``roads``, its rows the edges loaded): the edges and
vertices come in the network's fixed order with their own ids (edge *i* is road *i + 1*, vertex
*j* vertex *j + 1*), so a second run adds nothing and a bigger scale adds the lanes alone. Each
road's length is measured by PostGIS on the spheroid and its free-flow costs follow from it:
``cost_s`` = length / speed limit, ``reverse_cost_s`` the same or -1 on a one-way road.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from seed import vocab
from seed.copy import copy_rows
from seed.geography import City
from seed.road_network import Network, build_network

ROADS = "roads"
#: (step, done, total), as seed.load's progress.
Say = Callable[[str, int, int], None]

_INSERT = """
INSERT INTO roads (id, name_zh, name_en, road_class, speed_kmh, lanes, one_way, source, target,
                   length_m, cost_s, reverse_cost_s, geom)
SELECT id, name_zh, name_en, road_class, speed_kmh, lanes, one_way, source, target, m,
       m / (speed_kmh / 3.6), CASE WHEN one_way THEN -1 ELSE m / (speed_kmh / 3.6) END, geom
FROM (SELECT s.*, ST_Length(s.geom::geography) AS m FROM seed_roads s) x
"""


def _loaded(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT rows FROM seed_progress WHERE layer = %s", (ROADS,)).fetchone()
    return int(row[0]) if row else 0


def _wkt(coords: tuple[tuple[float, float], ...]) -> str:
    return "SRID=4326;LINESTRING(" + ", ".join(f"{x!r} {y!r}" for x, y in coords) + ")"


def load(conn: psycopg.Connection[Any], city: City, scale: float, say: Say) -> int:
    """The roads of ``scale`` not loaded yet; returns how many were added."""
    have = _loaded(conn)
    network = build_network(city, vocab.ROADS)
    want, vertices = network.target(scale)
    if have >= want:
        say(ROADS, want, want)
        return 0
    say(ROADS, have, want)
    with conn.transaction():
        _load(conn, network, have, want, vertices)
        conn.execute(
            "INSERT INTO seed_progress (layer, rows) VALUES (%s, %s) ON CONFLICT (layer) "
            "DO UPDATE SET rows = excluded.rows, updated_at = now()",
            (ROADS, want),
        )
    for table in ("road_vertices", "roads"):
        conn.execute(f"ANALYZE {table}")
    say(ROADS, want, want)
    return want - have


def _load(conn: psycopg.Connection[Any], network: Network, have: int, want: int,
          vertices: int) -> None:  # fmt: skip
    row = conn.execute("SELECT coalesce(max(id), 0) FROM road_vertices").fetchone()
    first_vertex = int(row[0]) if row else 0
    copy_rows(
        conn,
        "road_vertices",
        ("id", "geom"),
        ((j + 1, f"SRID=4326;POINT({x!r} {y!r})")
         for j, (x, y) in enumerate(network.vertices[first_vertex:vertices], start=first_vertex)),
    )  # fmt: skip
    conn.execute(
        "CREATE TEMP TABLE seed_roads (id bigint, name_zh text, name_en text, road_class text, "
        "speed_kmh smallint, lanes smallint, one_way boolean, source bigint, target bigint, "
        "geom geometry(LineString, 4326)) ON COMMIT DROP"
    )
    copy_rows(
        conn,
        "seed_roads",
        ("id", "name_zh", "name_en", "road_class", "speed_kmh", "lanes", "one_way", "source",
         "target", "geom"),
        ((i + 1, e.name_zh, e.name_en, e.road_class, e.speed_kmh, e.lanes, e.one_way,
          e.source + 1, e.target + 1, _wkt(e.coords))
         for i, e in enumerate(network.edges[have:want], start=have)),
    )  # fmt: skip
    conn.execute(_INSERT)
    conn.execute("DROP TABLE seed_roads")
