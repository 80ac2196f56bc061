"""The emergency context around a place, as rows: the seeds' emergency flow.

A place is a point or an area (:class:`Place`: GeoJSON and a reach in metres); the stateless
``incident(lon, lat, radiusM)`` query asks around a point, an activated incident
(geo.services.incident_context) around its point or area.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from geo.enums import FacilityCategory as F
from geo.params import LonLat, Radius
from geo.queries import Query, Rows

AFFECTED = [F.SCHOOL, F.KINDERGARTEN, F.HOSPITAL, F.CLINIC, F.VENUE, F.ELDERLY_CARE]
RESOURCES = [F.SHELTER, F.FIRE_STATION, F.POLICE_STATION, F.HOSPITAL]
RESOURCES_PER_CATEGORY = 5

_FACILITY = (
    "f.id, f.code, f.category, f.name_zh, f.name_en, f.address, f.capacity, f.attributes, "
    "f.grid_cell_id, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat"
)
FACILITY_NAMES = ["id", "code", "category", "name_zh", "name_en", "address", "capacity",
                  "attributes", "grid_cell_id", "lon", "lat", "distance_m"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Place:
    """A point or a (Multi)Polygon as GeoJSON text, and how far around it to look (metres,
    0: the area itself); ``lat`` is a latitude of the place, for the degree margins."""

    geojson: str
    reach_m: float
    lat: float

    @classmethod
    def around(cls, p: LonLat, r: Radius) -> Place:
        return cls(json.dumps({"type": "Point", "coordinates": [p.lon, p.lat]}), r.metres, p.lat)

    def params(self) -> dict[str, Any]:
        dx, dy = Radius(self.reach_m).degree_margins(self.lat) if self.reach_m else (0.0, 0.0)
        return {"place": self.geojson, "r": self.reach_m, "dx": dx, "dy": dy}


def _point() -> sql.SQL:
    return sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON(%(place)s), 4326)")


def _decode(names: list[str]) -> Any:
    def decode(rows: Rows) -> list[dict[str, Any]]:
        return [dict(zip(names, r, strict=True)) for r in rows]

    return decode


def facilities_within(p: LonLat, r: Radius, categories: list[F]) -> Query[list[dict[str, Any]]]:
    """Facilities of ``categories`` within the radius, nearest first."""
    return facilities_near(Place.around(p, r), categories)


def facilities_near(place: Place, categories: list[F]) -> Query[list[dict[str, Any]]]:
    """Facilities of ``categories`` within the place's reach, nearest first."""
    statement = sql.SQL(
        "SELECT {cols}, ST_Distance(f.geom::geography, {pt}::geography) AS distance_m "
        "FROM facilities f WHERE f.category = ANY(%(cats)s) "
        "AND f.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(f.geom::geography, {pt}::geography, %(r)s) ORDER BY distance_m, f.id"
    ).format(cols=sql.SQL(_FACILITY), pt=_point())
    return Query(statement, {**place.params(), "cats": [c.value for c in categories]},
                 _decode(FACILITY_NAMES))  # fmt: skip


def nearest_resources(p: LonLat) -> Query[list[dict[str, Any]]]:
    """The nearest few of each resource category, wherever they are (KNN on the GiST index,
    then metres on the spheroid)."""
    statement = sql.SQL(
        "SELECT n.* FROM unnest(%(cats)s::text[]) AS c(category) CROSS JOIN LATERAL ("
        "  SELECT {cols}, ST_Distance(f.geom::geography, {pt}::geography) AS distance_m"
        "  FROM facilities f WHERE f.category = c.category"
        "  ORDER BY f.geom <-> {pt} LIMIT %(n)s) n ORDER BY n.distance_m, n.id"
    ).format(cols=sql.SQL(_FACILITY), pt=_point())
    params = {**Place.around(p, Radius(1)).params(), "cats": [c.value for c in RESOURCES],
              "n": RESOURCES_PER_CATEGORY}  # fmt: skip
    return Query(statement, params, _decode(FACILITY_NAMES))


CELL_NAMES = ["id", "code", "name", "community_id", "worker_id", "population", "health_risk",
              "geojson"]  # fmt: skip


def cells_hit(p: LonLat, r: Radius) -> Query[list[dict[str, Any]]]:
    return cells_near(Place.around(p, r))


def cells_near(place: Place) -> Query[list[dict[str, Any]]]:
    """The grid cells the place's reach touches, nearest first (their population is the
    crowd there; their workers are the first responders)."""
    statement = sql.SQL(
        "SELECT g.id, g.code, g.name, g.community_id, g.worker_id, g.population, g.health_risk, "
        "ST_AsGeoJSON(g.geom, 7) FROM grid_cells g "
        "WHERE g.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(g.geom::geography, {pt}::geography, %(r)s) "
        "ORDER BY ST_Distance(g.geom::geography, {pt}::geography), g.id"
    ).format(pt=_point())
    return Query(statement, place.params(), _decode(CELL_NAMES))


CAMERA_NAMES = ["id", "code", "name", "heading", "fov", "status", "last_seen_at",
                "grid_cell_id", "lon", "lat", "distance_m"]  # fmt: skip


def nearest_cameras(p: LonLat, r: Radius, limit: int, scope: str) -> Query[list[dict[str, Any]]]:
    """The nearest cameras inside the radius among those ``scope`` admits (a geo.access
    camera_scope predicate on alias c: SQL text built from integers)."""
    return cameras_near(Place.around(p, r), limit, scope)


def cameras_near(place: Place, limit: int, scope: str) -> Query[list[dict[str, Any]]]:
    """The nearest cameras within the place's reach among those ``scope`` admits."""
    statement = sql.SQL(
        "SELECT c.id, c.code, c.name, c.heading, c.fov, c.status, c.last_seen_at, "
        "c.grid_cell_id, ST_X(c.geom), ST_Y(c.geom), "
        "ST_Distance(c.geom::geography, {pt}::geography) AS distance_m FROM cameras c "
        "WHERE c.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(c.geom::geography, {pt}::geography, %(r)s) AND ({scope}) "
        "ORDER BY distance_m, c.id LIMIT %(limit)s"
    ).format(pt=_point(), scope=sql.SQL(scope))
    return Query(statement, {**place.params(), "limit": limit}, _decode(CAMERA_NAMES))


CASE_NAMES = ["id", "public_id", "category", "status", "priority", "distance_m"]


def open_cases_near(place: Place, limit: int, scope: str) -> Query[list[dict[str, Any]]]:
    """Open cases within the place's reach, nearest first, among those ``scope`` admits (a
    geo.access case_scope predicate on alias t)."""
    statement = sql.SQL(
        "SELECT t.id, t.public_id, t.category, t.status, t.priority, "
        "ST_Distance(t.geom::geography, {pt}::geography) AS distance_m FROM cases t "
        "WHERE t.status IN ('reported', 'dispatched', 'in_progress', 'resolved') "
        "AND t.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(t.geom::geography, {pt}::geography, %(r)s) AND ({scope}) "
        "ORDER BY distance_m, t.id LIMIT %(limit)s"
    ).format(pt=_point(), scope=sql.SQL(scope))
    return Query(statement, {**place.params(), "limit": limit}, _decode(CASE_NAMES))


ALARM_NAMES = ["id", "thing_id", "thing", "datastream", "rule", "level", "raised_at",
               "last_value", "case_id", "lon", "lat", "distance_m"]  # fmt: skip


def live_alarms_near(place: Place, limit: int, scope: str) -> Query[list[dict[str, Any]]]:
    """Sensor alarms still open (not cleared) of devices within the place's reach, nearest
    first, among the devices ``scope`` admits (a geo.access sensor_scope predicate on alias
    t, the Things)."""
    statement = sql.SQL(
        "SELECT a.id, a.thing_id, t.name, d.name, r.name, a.level, a.raised_at, a.last_value, "
        "a.case_id, ST_X(t.geom), ST_Y(t.geom), "
        "ST_Distance(t.geom::geography, {pt}::geography) AS distance_m "
        "FROM sensor_alarms a JOIN sta_things t ON t.id = a.thing_id "
        "JOIN sta_datastreams d ON d.id = a.datastream_id JOIN sensor_rules r ON r.id = a.rule_id "
        "WHERE a.cleared_at IS NULL AND t.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(t.geom::geography, {pt}::geography, %(r)s) AND ({scope}) "
        "ORDER BY distance_m, a.id LIMIT %(limit)s"
    ).format(pt=_point(), scope=sql.SQL(scope))
    return Query(statement, {**place.params(), "limit": limit}, _decode(ALARM_NAMES))
