"""Observations in bulk from many devices at once (the MQTT ingest, server/sta/mqtt_bridge.py):
each reading checked exactly as a REST POST is (``sensor_observations._row``), the good ones
of every Datastream stored in one statement by ``sensor_observations.insert_rows`` — the one
writer — and the bad ones answered one by one, so one device's mistake never holds up the
others' readings (a REST ``CreateObservations`` is all or nothing instead)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from geo.access import Principal, sensor_writer
from geo.errors import InvalidInput
from geo.services import sensor_observations as so


@dataclass(frozen=True, slots=True)
class Reading:
    """What a device sent to ``v1.1/Datastreams(<datastream_id>)/Observations``: the payload,
    parsed as JSON (any JSON value: it is checked here)."""

    datastream_id: int
    body: Any


@dataclass(frozen=True, slots=True)
class Outcome:
    """A reading's fate: stored (``id``; ``new`` False when it had been stored before) or
    refused (``error``, a message for the device's operator)."""

    id: int | None = None
    new: bool = False
    error: str | None = None


#: Each Datastream's type, its Thing's criticality, whether the Thing has a Location and the
#: FeatureOfInterest made from it, if made already (what ``_foi_from_location`` would reuse).
_DATASTREAMS = (
    "SELECT d.id, d.observation_type, t.critical, loc.id IS NOT NULL, foi.id "
    "FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id "
    "LEFT JOIN LATERAL (SELECT l.id, l.name, l.geom FROM sta_thing_locations tl "
    "JOIN sta_locations l ON l.id = tl.location_id WHERE tl.thing_id = d.thing_id "
    "ORDER BY l.id LIMIT 1) loc ON true "
    "LEFT JOIN LATERAL (SELECT f.id FROM sta_features_of_interest f "
    "WHERE f.geom ~= loc.geom AND f.name = loc.name ORDER BY f.id LIMIT 1) foi ON true "
    "WHERE d.id = ANY(%(ids)s)"
)


async def ingest(
    conn: AsyncConnection[Any], principal: Principal, readings: list[Reading]
) -> list[Outcome]:
    """Check every reading, store the good ones in one transaction; an outcome per reading, in
    order. Raises only when the database fails (then nothing is stored)."""
    sensor_writer(principal, "Observations", creating=True)
    async with conn.transaction():
        cur = await conn.execute(_DATASTREAMS, {"ids": sorted({r.datastream_id for r in readings})})
        streams = {int(r[0]): (str(r[1]), bool(r[2]), bool(r[3]), r[4])
                   for r in await cur.fetchall()}  # fmt: skip
        outcomes: list[Outcome | None] = []
        rows: list[dict[str, Any]] = []
        for reading in readings:
            try:
                rows.append(await _checked(conn, reading, streams))
                outcomes.append(None)
            except InvalidInput as exc:
                outcomes.append(Outcome(error=exc.message))
        critical = {ds for ds, s in streams.items() if s[1]}
        stored = iter(await so.insert_rows(conn, rows, critical=critical) if rows else [])
    return [o if o is not None else Outcome(*next(stored)) for o in outcomes]


async def _checked(
    conn: AsyncConnection[Any], reading: Reading, streams: dict[int, tuple[str, bool, bool, Any]]
) -> dict[str, Any]:
    what = f"Observation for Datastream {reading.datastream_id}"
    found = streams.get(reading.datastream_id)
    if found is None:
        raise InvalidInput(f"There is no Datastream with @iot.id {reading.datastream_id}.")
    if not isinstance(reading.body, dict):
        raise InvalidInput(f"{what} must be a JSON object.")
    obs_type, critical, has_location, foi = found
    row = so._row(reading.body, obs_type, what)
    given = reading.body.get("FeatureOfInterest")
    if given is not None:
        try:
            async with conn.transaction():  # a savepoint: a bad geometry spoils nothing else
                foi = await so._foi(conn, given, reading.datastream_id)
        except (psycopg.errors.InternalError_, psycopg.errors.DataError) as exc:
            raise InvalidInput(f"{what}: its FeatureOfInterest could not be read: "
                               f"{exc.diag.message_primary}.") from None  # fmt: skip
    elif foi is None:
        if not has_location:
            raise InvalidInput(f"{what}: no FeatureOfInterest, and its Thing has no Location to "
                               "make one from; send a FeatureOfInterest.")  # fmt: skip
        foi = await so._foi_from_location(conn, reading.datastream_id)
        streams[reading.datastream_id] = (obs_type, critical, has_location, foi)
    return {**row, "datastream_id": reading.datastream_id, "feature_of_interest_id": int(foi)}
