"""Reads of incidents: the place check before an activation, incidents with their stored
context, their tasks and their timeline. The surface checks READ_PLANS (geo.access)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.queries import Query


@dataclass(frozen=True, slots=True)
class PlaceCheck:
    valid: bool
    reason: str
    in_city: bool
    lon: float | None  # a point on the place (its surface), for the weather
    lat: float | None


def place_check(geojson: str) -> Query[PlaceCheck]:
    """Whether a GeoJSON geometry is valid and touches the city's grid."""
    statement = sql.SQL(
        "SELECT ST_IsValid(g), ST_IsValidReason(g), "
        "EXISTS (SELECT 1 FROM grid_cells c WHERE ST_Intersects(c.geom, g)), "
        "ST_X(ST_PointOnSurface(g)), ST_Y(ST_PointOnSurface(g)) "
        "FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(g)s), 4326) AS g) x"
    )
    return Query(statement, {"g": geojson}, lambda rows: PlaceCheck(*rows[0]))


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: int
    number: str
    plan_id: int
    plan_version_id: int
    plan_version: int
    level: str
    status: str
    geometry: str  # GeoJSON
    reach_m: float
    title: str
    context: dict[str, Any]
    started_at: datetime
    started_by: int | None
    closed_at: datetime | None
    closed_by: int | None
    summary: str | None


def incidents(
    *, ids: list[int] | None = None, status: str | None = None, limit: int = 100,
    before: int | None = None,
) -> Query[list[IncidentRow]]:  # fmt: skip
    """Incidents, the newest first (keyset on the id: ``before``)."""
    statement = sql.SQL(
        "SELECT i.id, i.number, i.plan_id, i.plan_version_id, v.version, i.level, i.status, "
        "ST_AsGeoJSON(i.geom, 7), i.reach_m, i.title, i.context, i.started_at, i.started_by, "
        "i.closed_at, i.closed_by, i.summary FROM incidents i "
        "JOIN plan_versions v ON v.id = i.plan_version_id "
        "WHERE (%(ids)s::bigint[] IS NULL OR i.id = ANY(%(ids)s)) "
        "AND (%(status)s::text IS NULL OR i.status = %(status)s) "
        "AND (%(before)s::bigint IS NULL OR i.id < %(before)s) "
        "ORDER BY i.id DESC LIMIT %(limit)s"
    )
    params = {"ids": ids, "status": status, "before": before, "limit": limit}
    return Query(statement, params, lambda rows: [IncidentRow(*r) for r in rows])


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    incident_id: int
    measure_id: int
    level: str
    position: int
    text_zh: str
    text_en: str
    department_id: int
    resources: list[dict[str, Any]]
    status: str
    reason: str | None
    note: str | None
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    updated_by: int | None


_TASK = (
    "t.id, t.incident_id, t.measure_id, t.level, t.position, t.text_zh, t.text_en, "
    "t.department_id, t.resources, t.status, t.reason, t.note, t.due_at, t.created_at, "
    "t.updated_at, t.updated_by"
)


def tasks(incident_ids: list[int]) -> Query[list[TaskRow]]:
    """The incidents' tasks in the order they were made (by level as assigned, position)."""
    statement = sql.SQL(
        "SELECT {cols} FROM incident_tasks t WHERE t.incident_id = ANY(%(ids)s) "
        "ORDER BY t.incident_id, t.id"
    ).format(cols=sql.SQL(_TASK))
    return Query(statement, {"ids": incident_ids}, lambda rows: [TaskRow(*r) for r in rows])


def task(task_id: int) -> Query[TaskRow | None]:
    statement = sql.SQL("SELECT {cols} FROM incident_tasks t WHERE t.id = %(id)s").format(
        cols=sql.SQL(_TASK)
    )
    return Query(statement, {"id": task_id}, lambda rows: TaskRow(*rows[0]) if rows else None)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    incident_id: int
    event_type: str
    at: datetime
    actor_id: int | None
    actor_role: str | None
    level: str | None
    from_level: str | None
    task_id: int | None
    note: str | None
    plot_id: int | None = None
    geometry: str | None = None  # a plot event's: the plot's GeoJSON after it
    detail: dict[str, Any] | None = None  # a plot event's: {symbol, label, style, version}


def events(incident_ids: list[int], event_ids: list[int] | None = None) -> Query[list[EventRow]]:
    """The incidents' timelines, oldest first (or the events ``event_ids`` of them)."""
    statement = sql.SQL(
        "SELECT id, incident_id, event_type, at, actor_id, actor_role, level, from_level, "
        "task_id, note, plot_id, ST_AsGeoJSON(geom, 7), detail FROM incident_events "
        "WHERE incident_id = ANY(%(ids)s) "
        "AND (%(events)s::bigint[] IS NULL OR id = ANY(%(events)s)) ORDER BY incident_id, at, id"
    )
    return Query(statement, {"ids": incident_ids, "events": event_ids},
                 lambda rows: [EventRow(*r) for r in rows])  # fmt: skip
