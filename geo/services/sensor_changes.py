"""Updates (PATCH) and deletes of SensorThings entities, for MANAGE_SENSORS.

PATCH takes the properties to change (JSON merge: what is absent is kept) and links to other
entities (``{"Thing": {"@iot.id": 2}}``); a Thing given new Locations gets a HistoricalLocation
and its grid cell again. DELETE cascades as the standard says, through the foreign keys; a
Location's HistoricalLocations that are left with no Location go with it, and Datastreams whose
Observations were deleted get their latest value again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo.access import Principal, sensor_writer
from geo.errors import Conflict, InvalidInput, NotFound
from geo.queries.sensors_schema import ENTITY_SETS
from geo.services import sensor_values as v
from geo.services.sensor_observations import refresh_datastreams
from geo.services.sensors import (
    _thing_flags,
    audit_write,
    check_geometry,
    require_id,
    set_locations,
    stamp_cells,
)

type Convert = Callable[[dict[str, Any], str], Any]


def _text(body: dict[str, Any], what: str, name: str) -> Any:
    return v.text(body, name, what)


def _obj(body: dict[str, Any], what: str, name: str) -> Any:
    value = v.json_object(body, name, what)
    return None if value is None else Jsonb(value)


def _geom(body: dict[str, Any], what: str, name: str) -> Any:
    return Jsonb(v.geometry(body.get(name), name, what))


def _plain(body: dict[str, Any], what: str, name: str) -> Any:
    return Jsonb(body.get(name))


def _encoding(body: dict[str, Any], what: str, name: str) -> Any:
    return v.encoding(body, what)


def _observation_type(body: dict[str, Any], what: str, name: str) -> Any:
    return v.observation_type(body, what)


def _unit(body: dict[str, Any], what: str, name: str) -> Any:
    return Jsonb(v.unit(body, what))


#: entity set → {property: (column, converter, SQL template of the value)}
_VALUE = "%({c})s"
_GEOM = "ST_SetSRID(ST_GeomFromGeoJSON(%({c})s::text), 4326)"
_COMMON = {"name": ("name", _text, _VALUE), "description": ("description", _text, _VALUE),
           "properties": ("properties", _obj, _VALUE)}  # fmt: skip
COLUMNS: dict[str, dict[str, tuple[str, Any, str]]] = {
    "Things": dict(_COMMON),
    "Locations": {**_COMMON, "encodingType": ("encoding_type", _encoding, _VALUE),
                  "location": ("geom", _geom, _GEOM)},
    "Sensors": {**_COMMON, "encodingType": ("encoding_type", _text, _VALUE),
                "metadata": ("metadata", _text, _VALUE)},
    "ObservedProperties": {**_COMMON, "definition": ("definition", _text, _VALUE)},
    "Datastreams": {**_COMMON, "observationType": ("observation_type", _observation_type, _VALUE),
                    "unitOfMeasurement": ("unit_of_measurement", _unit, _VALUE)},
    "FeaturesOfInterest": {**_COMMON, "encodingType": ("encoding_type", _encoding, _VALUE),
                           "feature": ("geom", _geom, _GEOM)},
    "Observations": {"result": ("result", _plain, _VALUE),
                     "resultQuality": ("result_quality", _plain, _VALUE),
                     "parameters": ("parameters", _obj, _VALUE)},
}  # fmt: skip
#: Links a PATCH may change: entity set → {navigation: column}
LINKS = {
    "Datastreams": {"Thing": "thing_id", "Sensor": "sensor_id",
                    "ObservedProperty": "observed_property_id"},
    "Observations": {"Datastream": "datastream_id", "FeatureOfInterest": "feature_of_interest_id"},
}  # fmt: skip
_TIMES = {"phenomenonTime", "resultTime", "validTime"}


async def update(
    conn: AsyncConnection[Any], principal: Principal, entity_set: str, entity_id: int, body: Any
) -> None:
    sensor_writer(principal, entity_set, creating=False)
    entity = ENTITY_SETS[entity_set]
    what = entity.singular
    body = v.entity_object(body, what)
    columns, links = COLUMNS.get(entity_set, {}), LINKS.get(entity_set, {})
    allowed = {*columns, *links, *(_TIMES if entity_set == "Observations" else ()),
               *(("Locations",) if entity_set == "Things" else ())}  # fmt: skip
    unknown = sorted(set(body) - allowed - {"@iot.id", "@iot.selfLink"})
    if unknown:
        raise InvalidInput(f"{what}: cannot change {', '.join(unknown)}; may change "
                           f"{', '.join(sorted(allowed))}.")  # fmt: skip
    try:
        async with conn.transaction():
            await _update(conn, entity_set, entity_id, body, columns, links)
            await audit_write(conn, principal, "update", entity_set, entity_id)
    except psycopg.errors.InternalError_ as exc:
        raise InvalidInput(f"A geometry could not be read: {exc.diag.message_primary}.") from None
    except psycopg.errors.UniqueViolation:  # one Observation per Datastream and time (0023)
        raise Conflict(
            f"{what}: its Datastream has an Observation at that phenomenonTime "
            "already; one reading per Datastream and time."
        ) from None


async def _update(
    conn: AsyncConnection[Any],
    entity_set: str,
    entity_id: int,
    body: dict[str, Any],
    columns: dict[str, tuple[str, Any, str]],
    links: dict[str, str],
) -> None:
    entity = ENTITY_SETS[entity_set]
    await _exists(conn, entity.table, entity_id, entity.singular)
    sets: list[str] = []
    params: dict[str, Any] = {"id": entity_id}
    for name, (column, convert, template) in columns.items():
        if name in body:
            params[column] = convert(body, entity.singular, name)
            sets.append(f"{column} = {template.format(c=column)}")
    for name, column in links.items():
        if name in body:
            target = ENTITY_SETS[entity.navs[name].target]
            ref = v.reference(body[name], name, entity.singular)
            if ref is None:
                raise InvalidInput(f'{entity.singular}: link {name} by {{"@iot.id": …}}.')
            params[column] = await require_id(conn, target.table, ref, name)
            sets.append(f"{column} = %({column})s")
    if entity_set == "Observations":
        sets += _observation_times(body, params)
    if entity_set == "Things" and "properties" in body:
        critical, facility = _thing_flags(body.get("properties"))
        if facility is not None:
            await require_id(conn, "facilities", facility, "facility")
        params.update(critical=critical, facility=facility)
        sets += ["critical = %(critical)s", "facility_id = %(facility)s"]
    if sets:
        await conn.execute(
            f"UPDATE {entity.table} SET {', '.join(sets)} WHERE id = %(id)s",  # noqa: S608
            params,
        )
    if any(columns[n][0] == "geom" for n in body if n in columns):
        await check_geometry(conn, entity.table, entity_id, entity.singular)
    await _after(conn, entity_set, entity_id, body)


def _observation_times(body: dict[str, Any], params: dict[str, Any]) -> list[str]:
    sets = []
    if "phenomenonTime" in body:
        start, end = v.time_or_interval(body["phenomenonTime"], "phenomenonTime", "Observation")
        params.update(pt=start, pte=end)
        sets += ["phenomenon_time = %(pt)s", "phenomenon_time_end = %(pte)s"]
    if "resultTime" in body:
        value = body["resultTime"]
        params["rt"] = None if value is None else v.instant(value, "resultTime", "Observation")
        sets.append("result_time = %(rt)s")
    if "validTime" in body:
        start, end = v.time_or_interval(body["validTime"], "validTime", "Observation")
        params.update(vs=start, ve=end)
        sets += ["valid_time_start = %(vs)s", "valid_time_end = %(ve)s"]
    return sets


async def _after(
    conn: AsyncConnection[Any], entity_set: str, entity_id: int, body: dict[str, Any]
) -> None:
    if entity_set == "Things" and (body.get("properties") or {}).get("critical") is True:
        # Made critical: what it observed so far becomes internal too (never the reverse
        # automatically: another critical Thing may observe the same feature).
        await conn.execute(
            "UPDATE sta_features_of_interest SET internal = true WHERE id IN (SELECT DISTINCT "
            "o.feature_of_interest_id FROM sta_observations o JOIN sta_datastreams d ON d.id = "
            "o.datastream_id WHERE d.thing_id = %(id)s)",
            {"id": entity_id},
        )
    if entity_set == "Things" and "Locations" in body:
        ids = []
        for item in v.entity_list(body, "Locations", "Thing"):
            ref = v.reference(item, "Locations", "Thing")
            if ref is None:
                raise InvalidInput('Thing: link Locations by {"@iot.id": …} in a PATCH.')
            ids.append(await require_id(conn, "sta_locations", ref, "Location"))
        await set_locations(conn, entity_id, ids)
    if entity_set == "Locations" and "location" in body:
        cur = await conn.execute("SELECT thing_id FROM sta_thing_locations WHERE location_id = "
                                 "%(id)s", {"id": entity_id})  # fmt: skip
        await stamp_cells(conn, [int(r[0]) for r in await cur.fetchall()])
    if entity_set == "Observations":
        cur = await conn.execute("SELECT DISTINCT datastream_id FROM sta_observations WHERE id = "
                                 "%(id)s", {"id": entity_id})  # fmt: skip
        await refresh_datastreams(conn, [int(r[0]) for r in await cur.fetchall()])
        if "result" in body:
            await _check_result(conn, entity_id)


async def _check_result(conn: AsyncConnection[Any], obs_id: int) -> None:
    cur = await conn.execute(
        "SELECT d.observation_type, o.result FROM sta_observations o JOIN sta_datastreams d "
        "ON d.id = o.datastream_id WHERE o.id = %(id)s", {"id": obs_id})  # fmt: skip
    for obs_type, value in await cur.fetchall():
        v.result(value, obs_type, "Observation")


async def _exists(conn: AsyncConnection[Any], table: str, entity_id: int, what: str) -> None:
    cur = await conn.execute(f"SELECT 1 FROM {table} WHERE id = %(id)s", {"id": entity_id})  # noqa: S608
    if await cur.fetchone() is None:
        raise NotFound(f"No {what} with @iot.id {entity_id}.")


async def delete(
    conn: AsyncConnection[Any], principal: Principal, entity_set: str, entity_id: int
) -> None:
    sensor_writer(principal, entity_set, creating=False)
    entity = ENTITY_SETS[entity_set]
    async with conn.transaction():
        await _exists(conn, entity.table, entity_id, entity.singular)
        streams: list[int] = []
        if entity_set in ("Observations", "FeaturesOfInterest"):
            column = "id" if entity_set == "Observations" else "feature_of_interest_id"
            cur = await conn.execute(f"SELECT DISTINCT datastream_id FROM sta_observations "  # noqa: S608
                                     f"WHERE {column} = %(id)s", {"id": entity_id})  # fmt: skip
            streams = [int(r[0]) for r in await cur.fetchall()]
        things: list[int] = []
        if entity_set == "Locations":
            cur = await conn.execute("SELECT thing_id FROM sta_thing_locations WHERE "
                                     "location_id = %(id)s", {"id": entity_id})  # fmt: skip
            things = [int(r[0]) for r in await cur.fetchall()]
        await conn.execute(f"DELETE FROM {entity.table} WHERE id = %(id)s", {"id": entity_id})  # noqa: S608
        if entity_set == "Locations":
            await conn.execute(
                "DELETE FROM sta_historical_locations h WHERE NOT EXISTS (SELECT 1 FROM "
                "sta_historical_location_locations x WHERE x.historical_location_id = h.id)"
            )
            await stamp_cells(conn, things)
        if streams:
            await refresh_datastreams(conn, streams)
        await audit_write(conn, principal, "delete", entity_set, entity_id)
