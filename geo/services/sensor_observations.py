"""The writer of Observations: one at a time, or many through the ``CreateObservations``
dataArray extension (one statement per batch), checked against their Datastream's declared
type and clock before anything is written; each Datastream's latest value and phenomenon and
result time extents kept in step (``sta_datastreams.latest_*``) for the map.

An Observation without a FeatureOfInterest gets one made from its Thing's Location (reused
while the Location stays the same), as the standard says; a FeatureOfInterest observed by a
critical Thing becomes internal (``access.sensor_scope``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo.access import Principal, sensor_writer
from geo.errors import InvalidInput
from geo.services import sensor_alarms
from geo.services import sensor_values as v
from geo.services.sensors import feature_of_interest, require_id

#: The most Observations one CreateObservations request may carry.
MAX_BATCH = 50_000
COMPONENTS = ("phenomenonTime", "result", "resultTime", "resultQuality", "validTime",
              "parameters", "FeatureOfInterest/id")  # fmt: skip


async def _datastream(conn: AsyncConnection[Any], ds_id: int) -> tuple[str, bool]:
    cur = await conn.execute("SELECT d.observation_type, t.critical FROM sta_datastreams d "
                             "JOIN sta_things t ON t.id = d.thing_id WHERE d.id = %(id)s",
                             {"id": ds_id})  # fmt: skip
    row = await cur.fetchone()
    if row is None:
        raise InvalidInput(f"There is no Datastream with @iot.id {ds_id}.")
    return str(row[0]), bool(row[1])


async def _foi_from_location(conn: AsyncConnection[Any], ds_id: int) -> int:
    """The FeatureOfInterest of the Datastream's Thing's Location, made on first use."""
    cur = await conn.execute(
        "SELECT l.name, l.description, l.encoding_type, ST_AsGeoJSON(l.geom)::jsonb, "
        "(SELECT f.id FROM sta_features_of_interest f WHERE f.geom ~= l.geom AND f.name = l.name "
        " ORDER BY f.id LIMIT 1) FROM sta_datastreams d JOIN sta_thing_locations tl "
        "ON tl.thing_id = d.thing_id JOIN sta_locations l ON l.id = tl.location_id "
        "WHERE d.id = %(id)s ORDER BY l.id LIMIT 1",
        {"id": ds_id},
    )
    row = await cur.fetchone()
    if row is None:
        raise InvalidInput(
            "The Observation has no FeatureOfInterest and its Thing has no Location to make "
            "one from; send a FeatureOfInterest."
        )
    if row[4] is not None:
        return int(row[4])
    return await feature_of_interest(conn, {"name": row[0], "description": row[1],
                                            "encodingType": row[2], "feature": row[3]})  # fmt: skip


def _row(body: dict[str, Any], obs_type: str, what: str) -> dict[str, Any]:
    """An observation's columns from its JSON (the FeatureOfInterest resolved by the caller)."""
    phen = body.get("phenomenonTime")
    start, end = v.time_or_interval(phen, "phenomenonTime", what) if phen is not None else (
        v.utc_now(), None)  # fmt: skip
    result_time = body.get("resultTime")
    valid = body.get("validTime")
    valid_start, valid_end = (v.time_or_interval(valid, "validTime", what) if valid is not None
                              else (None, None))  # fmt: skip
    params = v.json_object(body, "parameters", what)
    return {
        "phenomenon_time": start.isoformat(), "phenomenon_time_end": end and end.isoformat(),
        "result_time": result_time and v.instant(result_time, "resultTime", what).isoformat(),
        "valid_time_start": valid_start and valid_start.isoformat(),
        "valid_time_end": valid_end and valid_end.isoformat(),
        "result": v.result(body.get("result"), obs_type, what),
        "result_quality": body.get("resultQuality"), "parameters": params,
    }  # fmt: skip


async def observation(
    conn: AsyncConnection[Any], body: dict[str, Any], *, datastream_id: int | None = None
) -> int:
    what = "Observation"
    if datastream_id is None:
        ref = v.reference(body.get("Datastream"), "Datastream", what) if body.get(
            "Datastream") is not None else None  # fmt: skip
        if ref is None:
            raise InvalidInput('Observation needs a Datastream: {"@iot.id": …}.')
        datastream_id = ref
    obs_type, critical = await _datastream(conn, datastream_id)
    row = _row(body, obs_type, what)
    foi = await _foi(conn, body.get("FeatureOfInterest"), datastream_id)
    ids = await _insert(conn, datastream_id, [{**row, "feature_of_interest_id": foi}], critical)
    return ids[0]


async def _foi(conn: AsyncConnection[Any], item: Any, ds_id: int) -> int:
    if item is None:
        return await _foi_from_location(conn, ds_id)
    ref = v.reference(item, "FeatureOfInterest", "Observation")
    if ref is not None:
        return await require_id(conn, "sta_features_of_interest", ref, "FeatureOfInterest")
    return await feature_of_interest(conn, v.entity_object(item, "FeatureOfInterest"))


#: Each Datastream's newest reading in the batch is its latest (ties: the later one posted wins).
_NEWER = "(d.latest_phenomenon_time IS NULL OR top.phenomenon_time >= d.latest_phenomenon_time)"
_INSERT = (
    "WITH ins AS (INSERT INTO sta_observations (datastream_id, feature_of_interest_id, "
    "phenomenon_time, phenomenon_time_end, result_time, valid_time_start, valid_time_end, "
    "result, result_quality, parameters) SELECT r.datastream_id, r.feature_of_interest_id, "
    "r.phenomenon_time, r.phenomenon_time_end, r.result_time, r.valid_time_start, "
    "r.valid_time_end, r.result, r.result_quality, r.parameters "
    "FROM jsonb_to_recordset(%(rows)s) AS r(datastream_id bigint, feature_of_interest_id bigint, "
    "phenomenon_time timestamptz, phenomenon_time_end timestamptz, result_time timestamptz, "
    "valid_time_start timestamptz, valid_time_end timestamptz, result jsonb, "
    "result_quality jsonb, parameters jsonb) "
    # A reading stored before (same Datastream and phenomenon time: a QoS 1 redelivery, a
    # retried POST) is not stored again (docs/sensors.md).
    "ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING "
    "RETURNING id, datastream_id, phenomenon_time, phenomenon_time_end, result_time, result), "
    # Each batch's extents and newest reading folded into its Datastream's (LEAST and GREATEST
    # skip NULLs): no scan of the Datastream's earlier Observations on the ingest path.
    "agg AS (SELECT datastream_id, min(phenomenon_time) AS pmin, "
    "max(coalesce(phenomenon_time_end, phenomenon_time)) AS pmax, min(result_time) AS rmin, "
    "max(result_time) AS rmax FROM ins GROUP BY datastream_id), "
    "top AS (SELECT DISTINCT ON (datastream_id) datastream_id, id, phenomenon_time, result "
    "FROM ins ORDER BY datastream_id, phenomenon_time DESC, id DESC), "
    "upd AS (UPDATE sta_datastreams d SET "
    "phenomenon_time_start = LEAST(d.phenomenon_time_start, agg.pmin), "
    "phenomenon_time_end = GREATEST(d.phenomenon_time_end, agg.pmax), "
    "result_time_start = LEAST(d.result_time_start, agg.rmin), "
    "result_time_end = GREATEST(d.result_time_end, agg.rmax), "
    "latest_observation_id = CASE WHEN {newer} THEN top.id ELSE d.latest_observation_id END, "
    "latest_phenomenon_time = CASE WHEN {newer} THEN top.phenomenon_time "
    "ELSE d.latest_phenomenon_time END, "
    "latest_result = CASE WHEN {newer} THEN top.result ELSE d.latest_result END "
    "FROM agg JOIN top USING (datastream_id) WHERE d.id = agg.datastream_id) "
    "SELECT id, datastream_id, phenomenon_time FROM ins"
).replace("{newer}", _NEWER)
_STORED = (
    "SELECT o.id, o.datastream_id, o.phenomenon_time FROM sta_observations o "
    "JOIN unnest(%(ds)s::bigint[], %(t)s::timestamptz[]) AS k(ds, t) "
    "ON o.datastream_id = k.ds AND o.phenomenon_time = k.t"
)
#: Who hears of new Observations (the MQTT bridge republishes them: server/sta/mqtt_bridge.py).
CHANNEL = "onemap_sta_observations"
_NOTIFY_IDS = 800  # ids per notification (PostgreSQL's payload is at most 8,000 bytes)


async def _insert(
    conn: AsyncConnection[Any], ds_id: int, rows: list[dict[str, Any]], critical: bool
) -> list[int]:
    stored = await insert_rows(conn, [{**r, "datastream_id": ds_id} for r in rows],
                               critical={ds_id} if critical else set())  # fmt: skip
    return [i for i, _ in stored]


async def insert_rows(
    conn: AsyncConnection[Any], rows: list[dict[str, Any]], *, critical: set[int]
) -> list[tuple[int, bool]]:
    """Store checked rows (``_row``'s columns, ``datastream_id`` and
    ``feature_of_interest_id``) of any Datastreams in one statement — the one writer of
    Observations, for REST and MQTT alike. Per row, in order: its id and whether it is new
    (False: the same Datastream and phenomenon time was stored before; the id is that one's).
    ``critical``: the Datastreams of critical Things (their FeaturesOfInterest turn internal)."""
    cur = await conn.execute(_INSERT, {"rows": Jsonb(rows)})
    new = {(int(r[1]), r[2]): int(r[0]) for r in await cur.fetchall()}
    keys = [(int(r["datastream_id"]), datetime.fromisoformat(r["phenomenon_time"])) for r in rows]
    old: dict[tuple[int, Any], int] = {}
    if len(new) < len(rows):
        missing = [k for k in keys if k not in new]
        cur = await conn.execute(_STORED, {"ds": [k[0] for k in missing],
                                           "t": [k[1] for k in missing]})  # fmt: skip
        old = {(int(r[1]), r[2]): int(r[0]) for r in await cur.fetchall()}
    out: list[tuple[int, bool]] = []
    first: set[tuple[int, Any]] = set()
    for key in keys:
        if key in new and key not in first:
            first.add(key)
            out.append((new[key], True))
        else:  # stored before, or earlier in this batch (the first of them wins)
            out.append((new.get(key) or old[key], False))
    fresh = [i for i, is_new in out if is_new]
    batch: dict[int, list[dict[str, Any]]] = {}
    for row, (_, is_new) in zip(rows, out, strict=True):
        if is_new:  # a reading stored before was evaluated then
            batch.setdefault(int(row["datastream_id"]), []).append(row)
    await sensor_alarms.evaluate(conn, batch)  # rules → alarms → cases, REST and MQTT alike
    if critical:
        await conn.execute(
            "UPDATE sta_features_of_interest SET internal = true WHERE id = ANY(%(f)s) "
            "AND NOT internal",
            {"f": sorted({r["feature_of_interest_id"] for r in rows
                          if r["datastream_id"] in critical})},
        )  # fmt: skip
    if fresh:
        chunks = [json.dumps({"ids": fresh[i : i + _NOTIFY_IDS]})
                  for i in range(0, len(fresh), _NOTIFY_IDS)]  # fmt: skip
        await conn.execute("SELECT pg_notify(%(c)s, p) FROM unnest(%(p)s::text[]) AS p",
                           {"c": CHANNEL, "p": chunks})  # fmt: skip
    return out


async def refresh_datastreams(conn: AsyncConnection[Any], ids: list[int]) -> None:
    """Each Datastream's latest Observation and its time extents, from all its Observations
    (after an Observation is changed or deleted; inserts fold theirs in as they go)."""
    await conn.execute(
        "UPDATE sta_datastreams d SET latest_observation_id = l.id, "
        "latest_phenomenon_time = l.phenomenon_time, latest_result = l.result, "
        "phenomenon_time_start = x.pmin, phenomenon_time_end = x.pmax, "
        "result_time_start = x.rmin, result_time_end = x.rmax "
        "FROM unnest(%(ids)s::bigint[]) AS s(id) "
        "LEFT JOIN LATERAL (SELECT o.id, o.phenomenon_time, o.result FROM sta_observations o "
        "WHERE o.datastream_id = s.id ORDER BY o.phenomenon_time DESC, o.id DESC LIMIT 1) l "
        "ON true LEFT JOIN LATERAL (SELECT min(o.phenomenon_time) AS pmin, "
        "max(coalesce(o.phenomenon_time_end, o.phenomenon_time)) AS pmax, "
        "min(o.result_time) AS rmin, max(o.result_time) AS rmax FROM sta_observations o "
        "WHERE o.datastream_id = s.id) x ON true WHERE d.id = s.id",
        {"ids": ids},
    )


async def create_observations(
    conn: AsyncConnection[Any], principal: Principal, body: Any
) -> list[int]:
    """The dataArray extension: ``[{"Datastream": {"@iot.id": n}, "components": […],
    "dataArray": [[…], …]}, …]``. All rows are checked first; one bad row refuses the
    request (400 naming it) and nothing is stored. The new ids, in the order sent."""
    sensor_writer(principal, "Observations", creating=True)
    if not isinstance(body, list) or not body:
        raise InvalidInput("CreateObservations takes a non-empty JSON array of dataArray sets.")
    if sum(len(s.get("dataArray", [])) for s in body if isinstance(s, dict)) > MAX_BATCH:
        raise InvalidInput(f"CreateObservations takes at most {MAX_BATCH} observations at once.")
    ids: list[int] = []
    try:
        async with conn.transaction():
            for n, item in enumerate(body):
                ids += await _data_array(conn, v.entity_object(item, f"dataArray set {n}"), n)
    except psycopg.errors.InternalError_ as exc:
        raise InvalidInput(f"A geometry could not be read: {exc.diag.message_primary}.") from None
    return ids


async def _data_array(conn: AsyncConnection[Any], item: dict[str, Any], n: int) -> list[int]:
    what = f"dataArray set {n}"
    ds_id = v.reference(item.get("Datastream"), "Datastream", what) if item.get(
        "Datastream") is not None else None  # fmt: skip
    if ds_id is None:
        raise InvalidInput(f'{what} needs a Datastream: {{"@iot.id": …}}.')
    components = item.get("components")
    if not isinstance(components, list) or "result" not in components or not set(
            components) <= set(COMPONENTS) or len(set(components)) != len(components):  # fmt: skip
        raise InvalidInput(
            f"{what}: components must name 'result' and only {', '.join(COMPONENTS)}."
        )
    data = item.get("dataArray")
    if not isinstance(data, list) or not data:
        raise InvalidInput(f"{what}: dataArray must be a non-empty array of arrays.")
    obs_type, critical = await _datastream(conn, ds_id)
    default_foi: int | None = None
    rows = []
    for i, values in enumerate(data):
        row_what = f"{what}, row {i}"
        if not isinstance(values, list) or len(values) != len(components):
            raise InvalidInput(f"{row_what}: needs {len(components)} values, as the components.")
        body = dict(zip(components, values, strict=True))
        row = _row(body, obs_type, row_what)
        foi_id = body.get("FeatureOfInterest/id")
        if foi_id is None:
            default_foi = default_foi or await _foi_from_location(conn, ds_id)
            foi = default_foi
        else:
            foi = await _foi(conn, {"@iot.id": foi_id}, ds_id)
        rows.append({**row, "feature_of_interest_id": foi})
    return await _insert(conn, ds_id, rows, critical)


async def ensure_partitions(conn: AsyncConnection[Any], months_ahead: int = 3) -> int:
    """Make the monthly partitions of ``sta_observations`` up to ``months_ahead`` months ahead
    (the owner's function: the app role creates no table itself); how many were made."""
    cur = await conn.execute("SELECT sta_ensure_observation_partitions(%(n)s)", {"n": months_ahead})
    row = await cur.fetchone()
    return int(row[0]) if row else 0
