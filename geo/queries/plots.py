"""Reads of shared plotting (指挥标绘): the check of a drawn geometry, an incident's plots as
they stand now. Their states at an earlier moment come from the timeline
(geo.queries.replay_state). The surface checks READ_PLANS (geo.access)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.queries import Query

#: How far beyond the city's districts' extent a plot may reach (an evacuation route may
#: leave the city; a geometry hundreds of kilometres away is a mistake).
CITY_MARGIN_M = 5000.0


@dataclass(frozen=True, slots=True)
class GeometryCheck:
    kind: str  # PostGIS's GeometryType: POINT, LINESTRING, POLYGON, MULTIPOINT …
    valid: bool
    reason: str
    near_city: bool
    geojson: str  # as stored (2D, 7 decimals)


def geometry_check(geojson: str) -> Query[GeometryCheck]:
    """What PostGIS makes of a drawn GeoJSON geometry: its type, validity (with the reason)
    and whether it lies within CITY_MARGIN_M of the city's districts' extent."""
    statement = sql.SQL(
        "WITH g AS (SELECT ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(%(g)s), 4326)) AS g), "
        "city AS (SELECT ST_Buffer(ST_SetSRID(ST_Extent(geom), 4326)::geography, %(m)s) AS a "
        "FROM admin_areas WHERE level = 'district') "
        "SELECT GeometryType(g.g), ST_IsValid(g.g), ST_IsValidReason(g.g), "
        "coalesce(ST_CoveredBy(g.g, city.a::geometry), false), ST_AsGeoJSON(g.g, 7) "
        "FROM g, city"
    )
    return Query(statement, {"g": geojson, "m": CITY_MARGIN_M},
                 lambda rows: GeometryCheck(*rows[0]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlotRow:
    id: int
    incident_id: int
    symbol: str
    label: str
    style: dict[str, Any]
    geometry: str  # GeoJSON
    version: int
    created_at: datetime
    created_by: int | None
    updated_at: datetime
    updated_by: int | None
    removed_at: datetime | None


def plots(
    incident_ids: list[int], *, ids: list[int] | None = None, removed: bool = False
) -> Query[list[PlotRow]]:
    """The incidents' plots (or the plots ``ids``) as they stand, oldest first; the removed
    ones too when ``removed``."""
    statement = sql.SQL(
        "SELECT p.id, p.incident_id, p.symbol, p.label, p.style, ST_AsGeoJSON(p.geom, 7), "
        "p.version, p.created_at, p.created_by, p.updated_at, p.updated_by, p.removed_at "
        "FROM incident_plots p WHERE p.incident_id = ANY(%(incidents)s) "
        "AND (%(ids)s::bigint[] IS NULL OR p.id = ANY(%(ids)s)) "
        "AND (%(removed)s OR p.removed_at IS NULL) ORDER BY p.incident_id, p.id"
    )
    params = {"incidents": incident_ids, "ids": ids, "removed": removed}
    return Query(statement, params, lambda rows: [PlotRow(*r) for r in rows])


def plot(plot_id: int) -> Query[PlotRow | None]:
    """One plot, removed or not."""
    statement = sql.SQL(
        "SELECT p.id, p.incident_id, p.symbol, p.label, p.style, ST_AsGeoJSON(p.geom, 7), "
        "p.version, p.created_at, p.created_by, p.updated_at, p.updated_by, p.removed_at "
        "FROM incident_plots p WHERE p.id = %(id)s"
    )
    return Query(statement, {"id": plot_id}, lambda rows: PlotRow(*rows[0]) if rows else None)
