"""The one writer of SensorThings entities: create with deep insert (a Thing with its Locations
and Datastreams, each with its Sensor and ObservedProperty, inline), in one transaction — a bad
entity anywhere in the body writes nothing.

Observations are written by :mod:`geo.services.sensor_observations`; updates and deletes by
:mod:`geo.services.sensor_changes`. A Thing's grid cell is stamped here from its Location in
PostGIS (the cell containing a point on the Location's surface).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo.access import Principal, sensor_writer
from geo.errors import InvalidInput
from geo.services import audit
from geo.services import sensor_values as v

#: The entity sets a POST creates, and their singular names (for inline entities).
CREATABLE = ("Things", "Locations", "Sensors", "ObservedProperties", "Datastreams",
             "FeaturesOfInterest", "Observations")  # fmt: skip


async def create(
    conn: AsyncConnection[Any], principal: Principal, entity_set: str, body: Any
) -> int:
    """Create an entity of ``entity_set`` (with whatever it holds inline); its id."""
    sensor_writer(principal, entity_set, creating=True)
    if entity_set not in CREATABLE:
        raise InvalidInput(f"{entity_set} cannot be created directly.")
    from geo.services import sensor_observations  # the observation writer needs this module

    writers = {
        "Things": thing, "Locations": location, "Sensors": sensor,
        "ObservedProperties": observed_property, "Datastreams": datastream,
        "FeaturesOfInterest": feature_of_interest,
        "Observations": sensor_observations.observation,
    }  # fmt: skip
    try:
        async with conn.transaction():
            new_id = int(await writers[entity_set](conn, v.entity_object(body, entity_set[:-1])))
            if entity_set != "Observations":
                await audit_write(conn, principal, "create", entity_set, new_id)
            return new_id
    except psycopg.errors.InternalError_ as exc:  # PostGIS: a geometry it cannot read
        raise InvalidInput(f"A geometry could not be read: {exc.diag.message_primary}.") from None


async def _one(conn: AsyncConnection[Any], query: str, params: dict[str, Any]) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return None if row is None else row[0]


async def require_id(conn: AsyncConnection[Any], table: str, entity_id: int, what: str) -> int:
    """``entity_id`` when a row of ``table`` (one of ours) has it; NotFound otherwise."""
    found = await _one(conn, f"SELECT id FROM {table} WHERE id = %(id)s", {"id": entity_id})  # noqa: S608
    if found is None:
        raise InvalidInput(f"There is no {what} with @iot.id {entity_id}.")
    return int(found)


async def thing(conn: AsyncConnection[Any], body: dict[str, Any]) -> int:
    what = "Thing"
    props = v.json_object(body, "properties", what)
    critical, facility = _thing_flags(props)
    if facility is not None:
        await require_id(conn, "facilities", facility, "facility")
    thing_id = await _one(conn, "INSERT INTO sta_things (name, description, properties, critical, "
                          "facility_id) VALUES (%(name)s, %(description)s, %(properties)s, "
                          "%(critical)s, %(facility)s) RETURNING id",
                          {"name": v.text(body, "name", what),
                           "description": v.text(body, "description", what, default=""),
                           "properties": _jsonb(props), "critical": critical,
                           "facility": facility})  # fmt: skip
    locations = [await _location_ref(conn, item) for item in v.entity_list(body, "Locations", what)]
    if locations:
        await set_locations(conn, thing_id, locations)
    for item in v.entity_list(body, "Datastreams", what):
        await datastream(conn, v.entity_object(item, "Datastream"), thing_id=thing_id)
    if body.get("HistoricalLocations"):
        raise InvalidInput("Thing: HistoricalLocations are made by the server, not posted.")
    return int(thing_id)


def _thing_flags(props: dict[str, Any] | None) -> tuple[bool, int | None]:
    """``properties.critical`` (true marks critical infrastructure) and
    ``properties.facilityId`` (a facility of the one map)."""
    props = props or {}
    critical = props.get("critical", False)
    if not isinstance(critical, bool):
        raise InvalidInput("Thing: properties.critical must be true or false.")
    facility = props.get("facilityId")
    if facility is not None and (not isinstance(facility, int) or isinstance(facility, bool)):
        raise InvalidInput("Thing: properties.facilityId must be a facility's integer id.")
    return critical, facility


async def _location_ref(conn: AsyncConnection[Any], item: Any) -> int:
    ref = v.reference(item, "Locations", "Thing")
    if ref is not None:
        return await require_id(conn, "sta_locations", ref, "Location")
    return await location(conn, v.entity_object(item, "Location"))


async def set_locations(conn: AsyncConnection[Any], thing_id: int, locations: list[int]) -> None:
    """Make ``locations`` the Thing's current Locations: a HistoricalLocation records the
    change, and the Thing's grid cell follows its (first) Location."""
    await conn.execute("DELETE FROM sta_thing_locations WHERE thing_id = %(t)s", {"t": thing_id})
    await conn.execute(
        "INSERT INTO sta_thing_locations (thing_id, location_id) SELECT %(t)s, l "
        "FROM unnest(%(ls)s::bigint[]) l ON CONFLICT DO NOTHING",
        {"t": thing_id, "ls": locations},
    )
    await conn.execute(
        "WITH h AS (INSERT INTO sta_historical_locations (thing_id, time) "
        "VALUES (%(t)s, now()) RETURNING id) INSERT INTO sta_historical_location_locations "
        "(historical_location_id, location_id) SELECT h.id, l FROM h, unnest(%(ls)s::bigint[]) l",
        {"t": thing_id, "ls": locations},
    )
    await stamp_cells(conn, [thing_id])


#: Each Thing's grid cell from its first Location (the seed's bulk loader runs it too).
STAMP_CELLS = (
    "UPDATE sta_things t SET grid_cell_id = (SELECT g.id FROM sta_thing_locations tl "
    "JOIN sta_locations l ON l.id = tl.location_id JOIN grid_cells g "
    "ON ST_Intersects(g.geom, ST_PointOnSurface(l.geom)) WHERE tl.thing_id = t.id "
    "ORDER BY tl.location_id, g.id LIMIT 1) WHERE t.id = ANY(%(ids)s::bigint[])"
)


async def stamp_cells(conn: AsyncConnection[Any], thing_ids: list[int]) -> None:
    """Each Thing's grid cell: the cell containing its first Location (none outside the grid)."""
    await conn.execute(STAMP_CELLS, {"ids": thing_ids})


async def location(
    conn: AsyncConnection[Any], body: dict[str, Any], *, things: list[int] | None = None
) -> int:
    what = "Location"
    loc_id = await _one(conn, "INSERT INTO sta_locations (name, description, encoding_type, "
                        "properties, geom) VALUES (%(name)s, %(description)s, %(enc)s, %(props)s, "
                        "ST_SetSRID(ST_GeomFromGeoJSON(%(geom)s::text), 4326)) RETURNING id",
                        {"name": v.text(body, "name", what),
                         "description": v.text(body, "description", what, default=""),
                         "enc": v.encoding(body, what),
                         "props": _jsonb(v.json_object(body, "properties", what)),
                         "geom": Jsonb(v.geometry(body.get("location"), "location",
                                                  what))})  # fmt: skip
    await check_geometry(conn, "sta_locations", loc_id, what)
    for item in v.entity_list(body, "Things", what):
        ref = v.reference(item, "Things", what)
        if ref is None:
            ref = await thing(conn, v.entity_object(item, "Thing"))
        else:
            await require_id(conn, "sta_things", ref, "Thing")
        current = await _current_locations(conn, ref)
        await set_locations(conn, ref, [*current, int(loc_id)])
    return int(loc_id)


async def _current_locations(conn: AsyncConnection[Any], thing_id: int) -> list[int]:
    cur = await conn.execute("SELECT location_id FROM sta_thing_locations WHERE thing_id = %(t)s "
                             "ORDER BY location_id", {"t": thing_id})  # fmt: skip
    return [int(r[0]) for r in await cur.fetchall()]


async def check_geometry(conn: AsyncConnection[Any], table: str, row_id: int, what: str) -> None:
    valid = await _one(conn, f"SELECT ST_IsValid(geom) AND ST_XMin(geom) >= -180 AND "  # noqa: S608
                       f"ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90 "
                       f"FROM {table} WHERE id = %(id)s", {"id": row_id})  # fmt: skip
    if not valid:
        raise InvalidInput(f"{what}: the geometry is not valid lon/lat GeoJSON (EPSG:4326).")


async def sensor(conn: AsyncConnection[Any], body: dict[str, Any]) -> int:
    what = "Sensor"
    metadata = body.get("metadata")
    if not isinstance(metadata, str):
        raise InvalidInput("Sensor needs 'metadata' (a string: a URL or a description).")
    return int(await _one(conn, "INSERT INTO sta_sensors (name, description, encoding_type, "
                          "metadata, properties) VALUES (%(name)s, %(d)s, %(enc)s, %(m)s, %(p)s) "
                          "RETURNING id",
                          {"name": v.text(body, "name", what),
                           "d": v.text(body, "description", what, default=""),
                           "enc": v.text(body, "encodingType", what), "m": metadata,
                           "p": _jsonb(v.json_object(body, "properties", what))}))  # fmt: skip


async def observed_property(conn: AsyncConnection[Any], body: dict[str, Any]) -> int:
    what = "ObservedProperty"
    return int(await _one(conn, "INSERT INTO sta_observed_properties (name, definition, "
                          "description, properties) VALUES (%(name)s, %(def)s, %(d)s, %(p)s) "
                          "RETURNING id",
                          {"name": v.text(body, "name", what),
                           "def": v.text(body, "definition", what),
                           "d": v.text(body, "description", what, default=""),
                           "p": _jsonb(v.json_object(body, "properties", what))}))  # fmt: skip


async def _related(
    conn: AsyncConnection[Any], body: dict[str, Any], name: str, table: str, make: Any
) -> int:
    item = body.get(name)
    if item is None:
        raise InvalidInput(f'Datastream needs a {name} (inline, or {{"@iot.id": …}}).')
    ref = v.reference(item, name, "Datastream")
    if ref is not None:
        return await require_id(conn, table, ref, name)
    return int(await make(conn, v.entity_object(item, name)))


async def datastream(
    conn: AsyncConnection[Any], body: dict[str, Any], *, thing_id: int | None = None
) -> int:
    what = "Datastream"
    if thing_id is None:
        thing_id = await _related(conn, body, "Thing", "sta_things", thing)
    sensor_id = await _related(conn, body, "Sensor", "sta_sensors", sensor)
    property_id = await _related(conn, body, "ObservedProperty", "sta_observed_properties",
                                 observed_property)  # fmt: skip
    ds_id = await _one(conn, "INSERT INTO sta_datastreams (name, description, observation_type, "
                       "unit_of_measurement, properties, thing_id, sensor_id, "
                       "observed_property_id) VALUES (%(name)s, %(d)s, %(ot)s, %(uom)s, %(p)s, "
                       "%(t)s, %(s)s, %(op)s) RETURNING id",
                       {"name": v.text(body, "name", what),
                        "d": v.text(body, "description", what, default=""),
                        "ot": v.observation_type(body, what), "uom": Jsonb(v.unit(body, what)),
                        "p": _jsonb(v.json_object(body, "properties", what)), "t": thing_id,
                        "s": sensor_id, "op": property_id})  # fmt: skip
    from geo.services import sensor_observations

    for item in v.entity_list(body, "Observations", what):
        await sensor_observations.observation(conn, v.entity_object(item, "Observation"),
                                              datastream_id=int(ds_id))  # fmt: skip
    return int(ds_id)


async def feature_of_interest(conn: AsyncConnection[Any], body: dict[str, Any]) -> int:
    what = "FeatureOfInterest"
    foi = await _one(conn, "INSERT INTO sta_features_of_interest (name, description, "
                     "encoding_type, properties, geom) VALUES (%(name)s, %(d)s, %(enc)s, %(p)s, "
                     "ST_SetSRID(ST_GeomFromGeoJSON(%(geom)s::text), 4326)) RETURNING id",
                     {"name": v.text(body, "name", what),
                      "d": v.text(body, "description", what, default=""),
                      "enc": v.encoding(body, what),
                      "p": _jsonb(v.json_object(body, "properties", what)),
                      "geom": Jsonb(v.geometry(body.get("feature"), "feature", what))})  # fmt: skip
    await check_geometry(conn, "sta_features_of_interest", foi, what)
    return int(foi)


async def audit_write(
    conn: AsyncConnection[Any], principal: Principal, action: str, entity_set: str, entity_id: int
) -> None:
    """The chained audit row of a change to a SensorThings entity (last in its transaction).
    Observations posted are not audited one by one: they are the devices' readings, at city
    volume, and carry no personal data."""
    await audit.record(conn, actor_id=principal.user_id, actor_role=principal.audit_role,
                       action=f"sta.{action}", object_type=entity_set, object_id=entity_id,
                       client_addr=None, detail={"surface": "sta"})  # fmt: skip


def _jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)
