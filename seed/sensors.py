"""The demo city's sensor devices and their last 24 hours of readings, loaded in bulk.

A step of the seed (``seed_progress`` layer ``sensors``, its rows the facilities covered, by
row number): each chunk of facilities gets its devices (seed.sensor_kinds) in one
transaction, so a second run adds nothing, a bigger scale adds the new facilities' devices,
and a database seeded before this step gets them on its next ``onemap seed``. Which facility
gets a device, and its parameters, come from a generator seeded by the facility's chunk, like
the facilities themselves; the readings are the 24 hours before the run.

The rows are those the SensorThings writers (geo.services.sensors, sensor_observations) would
have left after a deep insert and a day of posted readings, written with COPY instead: each
Thing with its Location (at the facility, or a few metres off it inside the same grid cell),
a HistoricalLocation (installation), its grid cell stamped by the writers' statement, one
Datastream per Thing with its time extents and latest reading, one FeatureOfInterest per
Location (internal for critical devices), the rules' states after judging the readings (all
normal: the readings stay under the warning levels), and no alarm. Everything is marked
``properties.synthetic``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import shapely
from numpy.typing import NDArray
from psycopg import sql

from geo.services.sensors import STAMP_CELLS
from seed.copy import copy_rows, reserve_ids
from seed.generate import FACILITIES, REFERENCE_TIME, Refs
from seed.geography import SEED, City
from seed.sensor_kinds import CATEGORIES, KINDS, placed
from seed.sensor_readings import readings, warning_line

SENSORS = "sensors"
READINGS = "readings"
LAYER_NUMBER = 4  # mixes into the random seed (facilities 1, cameras 2, cases 3)
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
GEOJSON = "application/geo+json"
#: A device stands at most this far (metres) from its facility's point.
OFFSET_M = 8.0

#: (step, done, total), as seed.load's progress.
Say = Callable[[str, int, int], None]

#: The rules' states after judging the seeded readings, as the observation writer's
#: evaluation stores them (geo.services.sensor_alarms): the rules that apply to each
#: Datastream (by its ObservedProperty; with the rule's reference on the Datastream or its
#: Thing), normal, the newest reading the last evaluated — so the next reading's rate of
#: change is taken from it.
_RULE_STATES = """
INSERT INTO sensor_rule_states (datastream_id, rule_id, level, pending_count, last_time,
  last_value)
SELECT d.id, r.id, 'normal', 0, d.latest_phenomenon_time, (d.latest_result #>> '{}')::float8
FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
JOIN sta_observed_properties op ON op.id = d.observed_property_id
JOIN sensor_rules r ON r.enabled AND r.observed_property IN (lower(op.name), op.definition)
WHERE d.id = ANY(%(ids)s) AND (r.reference IS NULL
  OR jsonb_typeof(d.properties -> r.reference) = 'number'
  OR jsonb_typeof(t.properties -> r.reference) = 'number')
ON CONFLICT DO NOTHING
"""
_LATEST_IDS = """
UPDATE sta_datastreams d SET latest_observation_id = (SELECT o.id FROM sta_observations o
  WHERE o.datastream_id = d.id AND o.phenomenon_time = d.latest_phenomenon_time
  ORDER BY o.id DESC LIMIT 1)
WHERE d.id = ANY(%(ids)s)
"""


def load(
    conn: psycopg.Connection[Any], city: City, refs: Refs, bulk: bool, say: Say
) -> dict[str, int]:
    """The devices of the facilities loaded so far that have none yet: {sensors, readings}
    added."""
    have, want = _loaded(conn, SENSORS), _loaded(conn, FACILITIES.name)
    added = {SENSORS: 0, READINGS: 0}
    if have >= want:
        say(SENSORS, want, want)
        return added
    say(SENSORS, have, want)
    conn.execute("SELECT sta_ensure_observation_partitions(3)")
    row = conn.execute("SELECT extract(epoch FROM now())::bigint").fetchone()
    assert row is not None
    now = int(row[0])
    shared = _shared(conn)
    cells = {int(cid): g for cid, g in zip(refs.cell_ids, city.cell_geoms(), strict=True)}
    size = FACILITIES.chunk
    for chunk in range(have // size, (want - 1) // size + 1):
        lo, hi = max(have, chunk * size), min(want, (chunk + 1) * size)
        with conn.transaction():
            if bulk:
                conn.execute("SET LOCAL session_replication_role = replica")
            devices, readings = _chunk(conn, chunk, lo, hi, now, shared, cells)
            _mark(conn, hi)
        added[SENSORS] += devices
        added[READINGS] += readings
        say(SENSORS, hi, want)
    for table in ("sta_things", "sta_datastreams", "sta_observations"):
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return added


def _loaded(conn: psycopg.Connection[Any], layer: str) -> int:
    row = conn.execute("SELECT rows FROM seed_progress WHERE layer = %s", (layer,)).fetchone()
    return int(row[0]) if row else 0


def _mark(conn: psycopg.Connection[Any], rows: int) -> None:
    conn.execute(
        "INSERT INTO seed_progress (layer, rows) VALUES (%s, %s) ON CONFLICT (layer) "
        "DO UPDATE SET rows = excluded.rows, updated_at = now()",
        (SENSORS, rows),
    )


def _shared(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    """Each kind's Sensor and ObservedProperty ids (one row of each per kind, made once)."""
    ids = {}
    for kind in KINDS:
        mark = json.dumps({"synthetic": True, "kind": kind.code})
        s, op = kind.sensor, kind.observed_property
        sensor = _one(conn, "SELECT id FROM sta_sensors WHERE properties @> %s::jsonb", (mark,))
        if sensor is None:
            sensor = _one(conn, "INSERT INTO sta_sensors (name, description, encoding_type, "
                          "metadata, properties) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                          (s["name"], s["description"], s["encodingType"], s["metadata"],
                           mark))  # fmt: skip
        prop = _one(conn, "SELECT id FROM sta_observed_properties WHERE properties @> %s::jsonb",
                    (mark,))  # fmt: skip
        if prop is None:
            prop = _one(conn, "INSERT INTO sta_observed_properties (name, definition, "
                        "description, properties) VALUES (%s, %s, %s, %s) RETURNING id",
                        (op["name"], op["definition"], op["description"], mark))  # fmt: skip
        ids[kind.code] = (int(sensor), int(prop))
    return ids


def _one(conn: psycopg.Connection[Any], query: str, params: Sequence[Any]) -> Any:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def _devices(
    conn: psycopg.Connection[Any], chunk: int, lo: int, hi: int, u: NDArray[np.float64]
) -> list[tuple[Any, ...]]:
    """The devices of facility rows ``lo``..``hi``: (row in the chunk, kind, facility id, code,
    names, grid cell, lon, lat), by code; ``u`` the chunk's placement draws."""
    rows = conn.execute(
        "SELECT id, code, category, name_zh, name_en, grid_cell_id, ST_X(geom), ST_Y(geom), "
        "coalesce(attributes, '{}'::jsonb) FROM facilities WHERE code BETWEEN %s AND %s "
        "AND code ~ '^F[0-9]{7}$' AND category = ANY(%s) ORDER BY code",
        (f"F{lo + 1:07d}", f"F{hi:07d}", [str(c) for c in CATEGORIES]),
    ).fetchall()
    devices = []
    for fid, code, category, name_zh, name_en, cell, x, y, attrs in rows:
        i = int(code[1:]) - 1 - chunk * FACILITIES.chunk
        kind = placed(category, attrs, float(u[i]))
        if kind is not None:
            devices.append((i, kind, fid, code, name_zh, name_en, cell, x, y))
    return devices


def _chunk(
    conn: psycopg.Connection[Any],
    chunk: int,
    lo: int,
    hi: int,
    now: int,
    shared: dict[str, tuple[int, int]],
    cells: dict[int, Any],
) -> tuple[int, int]:
    """Devices and readings of facility rows ``lo``..``hi`` (of ``chunk``); their counts."""
    size = FACILITIES.chunk
    rng = np.random.default_rng([SEED, LAYER_NUMBER, chunk])
    u = rng.random((size, 4))  # placement, then the readings' three draws
    z = rng.standard_normal((size, 48))  # the readings' noise (at most 48 a day)
    where = rng.random((size, 3))  # offset angle and distance, phase within the period
    installed_days = rng.uniform(30, 720, size)
    devices = _devices(conn, chunk, lo, hi, u[:, 0])
    if not devices:
        return 0, 0
    n = len(devices)
    ids = {t: reserve_ids(conn, t, n) for t in ("sta_things", "sta_locations", "sta_datastreams",
                                             "sta_features_of_interest",
                                             "sta_historical_locations")}  # fmt: skip
    ref = min(REFERENCE_TIME, datetime.fromtimestamp(now, UTC) - timedelta(days=1))
    points = _points(devices, where, cells)
    things, locations, fois, streams, history = [], [], [], [], []
    series = readings(devices, ids["sta_datastreams"], ids["sta_features_of_interest"], now, u,
                      z, where)  # fmt: skip
    for k, (i, kind, fid, code, name_zh, name_en, _cell, _x, _y) in enumerate(devices):
        tid, lid, did, foi = (
            ids[t][k]
            for t in ("sta_things", "sta_locations", "sta_datastreams", "sta_features_of_interest")
        )
        props: dict[str, Any] = {"kind": kind.code, "facilityId": fid, "critical": kind.critical,
                                 "period": kind.period, "serialNumber": f"{kind.code[:2].upper()}"
                                 f"-{code[1:]}", "synthetic": True}  # fmt: skip
        if kind.code == "water_level_gauge":
            props["warningLine"] = float(warning_line(u[i : i + 1, 3])[0])
        thing_zh = kind.thing_zh.format(fac=name_zh)
        things.append((tid, thing_zh, kind.thing_en.format(fac=name_en) + " (synthetic)",
                       json.dumps(props, ensure_ascii=False), kind.critical, fid))  # fmt: skip
        place = (kind.place_zh.format(fac=name_zh), kind.place_en.format(fac=name_en))
        locations.append((lid, *place, GEOJSON, '{"synthetic": true}', points[k]))
        fois.append((foi, *place, GEOJSON, '{"synthetic": true}', kind.critical, points[k]))
        installed = ref - timedelta(days=float(installed_days[i]))
        history.append((ids["sta_historical_locations"][k], tid, installed, lid))
        sensor, prop = shared[kind.code]
        first, last, latest = series.extents[did]
        streams.append((did, thing_zh + STREAM_NAMES[kind.code],
                        f"{kind.observed_property['name']} at {place[1]} (synthetic)",
                        MEASUREMENT, json.dumps(kind.unit),
                        json.dumps({"period": kind.period, "synthetic": True}), tid, sensor, prop,
                        first, last, first, last, last, latest))  # fmt: skip
    copy_rows(
        conn,
        "sta_things",
        ("id", "name", "description", "properties", "critical", "facility_id"),
        things,
    )
    copy_rows(
        conn,
        "sta_locations",
        ("id", "name", "description", "encoding_type", "properties", "geom"),
        locations,
    )
    copy_rows(
        conn,
        "sta_thing_locations",
        ("thing_id", "location_id"),
        [(t[0], loc[0]) for t, loc in zip(things, locations, strict=True)],
    )
    copy_rows(
        conn, "sta_historical_locations", ("id", "thing_id", "time"), [h[:3] for h in history]
    )
    copy_rows(
        conn,
        "sta_historical_location_locations",
        ("historical_location_id", "location_id"),
        [(h[0], h[3]) for h in history],
    )
    conn.execute(STAMP_CELLS, {"ids": ids["sta_things"]})
    copy_rows(
        conn,
        "sta_features_of_interest",
        ("id", "name", "description", "encoding_type", "properties", "internal", "geom"),
        fois,
    )
    copy_rows(conn, "sta_datastreams", STREAM_COLUMNS, streams)
    stmt = "COPY sta_observations (datastream_id, feature_of_interest_id, phenomenon_time, "
    with conn.cursor().copy(stmt + "result_time, result) FROM STDIN") as copy:
        copy.write(series.copy_text)
    conn.execute(_LATEST_IDS, {"ids": ids["sta_datastreams"]})
    conn.execute(_RULE_STATES, {"ids": ids["sta_datastreams"]})
    return n, series.count


STREAM_NAMES = {"smoke_detector": " 烟雾减光率", "gas_detector": " 可燃气体浓度",
                "water_level_gauge": " 积水深度",
                "cable_temperature_sensor": " 电缆温度"}  # fmt: skip
STREAM_COLUMNS = ("id", "name", "description", "observation_type", "unit_of_measurement",
                  "properties", "thing_id", "sensor_id", "observed_property_id",
                  "phenomenon_time_start", "phenomenon_time_end", "result_time_start",
                  "result_time_end", "latest_phenomenon_time", "latest_result")  # fmt: skip


def _points(
    devices: Sequence[tuple[Any, ...]], where: NDArray[np.float64], cells: dict[int, Any]
) -> list[str]:
    """Each device's point (EWKB hex): a few metres off its facility, in the facility's grid
    cell; at the facility when the offset would leave the cell."""
    idx = np.array([d[0] for d in devices])
    x0 = np.array([d[7] for d in devices])
    y0 = np.array([d[8] for d in devices])
    angle = where[idx, 0] * 2 * math.pi
    dist = where[idx, 1] * OFFSET_M
    x = x0 + dist * np.cos(angle) / (111_320 * np.cos(np.radians(y0)))
    y = y0 + dist * np.sin(angle) / 110_540
    geoms = np.array([cells.get(d[6]) for d in devices], dtype=object)
    moved = shapely.points(x, y)
    inside = np.array([g is not None and shapely.contains_properly(g, p)
                       for g, p in zip(geoms, moved, strict=True)])  # fmt: skip
    x, y = np.where(inside, x, x0), np.where(inside, y, y0)
    pts = shapely.set_srid(shapely.points(x, y), 4326)
    return list(shapely.to_wkb(pts, hex=True, include_srid=True))
