"""The demo city's address base (issue 17, item 2), laid along the road network already loaded.

Every named arterial and local street gets door numbers along it: a "slot" every ``SLOT_M``
metres, measured along all the pieces of the road's name in their order (a local street's name
runs in several pieces; its numbers run on, so a name and a number are one door), with the odd
number on the left of the road's direction and the even one on the right, ``OFFSET_M`` metres
off the centre line. Expressways (elevated) and lanes have no doors. Some doors carry a
building name (小区, 大厦…) from a small vocabulary. The district, street and grid cell are those
the door lies in (PostGIS, at load); a door that falls outside the city is left out.

Deterministic (fixed seed, no randomness that depends on the scale) and grown by prefix like the
other layers: slots are taken in tiers (slot k is in tier k mod 10); scale 1 holds tier 0 (a
door every 250 m of road and side), scale S the first round(S) tiers (all ten at scale 10).
``seed_progress`` layer ``addresses`` counts the candidate doors loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import shapely

from geo.address_text import road_key
from seed import past_versions, vocab
from seed.copy import copy_rows
from seed.geography import SEED

ADDRESSES = "addresses"
LAYER_NUMBER = 6  # mixes into the random seed (facilities 1 … roads 5)
SLOT_M = 25.0
OFFSET_M = 12.0
TIERS = 10
BUILDING_SHARE = 0.35
#: A building's kind: (Chinese suffix, English words).
BUILDING_KINDS = (
    ("小区", "Residential Community"),
    ("大厦", "Tower"),
    ("公寓", "Apartments"),
    ("花园", "Garden"),
    ("新村", "New Village"),
    ("苑", "Court"),
)
_M_PER_DEG_LAT = 110_574.0
Say = Callable[[str, int, int], None]

_INSERT = """
INSERT INTO addresses (id, road_id, number, building_zh, building_en, district_id, street_id,
                       grid_cell_id, label_zh, label_en, search, geom)
SELECT s.id, s.road_id, s.number, s.building_zh, s.building_en, d.id, st.id, g.id, x.zh, x.en,
       lower(x.zh || ' ' || x.en), s.geom
FROM seed_addresses s
JOIN address_roads r ON r.id = s.road_id
CROSS JOIN LATERAL (SELECT g.id, g.community_id FROM grid_cells g
                    WHERE ST_Intersects(g.geom, s.geom) ORDER BY g.id LIMIT 1) g
JOIN admin_areas c ON c.id = g.community_id
JOIN admin_areas st ON st.id = c.parent_id
JOIN admin_areas d ON d.id = st.parent_id
CROSS JOIN LATERAL (SELECT
    d.name_zh || st.name_zh || r.name_zh || s.number || '号' || coalesce(s.building_zh, '') AS zh,
    s.number || ' ' || r.name_en || coalesce(', ' || s.building_en, '') || ', ' || st.name_en
        || ', ' || d.name_en AS en) x
"""


#: Facilities take the address of their nearest door (上海市 and the label without the
#: building); ``seed_progress`` layer ``facility_addresses`` holds the last facility id done.
FACILITY_ADDRESSES = "facility_addresses"
_DOORS = """
SELECT '上海市' || left(label_zh, length(label_zh) - length(coalesce(building_zh, ''))),
       ST_X(geom), ST_Y(geom) FROM addresses ORDER BY id
"""


def _loaded(conn: psycopg.Connection[Any], layer: str = ADDRESSES) -> int:
    row = conn.execute("SELECT rows FROM seed_progress WHERE layer = %s", (layer,)).fetchone()
    return int(row[0]) if row else 0


def readdress_facilities(conn: psycopg.Connection[Any]) -> int:
    """Facilities loaded since the last run get their nearest door's address; how many."""
    done = _loaded(conn, FACILITY_ADDRESSES)
    row = conn.execute("SELECT coalesce(max(id), 0), count(*) FILTER (WHERE id > %s) "
                       "FROM facilities", (done,)).fetchone()  # fmt: skip
    if row is None or row[1] == 0:
        return 0
    # The nearest door found here (an STRtree on metre-like coordinates), not by a KNN per
    # facility in PostgreSQL: 20,000 of those cost seconds.
    labels, xs, ys = zip(*conn.execute(_DOORS).fetchall(), strict=True)
    kx = float(np.cos(np.radians(31.24)))
    tree = shapely.STRtree(shapely.points(np.array(xs) * kx, np.array(ys)))
    facilities = conn.execute(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM facilities WHERE id > %s ORDER BY id", (done,)
    ).fetchall()
    ids, fx, fy = (np.array(c) for c in zip(*facilities, strict=True))
    nearest = tree.nearest(shapely.points(fx * kx, fy))
    with conn.transaction():
        past_versions.stamp(conn, "facilities")  # the address they stood with from the start
        conn.execute("CREATE TEMP TABLE seed_readdress (id bigint, address text) ON COMMIT DROP")
        copy_rows(conn, "seed_readdress", ("id", "address"),
                  ((int(i), labels[n]) for i, n in zip(ids, nearest, strict=True)))  # fmt: skip
        conn.execute("UPDATE facilities f SET address = r.address FROM seed_readdress r "
                     "WHERE f.id = r.id")  # fmt: skip
        conn.execute(
            "INSERT INTO seed_progress (layer, rows) VALUES (%s, %s) ON CONFLICT (layer) "
            "DO UPDATE SET rows = excluded.rows, updated_at = now()",
            (FACILITY_ADDRESSES, row[0]),
        )
    return int(row[1])


def tiers(scale: float) -> int:
    return min(TIERS, max(1, round(scale)))


def _roads(conn: psycopg.Connection[Any]) -> tuple[list[tuple[str, str]], list[tuple[int, Any]]]:
    """The addressed names (in order of their first piece) and each piece: (name index, line)."""
    names: dict[str, int] = {}
    name_list: list[tuple[str, str]] = []
    pieces = []
    for name_zh, name_en, wkb in conn.execute(
        "SELECT name_zh, name_en, ST_AsBinary(geom) FROM roads "
        "WHERE road_class IN ('arterial', 'local') ORDER BY id"
    ):
        if name_zh not in names:
            names[name_zh] = len(name_list)
            name_list.append((name_zh, name_en))
        pieces.append((names[name_zh], shapely.from_wkb(wkb)))
    return name_list, pieces


def _doors(pieces: list[tuple[int, Any]], names: int) -> list[tuple[int, int, int, float, float]]:
    """Every candidate door: (tier, name index, number, lon, lat), tier-major."""
    kx = float(np.cos(np.radians(31.24)))
    run = np.zeros(names)  # metres of each name laid so far
    doors = []
    for name, line in pieces:
        xy = shapely.get_coordinates(line)
        metric = np.column_stack([xy[:, 0] * kx, xy[:, 1]]) * _M_PER_DEG_LAT
        seg = np.diff(metric, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        at = np.concatenate([[0.0], np.cumsum(seg_len)])
        start, length = run[name], at[-1]
        first = int(np.ceil(start / SLOT_M - 0.5))
        for k in range(first, int(np.floor((start + length) / SLOT_M - 0.5)) + 1):
            d = (k + 0.5) * SLOT_M - start
            i = min(int(np.searchsorted(at, d, side="right")) - 1, len(seg_len) - 1)
            if seg_len[i] == 0:
                continue
            t = (d - at[i]) / seg_len[i]
            p = metric[i] + t * seg[i]
            left = np.array([-seg[i][1], seg[i][0]]) / seg_len[i] * OFFSET_M
            for number, q in ((2 * k + 1, p + left), (2 * k + 2, p - left)):
                lon, lat = q[0] / _M_PER_DEG_LAT / kx, q[1] / _M_PER_DEG_LAT
                doors.append((k % TIERS, name, number, float(lon), float(lat)))
        run[name] = start + length
    doors.sort(key=lambda r: (r[0], r[1], r[2]))
    return doors


def _buildings(count: int) -> list[tuple[str, str] | None]:
    rng = np.random.default_rng([SEED, LAYER_NUMBER])
    has = rng.random(count) < BUILDING_SHARE
    word = rng.integers(0, len(vocab.COMMUNITY_WORDS), count)
    kind = rng.integers(0, len(BUILDING_KINDS), count)
    out: list[tuple[str, str] | None] = []
    for i in range(count):
        if not has[i]:
            out.append(None)
            continue
        (w_zh, w_en), (k_zh, k_en) = vocab.COMMUNITY_WORDS[word[i]], BUILDING_KINDS[kind[i]]
        out.append((w_zh + k_zh, f"{w_en} {k_en}"))
    return out


def load(conn: psycopg.Connection[Any], scale: float, say: Say) -> int:
    """The doors of ``scale`` not loaded yet (after the roads); returns how many were added."""
    have = _loaded(conn)
    names, pieces = _roads(conn)
    doors = _doors(pieces, len(names))
    want = sum(1 for d in doors if d[0] < tiers(scale))
    if have >= want:
        say(ADDRESSES, want, want)
        return 0
    say(ADDRESSES, have, want)
    buildings = _buildings(len(doors))
    with conn.transaction():
        if have == 0:
            copy_rows(conn, "address_roads", ("id", "name_zh", "name_en", "key_zh", "key_en"),
                      ((i + 1, zh, en, road_key(zh), road_key(en))
                       for i, (zh, en) in enumerate(names)))  # fmt: skip
        conn.execute(
            "CREATE TEMP TABLE seed_addresses (id bigint, road_id int, number int, "
            "building_zh text, building_en text, geom geometry(Point, 4326)) ON COMMIT DROP"
        )
        copy_rows(
            conn,
            "seed_addresses",
            ("id", "road_id", "number", "building_zh", "building_en", "geom"),
            ((i + 1, d[1] + 1, d[2], *(buildings[i] or (None, None)),
              f"SRID=4326;POINT({d[3]!r} {d[4]!r})")
             for i, d in enumerate(doors[have:want], start=have)),
        )  # fmt: skip
        conn.execute(_INSERT)
        conn.execute("DROP TABLE seed_addresses")
        conn.execute(
            "INSERT INTO seed_progress (layer, rows) VALUES (%s, %s) ON CONFLICT (layer) "
            "DO UPDATE SET rows = excluded.rows, updated_at = now()",
            (ADDRESSES, want),
        )
    for table in ("address_roads", "addresses"):
        conn.execute(f"ANALYZE {table}")
    say(ADDRESSES, want, want)
    return want - have
