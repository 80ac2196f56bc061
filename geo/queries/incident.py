"""The emergency context around a point, as rows: the seeds' emergency flow."""

from __future__ import annotations

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


def _point() -> sql.SQL:
    return sql.SQL("ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)")


def _params(p: LonLat, r: Radius) -> dict[str, Any]:
    dx, dy = r.degree_margins(p.lat)
    return {"lon": p.lon, "lat": p.lat, "r": r.metres, "dx": dx, "dy": dy}


def _decode(names: list[str]) -> Any:
    def decode(rows: Rows) -> list[dict[str, Any]]:
        return [dict(zip(names, r, strict=True)) for r in rows]

    return decode


def facilities_within(p: LonLat, r: Radius, categories: list[F]) -> Query[list[dict[str, Any]]]:
    """Facilities of ``categories`` within the radius, nearest first."""
    statement = sql.SQL(
        "SELECT {cols}, ST_Distance(f.geom::geography, {pt}::geography) AS distance_m "
        "FROM facilities f WHERE f.category = ANY(%(cats)s) "
        "AND f.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(f.geom::geography, {pt}::geography, %(r)s) ORDER BY distance_m, f.id"
    ).format(cols=sql.SQL(_FACILITY), pt=_point())
    return Query(statement, {**_params(p, r), "cats": [c.value for c in categories]},
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
    params = {"lon": p.lon, "lat": p.lat, "cats": [c.value for c in RESOURCES],
              "n": RESOURCES_PER_CATEGORY}  # fmt: skip
    return Query(statement, params, _decode(FACILITY_NAMES))


CELL_NAMES = ["id", "code", "name", "community_id", "worker_id", "population", "health_risk",
              "geojson"]  # fmt: skip


def cells_hit(p: LonLat, r: Radius) -> Query[list[dict[str, Any]]]:
    statement = sql.SQL(
        "SELECT g.id, g.code, g.name, g.community_id, g.worker_id, g.population, g.health_risk, "
        "ST_AsGeoJSON(g.geom, 7) FROM grid_cells g "
        "WHERE g.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(g.geom::geography, {pt}::geography, %(r)s) "
        "ORDER BY ST_Distance(g.geom::geography, {pt}::geography), g.id"
    ).format(pt=_point())
    return Query(statement, _params(p, r), _decode(CELL_NAMES))


CAMERA_NAMES = ["id", "code", "name", "heading", "fov", "status", "last_seen_at",
                "grid_cell_id", "lon", "lat", "distance_m"]  # fmt: skip


def nearest_cameras(p: LonLat, r: Radius, limit: int, scope: str) -> Query[list[dict[str, Any]]]:
    """The nearest cameras inside the radius among those ``scope`` admits (a geo.access
    camera_scope predicate on alias c: SQL text built from integers)."""
    statement = sql.SQL(
        "SELECT c.id, c.code, c.name, c.heading, c.fov, c.status, c.last_seen_at, "
        "c.grid_cell_id, ST_X(c.geom), ST_Y(c.geom), "
        "ST_Distance(c.geom::geography, {pt}::geography) AS distance_m FROM cameras c "
        "WHERE c.geom && ST_Expand({pt}, %(dx)s, %(dy)s) "
        "AND ST_DWithin(c.geom::geography, {pt}::geography, %(r)s) AND ({scope}) "
        "ORDER BY distance_m, c.id LIMIT %(limit)s"
    ).format(pt=_point(), scope=sql.SQL(scope))
    return Query(statement, {**_params(p, r), "limit": limit}, _decode(CAMERA_NAMES))
