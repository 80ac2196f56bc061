"""The demo city's past (docs/history.md): facilities and buildings as they were before their
recorded changes, so that "as of" a past time shows a different map from today's.

SYNTHETIC. The seeded rows stand since :data:`HISTORY_START` (their loads stamp their history
then, :func:`stamp`). Then, for a fixed share of them, the step writes what they were before
a change and the change itself at a past date (2025-01 to 2026-10), through the history
triggers — the way a department's data load records dated changes (``onemap.valid_at``):

- facilities renamed (another facility's name of the same category before), moved (80–400 m
  away before, in the grid cell there) and closed (extra facilities that stood from the start
  and were deleted at their date: never in today's table);
- buildings raised (2–5 floors fewer before) and converted (another use before).

Today's rows are exactly what the generator made: nothing else in the seed or the tests sees
a difference. Deterministic, and grown by prefix like the other steps (``seed_progress``
layer ``past_versions`` keeps the last facility and building ids done). A database whose
rows were seeded before history was kept (their versions start later) gets no past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import psycopg

from seed.copy import copy_rows
from seed.geography import SEED

PAST_VERSIONS = "past_versions"
#: When the seeded rows' history starts: the demo city as loaded stood then.
HISTORY_START = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=8)))
#: One facility in RENAME_EVERY is renamed, one in MOVE_EVERY moved; one closed facility is
#: added for every CLOSE_EVERY; one building in ALTER_EVERY raised or converted.
RENAME_EVERY, MOVE_EVERY, CLOSE_EVERY, ALTER_EVERY = 80, 80, 100, 100
_M_PER_DEG = 111_320.0
#: The day of each month (2025-01 … 2026-10) on which that month's changes are recorded.
_CHANGE_DAYS = np.random.default_rng([SEED, 31]).integers(1, 29, 22)
_USES = ("residential", "office", "commercial", "industrial", "mixed")


def stamp(conn: psycopg.Connection[Any], table: str) -> None:
    """In the open transaction: a seed load of ``table`` is recorded as standing since
    :data:`HISTORY_START` — unless the table's history started later with rows in it (seeded
    before history was kept: its past is unknown, the load is recorded now)."""
    row = conn.execute(
        "SELECT starts FROM history_tables WHERE live_table = %s", (f"public.{table}",)
    ).fetchone()
    if row is None:
        return
    fresh = conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()  # noqa: S608
    if row[0] <= HISTORY_START or (fresh is not None and fresh[0]):
        _at(conn, HISTORY_START)


def _done(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    row = conn.execute(
        "SELECT coalesce(max(rows) FILTER (WHERE layer = %s), 0), "
        "coalesce(max(rows) FILTER (WHERE layer = %s), 0) FROM seed_progress",
        (f"{PAST_VERSIONS}_facilities", f"{PAST_VERSIONS}_buildings"),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _mark(conn: psycopg.Connection[Any], what: str, last_id: int) -> None:
    conn.execute(
        "INSERT INTO seed_progress (layer, rows) VALUES (%s, %s) ON CONFLICT (layer) "
        "DO UPDATE SET rows = excluded.rows, updated_at = now()",
        (f"{PAST_VERSIONS}_{what}", last_id),
    )


def _at(conn: psycopg.Connection[Any], when: datetime) -> None:
    conn.execute("SELECT set_config('onemap.valid_at', %s, true)", (when.isoformat(),))


def _dates(rng: np.random.Generator, n: int) -> list[datetime]:
    """Change dates: 09:30 in Shanghai on the change day of one of the 22 months 2025-01 …
    2026-10 (a department records its changes on one day a month: 22 dated statements in
    all, not one per change — the seed stays fast)."""
    months = rng.integers(0, 22, n)
    return [datetime(2025 + int(m) // 12, int(m) % 12 + 1, int(_CHANGE_DAYS[m]), 1, 30,
                     tzinfo=UTC) for m in months]  # fmt: skip


def _since_start(conn: psycopg.Connection[Any], table: str, done: int) -> list[tuple[Any, ...]]:
    """Rows after ``done`` whose current version stands since HISTORY_START, by id."""
    cols = ("f.id, f.category, f.name_zh, f.name_en, ST_X(f.geom), ST_Y(f.geom)"
            if table == "facilities" else "f.id, f.use, f.floors, 0, 0, 0")  # fmt: skip
    return conn.execute(
        f"SELECT {cols} FROM {table} f JOIN {table}_history h ON h.id = f.id "  # noqa: S608
        "AND upper_inf(h.valid) AND lower(h.valid) = %s WHERE f.id > %s ORDER BY f.id",
        (HISTORY_START, done),
    ).fetchall()


def load(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """The past of the facilities and buildings not done yet; the changes written by kind."""
    done_f, done_b = _done(conn)
    facilities = _since_start(conn, "facilities", done_f)
    buildings = _since_start(conn, "buildings", done_b)
    if not facilities and not buildings:
        return {}
    rng = np.random.default_rng([SEED, 31, done_f, done_b])
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE seed_past (id bigint, kind text, at timestamptz, name_zh text, "
            "name_en text, lon float8, lat float8, floors int, use text) ON COMMIT DROP"
        )
        past = _facility_past(rng, facilities) + _building_past(rng, buildings)
        copy_rows(conn, "seed_past",
                  ("id", "kind", "at", "name_zh", "name_en", "lon", "lat", "floors", "use"),
                  past)  # fmt: skip
        closed = _closed(conn, rng, facilities)
        _write(conn)
        if facilities:
            _mark(conn, "facilities", int(facilities[-1][0]))
        if buildings:
            _mark(conn, "buildings", int(buildings[-1][0]))
    for table in ("facilities_history", "buildings_history"):  # "as of" plans need statistics
        conn.execute(f"ANALYZE {table}")
    kinds: dict[str, int] = {}
    for row in past:
        kinds[str(row[1])] = kinds.get(str(row[1]), 0) + 1
    if closed:
        kinds["closed"] = closed
    return kinds


def _facility_past(rng: np.random.Generator, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    if not rows:
        return []
    n = len(rows)
    order = rng.permutation(n)  # a facility is renamed or moved, not both
    renamed = order[: n // RENAME_EVERY]
    moved = order[n // RENAME_EVERY : n // RENAME_EVERY + n // MOVE_EVERY]
    by_category: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_category.setdefault(r[1], []).append(i)
    out: list[tuple[Any, ...]] = []
    for i, when in zip(renamed, _dates(rng, len(renamed)), strict=True):
        same = by_category[rows[i][1]]
        other = rows[same[int(rng.integers(len(same)))]]
        if other[2] != rows[i][2]:
            out.append((rows[i][0], "renamed", when, other[2], other[3], None, None, None, None))
    angle = rng.uniform(0, 2 * np.pi, len(moved))
    metres = rng.uniform(80, 400, len(moved))
    kx = np.cos(np.radians(31.24)) * _M_PER_DEG
    for k, (i, when) in enumerate(zip(moved, _dates(rng, len(moved)), strict=True)):
        lon = rows[i][4] + metres[k] * np.cos(angle[k]) / kx
        lat = rows[i][5] + metres[k] * np.sin(angle[k]) / _M_PER_DEG
        out.append((rows[i][0], "moved", when, None, None, float(lon), float(lat), None, None))
    return out


def _building_past(rng: np.random.Generator, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    n = len(rows)
    picked = rng.permutation(n)[: n // ALTER_EVERY]
    out: list[tuple[Any, ...]] = []
    for i, when in zip(picked, _dates(rng, len(picked)), strict=True):
        bid, use, floors = rows[i][0], rows[i][1], int(rows[i][2])
        if floors > 3 and rng.random() < 0.6:
            fewer = max(1, floors - int(rng.integers(2, 6)))
            out.append((bid, "raised", when, None, None, None, None, fewer, None))
        else:
            before = [u for u in _USES if u != use][int(rng.integers(len(_USES) - 1))]
            out.append((bid, "converted", when, None, None, None, None, None, before))
    return out


def _closed(conn: psycopg.Connection[Any], rng: np.random.Generator, rows: list[Any]) -> int:
    """Facilities that stood from the start and closed at a past date: inserted now as they
    were (a branch of a facility of the same category, 150–600 m from it) and deleted then.
    Their codes (``FX…``) are never a generator's."""
    n = len(rows) // CLOSE_EVERY
    if n == 0:
        return 0
    first = int(rows[0][0])
    picks = rng.permutation(len(rows))[:n]
    dates = _dates(rng, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    metres = rng.uniform(150, 600, n)
    kx = np.cos(np.radians(31.24)) * _M_PER_DEG
    conn.execute("CREATE TEMP TABLE seed_closed (code text, of_id bigint, at timestamptz, "
                 "lon float8, lat float8) ON COMMIT DROP")  # fmt: skip
    copy_rows(conn, "seed_closed", ("code", "of_id", "at", "lon", "lat"), (
        (f"FX{first:07d}{k:03d}", rows[i][0], dates[k],
         float(rows[i][4] + metres[k] * np.cos(angle[k]) / kx),
         float(rows[i][5] + metres[k] * np.sin(angle[k]) / _M_PER_DEG))
        for k, i in enumerate(picks)
    ))  # fmt: skip
    _at(conn, HISTORY_START)
    found = conn.execute(
        "INSERT INTO facilities (code, category, name_zh, name_en, address, capacity, "
        "attributes, grid_cell_id, geom) "
        "SELECT c.code, f.category, f.name_zh || '分部', f.name_en || ' (branch)', NULL, "
        'f.capacity, f.attributes || \'{"closed": "true"}\', g.id, '
        "ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326) FROM seed_closed c "
        "JOIN facilities f ON f.id = c.of_id "
        "JOIN grid_cells g ON ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)) "
        "RETURNING id"
    ).fetchall()
    for when in sorted(set(dates)):
        _at(conn, when)
        conn.execute("DELETE FROM facilities f USING seed_closed c WHERE f.code = c.code "
                     "AND c.at = %s", (when,))  # fmt: skip
    return len(found)


def _write(conn: psycopg.Connection[Any]) -> None:
    """The rows as they were, at HISTORY_START (replacing the versions stamped then), then
    today's values again at each change's date."""
    conn.execute(
        "CREATE TEMP TABLE seed_now ON COMMIT DROP AS SELECT f.id, f.name_zh, f.name_en, "
        "f.geom, f.grid_cell_id FROM facilities f WHERE f.id IN (SELECT id FROM seed_past)"
    )
    conn.execute(
        "CREATE TEMP TABLE seed_now_b ON COMMIT DROP AS SELECT b.id, b.floors, b.height_m, "
        "b.use FROM buildings b WHERE b.id IN (SELECT id FROM seed_past "
        "WHERE kind IN ('raised', 'converted'))"
    )
    _at(conn, HISTORY_START)
    conn.execute(
        "UPDATE facilities f SET name_zh = coalesce(p.name_zh, f.name_zh), "
        "name_en = coalesce(p.name_en, f.name_en), "
        "geom = coalesce(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), f.geom), "
        "grid_cell_id = coalesce((SELECT g.id FROM grid_cells g WHERE p.lon IS NOT NULL AND "
        "ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)) LIMIT 1), "
        "f.grid_cell_id) "
        "FROM seed_past p WHERE p.id = f.id AND p.kind IN ('renamed', 'moved')"
    )
    conn.execute(
        "UPDATE buildings b SET floors = coalesce(p.floors, b.floors), "
        "height_m = coalesce(round(p.floors * 3.1, 1), b.height_m), "
        "use = coalesce(p.use, b.use) "
        "FROM seed_past p WHERE p.id = b.id AND p.kind IN ('raised', 'converted')"
    )
    dates = [r[0] for r in conn.execute("SELECT DISTINCT at FROM seed_past ORDER BY at")]
    for when in dates:
        _at(conn, when)
        conn.execute(
            "UPDATE facilities f SET name_zh = n.name_zh, name_en = n.name_en, geom = n.geom, "
            "grid_cell_id = n.grid_cell_id FROM seed_now n JOIN seed_past p ON p.id = n.id "
            "WHERE f.id = n.id AND p.at = %s AND p.kind IN ('renamed', 'moved')",
            (when,),
        )
        conn.execute(
            "UPDATE buildings b SET floors = n.floors, height_m = n.height_m, use = n.use "
            "FROM seed_now_b n JOIN seed_past p ON p.id = n.id "
            "WHERE b.id = n.id AND p.at = %s AND p.kind IN ('raised', 'converted')",
            (when,),
        )
    conn.execute("SELECT set_config('onemap.valid_at', '', true)")  # the rest is today's
