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
    """The place as a geometry, parsed once per statement: a bind parameter inside
    ``ST_GeomFromGeoJSON`` is parsed again for every row it is compared with (NOTES: 240 ms
    instead of 25 ms), while an uncorrelated sub-select is an InitPlan, run once."""
    return sql.SQL("(SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(place)s), 4326))")


def _decode(names: list[str]) -> Any:
    def decode(rows: Rows) -> list[dict[str, Any]]:
        return [dict(zip(names, r, strict=True)) for r in rows]

    return decode


def facilities_within(p: LonLat, r: Radius, categories: list[F]) -> Query[list[dict[str, Any]]]:
    """Facilities of ``categories`` within the radius, nearest first."""
    return facilities_near(Place.around(p, r), categories)


def facilities_near(
    place: Place, categories: list[F], limit: int | None = None
) -> Query[list[dict[str, Any]]]:
    """Facilities of ``categories`` within the place's reach, nearest first (the nearest
    ``limit`` of them when given: :func:`_nearest_within`)."""
    params = {**place.params(), "cats": [c.value for c in categories]}
    if limit is not None:
        statement = _nearest_within("facilities", "f", _FACILITY, "f.category = ANY(%(cats)s)")
        return Query(statement, {**params, "limit": limit}, _decode(FACILITY_NAMES))
    statement = sql.SQL(
        "SELECT {cols}, ST_Distance(f.geom::geography, {pt}::geography) AS distance_m "
        "FROM facilities f WHERE f.category = ANY(%(cats)s) "
        "AND f.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(f.geom::geography, {pt}::geography, %(r)s) ORDER BY distance_m, f.id"
    ).format(cols=sql.SQL(_FACILITY), pt=_point())
    return Query(statement, params, _decode(FACILITY_NAMES))


def _nearest_within(table: str, alias: str, columns: str, where: str) -> sql.Composed:
    """The nearest ``%(limit)s`` rows of ``table`` (alias ``alias``: our constants) meeting
    ``where`` within the place's reach ``%(r)s``, nearest first in metres on the spheroid —
    exactly, without measuring every row in reach (a 2 km reach holds 28,000 open cases of
    the scale-10 city: 0.9 s). The index's nearest-first walk (planar degrees) finds the
    ``limit`` nearest by degrees; the farthest of them, in metres, bounds the answer (fewer
    than ``limit`` rows lie closer), so only the rows within that distance are measured."""
    return sql.SQL("""
WITH p AS (SELECT {pt} AS g),
knn AS MATERIALIZED (
  SELECT ST_Distance({a}.geom::geography, p.g::geography) AS m FROM {table} {a}, p
  WHERE {where} AND {a}.geom && ST_Expand({pt}, %(dx)s, %(dy)s)
  ORDER BY {a}.geom <-> {pt} LIMIT %(limit)s),
lim AS (SELECT least(%(r)s, coalesce(max(m), 0)) AS d FROM knn)
SELECT {columns}, ST_Distance({a}.geom::geography, p.g::geography) AS distance_m
FROM {table} {a}, p, lim
WHERE {where} AND {a}.geom && ST_Expand(p.g,
    lim.d / (111320 * cos(radians(least(greatest(abs(ST_YMin(p.g)), abs(ST_YMax(p.g)))
                                        + lim.d / 110574, 89)))), lim.d / 110574)
  AND ST_DWithin({a}.geom::geography, p.g::geography, lim.d)
ORDER BY distance_m, {a}.id LIMIT %(limit)s""").format(
        pt=_point(), table=sql.Identifier(table), a=sql.Identifier(alias),
        columns=sql.SQL(columns), where=sql.SQL(where),
    )  # fmt: skip


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
    """The nearest ``limit`` open cases within the place's reach, among those ``scope``
    admits (a geo.access case_scope predicate on alias t)."""
    statement = _nearest_within(
        "cases",
        "t",
        "t.id, t.public_id, t.category, t.status, t.priority",
        f"t.status IN ('reported', 'dispatched', 'in_progress', 'resolved') AND ({scope})",
    )
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
