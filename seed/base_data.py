"""The demo city's base data (issue 17, item 1): buildings, houses, persons and organisations.

A step after the address base. Every door gets a building behind it (seed/base_footprints.py:
a rectangle that covers no road and no other building); a door with a building name (小区,
公寓…) gets a residential block, 大厦 an office or mixed tower, an unnamed door a low shop,
school, clinic, workshop or house. Houses follow from the floors (one unit (单元) per 12 m
of frontage; a flat a floor a unit, two shops a floor). Persons fill the residential houses
of each grid cell up to ``grid_cells.population`` × ``min(1, scale / 10)`` — the whole
population at scale 10, a one-in-ten sample at scale 1 (so a scale-1 seed stays a few
seconds); a cell without a residential house (no door at this scale) stays empty.
Organisations: 九小场所 in commercial and mixed buildings, legal entities in offices,
fire-safety key units in big commercial buildings, schools and hospitals.

Everything is synthetic and marked so (``synthetic`` true; ID numbers and credit codes start
with ``SYN``), deterministic (fixed seed) and grown by prefix: ``seed_progress`` layer
``base_data`` holds the last address id done, and a bigger scale adds the new doors' buildings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import shapely

from seed import past_versions, vocab
from seed.base_footprints import M_PER_DEG, metric, place
from seed.copy import copy_rows
from seed.geography import SEED

BASE_DATA = "base_data"
LAYER_NUMBER = 7  # mixes into the random seed (… addresses 6)
FULL_SCALE = 10.0
Say = Callable[[str, int, int], None]
_UNNAMED_USES = ("commercial", "residential", "mixed", "school", "hospital", "industrial")
_UNNAMED_P = (0.45, 0.3, 0.1, 0.05, 0.03, 0.07)
_FLOORS = {"residential": (6, 33), "office": (10, 40), "commercial": (2, 6), "mixed": (8, 30),
           "school": (3, 5), "hospital": (5, 15), "industrial": (1, 3)}  # fmt: skip
_VENUES = ("小餐馆", "小商店", "小旅馆", "小美容院", "小网吧", "小歌舞厅", "小诊所", "小加工厂",
           "幼儿园")  # fmt: skip
_FIRMS = ("科技有限公司", "贸易有限公司", "咨询有限公司", "物业管理有限公司", "文化传媒有限公司")
_BUILDING_COLUMNS = ("id", "name_zh", "use", "floors", "height_m", "year_built", "geom")
_INSERT_BUILDINGS = """
INSERT INTO buildings (id, name_zh, address_id, grid_cell_id, use, floors, height_m,
                       year_built, geom)
SELECT s.id, s.name_zh, s.id, g.id, s.use, s.floors, s.height_m, s.year_built, s.geom
FROM seed_buildings s
CROSS JOIN LATERAL (SELECT g.id FROM grid_cells g WHERE ST_Intersects(g.geom, ST_Centroid(s.geom))
                    ORDER BY g.id LIMIT 1) g
RETURNING id, grid_cell_id
"""


def _loaded(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT rows FROM seed_progress WHERE layer = %s", (BASE_DATA,)).fetchone()
    return int(row[0]) if row else 0


def _metric_lines(conn: psycopg.Connection[Any], statement: str) -> list[Any]:
    geoms = [shapely.from_wkb(r[0]) for r in conn.execute(statement)]
    scale = np.array([np.cos(np.radians(31.24)) * M_PER_DEG, M_PER_DEG])
    return list(shapely.transform(np.asarray(geoms, dtype=object), lambda xy: xy * scale))


def _next_id(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 1


def load(conn: psycopg.Connection[Any], scale: float, bulk: bool, say: Say) -> dict[str, int]:
    """The base data of the doors not done yet; the rows added by table. ``bulk``: skip the
    foreign-key triggers (seed/load.py: the ids written are the ones just made)."""
    done = _loaded(conn)
    doors = conn.execute("SELECT id, building_zh, ST_X(geom), ST_Y(geom) FROM addresses "
                         "WHERE id > %s ORDER BY id", (done,)).fetchall()  # fmt: skip
    if not doors:
        return {}
    say(BASE_DATA, 0, 4)
    rng = np.random.default_rng([SEED, LAYER_NUMBER, done])
    ids = np.array([d[0] for d in doors])
    names = [d[1] for d in doors]
    xy = metric(np.array([d[2] for d in doors]), np.array([d[3] for d in doors]))
    roads = _metric_lines(conn, "SELECT ST_AsBinary(geom) FROM roads")
    earlier = _metric_lines(conn, "SELECT ST_AsBinary(geom) FROM buildings") if done else []
    feet = place(xy, roads, earlier, rng)
    added: dict[str, int] = {}
    with conn.transaction():
        if bulk:
            conn.execute("SET LOCAL session_replication_role = replica")
        past_versions.stamp(conn, "buildings")  # standing since the history's start
        cells, uses, floors = _buildings(conn, rng, ids, names, feet)
        added["buildings"] = len(cells)
        say(BASE_DATA, 1, 4)
        houses = _houses(conn, rng, cells, uses, floors, feet)
        added["houses"] = len(houses)
        say(BASE_DATA, 2, 4)
        added["persons"] = _persons(conn, rng, houses, min(1.0, scale / FULL_SCALE))
        say(BASE_DATA, 3, 4)
        added["organisations"] = _organisations(conn, rng, cells, uses, floors, feet)
        # The analysts' counts of the new buildings (the triggers are off in a bulk load).
        conn.execute("SELECT onemap_refresh_building_population(%s)", (sorted(cells),))
        conn.execute(
            "INSERT INTO seed_progress (layer, rows) VALUES (%s, %s) ON CONFLICT (layer) "
            "DO UPDATE SET rows = excluded.rows, updated_at = now()",
            (BASE_DATA, int(ids[-1])),
        )
    for table in ("buildings", "houses", "persons", "organisations", "building_population"):
        conn.execute(f"ANALYZE {table}")
    say(BASE_DATA, 4, 4)
    return added


def _buildings(
    conn: psycopg.Connection[Any], rng: np.random.Generator, ids: Any, names: list[Any],
    feet: Any,
) -> tuple[dict[int, int], dict[int, str], dict[int, int]]:  # fmt: skip
    """Insert the kept footprints; (cell, use, floors) by building id (those inside a cell)."""
    n = len(feet.kept)
    unnamed = rng.choice(len(_UNNAMED_USES), n, p=_UNNAMED_P)
    tower = rng.random(n)
    span = rng.random(n)
    year = rng.integers(1980, 2024, n)
    rows, uses, floors = [], {}, {}
    for k, i in enumerate(feet.kept):
        name = names[i]
        if name is None:
            use = _UNNAMED_USES[unnamed[k]]
        elif name.endswith("大厦"):
            use = "office" if tower[k] < 0.6 else "mixed"
        else:
            use = "residential"
        low, high = _FLOORS[use]
        count = int(low + span[k] * (high - low))
        bid = int(ids[i])
        uses[bid], floors[bid] = use, count
        rows.append((bid, name, use, count, round(count * 3.1, 1), int(year[k]), feet.wkt[k]))
    conn.execute("CREATE TEMP TABLE seed_buildings (id bigint, name_zh text, use text, "
                 "floors smallint, height_m float8, year_built smallint, "
                 "geom geometry(MultiPolygon, 4326)) ON COMMIT DROP")  # fmt: skip
    copy_rows(conn, "seed_buildings", _BUILDING_COLUMNS, rows)
    cells = {int(b): int(c) for b, c in conn.execute(_INSERT_BUILDINGS).fetchall()}
    conn.execute("DROP TABLE seed_buildings")
    return cells, uses, floors


_HOUSE_USE = {"residential": "residential", "office": "office", "commercial": "commercial",
              "mixed": "residential", "school": "public", "hospital": "public",
              "industrial": "public"}  # fmt: skip


def _houses(
    conn: psycopg.Connection[Any], rng: np.random.Generator, cells: dict[int, int],
    uses: dict[int, str], floors: dict[int, int], feet: Any,
) -> list[tuple[int, int, int]]:  # fmt: skip
    """Insert the houses of the new buildings; (house id, building id, cell) of the dwellings."""
    widths = {}
    for k in range(len(feet.kept)):
        w = feet.inner[k]
        widths[k] = float(np.hypot(w[4], w[5])), float(np.hypot(w[2], w[3]))
    by_id = dict(zip(sorted(cells), range(len(cells)), strict=True))
    kept_of = {}  # building id → index into feet
    for k, bid in enumerate(sorted(uses)):
        kept_of[bid] = k
    rows, dwellings = [], []
    hid = _next_id(conn, "houses")
    for bid in by_id:
        use, cell = uses[bid], cells[bid]
        width, depth = widths[kept_of[bid]]
        units = max(1, int(width // 12))
        per_floor = 2 if use == "commercial" else 1
        area = round(width * depth / (units * per_floor), 1)
        for unit in range(1, units + 1):
            for floor in range(1, floors[bid] + 1):
                kind = "commercial" if use == "mixed" and floor == 1 else _HOUSE_USE[use]
                for n in range(1, per_floor + 1):
                    rows.append((hid, bid, unit, floor, floor * 100 + n, area, kind, cell))
                    if kind == "residential":
                        dwellings.append((hid, bid, cell))
                    hid += 1
    copy_rows(conn, "houses", ("id", "building_id", "unit", "floor", "room", "area_m2", "use",
                               "grid_cell_id"), rows)  # fmt: skip
    return dwellings


def _persons(
    conn: psycopg.Connection[Any], rng: np.random.Generator,
    dwellings: list[tuple[int, int, int]], share: float,
) -> int:  # fmt: skip
    """Persons in ``dwellings`` up to each cell's population × ``share``; how many."""
    by_cell: dict[int, list[tuple[int, int]]] = {}
    for hid, bid, cell in dwellings:
        by_cell.setdefault(cell, []).append((hid, bid))
    want = dict(conn.execute("SELECT g.id, round(g.population * %s)::int - count(p.id) "
                             "FROM grid_cells g LEFT JOIN persons p ON p.grid_cell_id = g.id "
                             "WHERE g.id = ANY(%s) GROUP BY g.id",
                             (share, list(by_cell))).fetchall())  # fmt: skip
    pid = _next_id(conn, "persons")
    first = pid
    rows = []
    for cell in sorted(by_cell):
        count = max(0, int(want.get(cell, 0)))
        if not count:
            continue
        homes = by_cell[cell]
        pick = rng.integers(0, len(homes), count)
        born = rng.integers(1935, 2024, count)
        sex = rng.random(count) < 0.5
        residence = rng.choice(3, count, p=(0.55, 0.25, 0.2))
        flags = rng.random((count, 3))
        for j in range(count):
            hid, bid = homes[pick[j]]
            care = []
            if born[j] < 1956 and flags[j, 0] < 0.15:
                care.append("elderly_alone")
            if flags[j, 1] < 0.02:
                care.append("disabled")
            if flags[j, 2] < 0.03:
                care.append("low_income")
            rows.append((pid, hid, bid, cell, vocab.person_name(20_000 + pid), f"SYN{pid:015d}",
                         f"1990{pid:07d}", int(born[j]), "F" if sex[j] else "M",
                         ("registered", "resident", "floating")[residence[j]],
                         care))  # fmt: skip
            pid += 1
    copy_rows(conn, "persons", ("id", "house_id", "building_id", "grid_cell_id", "name",
                                "id_number", "phone", "birth_year", "sex", "residence", "care"),
              rows)  # fmt: skip
    return pid - first


def _organisations(
    conn: psycopg.Connection[Any], rng: np.random.Generator, cells: dict[int, int],
    uses: dict[int, str], floors: dict[int, int], feet: Any,
) -> int:  # fmt: skip
    """Organisations in the new buildings (kinds by use); how many."""
    oid = _next_id(conn, "organisations")
    first = oid
    rows = []
    inner = dict(zip(sorted(uses), feet.inner, strict=True))
    for bid in sorted(cells):
        use = uses[bid]
        kinds: list[str] = []
        if use in ("commercial", "mixed"):
            kinds += ["small_venue"] * int(rng.integers(1, 5 if use == "commercial" else 3))
        if use == "office":
            kinds += ["legal_entity"] * int(rng.integers(2, 5))
        if use in ("school", "hospital") or (use == "commercial" and floors[bid] >= 5):
            kinds += ["legal_entity", "fire_key_unit"]
        for kind in kinds:
            o = inner[bid]
            u, v = rng.uniform(0.15, 0.85, 2)
            x, y = o[0] + o[2] * u + o[4] * v, o[1] + o[3] * u + o[5] * v
            lon, lat = x / M_PER_DEG / np.cos(np.radians(31.24)), y / M_PER_DEG
            word = vocab.COMMUNITY_WORDS[oid % len(vocab.COMMUNITY_WORDS)][0]
            name = (word + _VENUES[oid % len(_VENUES)] if kind == "small_venue"
                    else f"上海{word}{_FIRMS[oid % len(_FIRMS)]}")  # fmt: skip
            rows.append((oid, name, f"SYN{oid:015d}", kind, bid, cells[bid],
                         vocab.person_name(900_000 + oid), f"1991{oid:07d}",
                         f"SRID=4326;POINT({lon:.7f} {lat:.7f})"))  # fmt: skip
            oid += 1
    copy_rows(conn, "organisations", ("id", "name", "credit_code", "kind", "building_id",
                                      "grid_cell_id", "responsible_name", "responsible_phone",
                                      "geom"), rows)  # fmt: skip
    return oid - first
