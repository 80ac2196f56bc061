"""Incidents (应急指挥): the only writer of ``incidents``, ``incident_tasks`` and, through
geo.services.incident_events, their timeline.

activate → (change level)* → close. Activating takes a plan's **current** version at a point
(with a reach, by default the level's) or an area and a level: the context is gathered and
stored with the incident (geo.services.incident_context), and one task is made per measure of
the level for its department, due after the measure's time. A level change adds the tasks of
the new level's measures the incident does not have yet. A task goes pending → accepted →
done, or is refused with the reason. Closing needs a summary. COMMAND_INCIDENTS activates,
changes the level and closes (geo.access); a task moves by access.takes_incident_task. Each
step is one transaction, its events appended (with actor and time), audited and NOTIFYed.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import AsyncConnection

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, OutsideCity
from geo.params import MAX_RADIUS_M, LonLat
from geo.plan_enums import (
    LEVEL_REACH_M,
    TASK_STEPS,
    IncidentEventType,
    IncidentTaskStatus,
    ResponseLevel,
)
from geo.queries import fetch
from geo.queries.incident import Place
from geo.queries.incidents import place_check
from geo.services import incident_context, incident_routes
from geo.services.incident_events import NewEvent, append
from geo.services.plan_drafts import check_area
from geo.weather import WeatherProvider

E = IncidentEventType
T = IncidentTaskStatus
CITY_TIME = ZoneInfo("Asia/Shanghai")
MAX_TEXT = 4000


def level_of(value: str) -> ResponseLevel:
    """A response level from its name (I, II, III, IV); InvalidInput otherwise."""
    try:
        return ResponseLevel(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a response level: I, II, III or IV.",
                           field="level") from None  # fmt: skip


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidInput(f"{what} is empty.", field=what)
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {MAX_TEXT}.",
                           field=what)  # fmt: skip
    return value


async def _place(
    conn: AsyncConnection[Any], point: LonLat | None, area: str | None, reach_m: float | None,
    level: ResponseLevel,
) -> tuple[Place, tuple[float, float]]:  # fmt: skip
    """The incident's place and a point on it; InvalidInput/OutsideCity when it is not one."""
    if (point is None) == (area is None):
        raise InvalidInput("Give the incident's place as a point or an area, not both.",
                           field="place")  # fmt: skip
    if point is not None:
        geojson = json.dumps({"type": "Point", "coordinates": [point.lon, point.lat]})
        reach = LEVEL_REACH_M[level] if reach_m is None else reach_m
        if not 0 < reach <= MAX_RADIUS_M:
            raise InvalidInput(f"The reach around a point is more than 0 and at most "
                               f"{MAX_RADIUS_M:g} m, got {reach}.", field="reachM")  # fmt: skip
    else:
        assert area is not None
        geojson = check_area(area)
        reach = 0.0 if reach_m is None else reach_m
        if not 0 <= reach <= MAX_RADIUS_M:
            raise InvalidInput(f"The reach around an area is 0 to {MAX_RADIUS_M:g} m, got "
                               f"{reach}.", field="reachM")  # fmt: skip
    try:
        async with conn.transaction():  # a savepoint in a caller's transaction
            found = await fetch(conn, place_check(geojson))
    except psycopg.errors.InternalError_ as exc:  # PostGIS could not read the GeoJSON
        raise InvalidInput(f"The area is not a geometry PostGIS can read: {exc}.",
                           field="area") from None  # fmt: skip
    if not found.valid:
        raise InvalidInput(f"The area is not a valid polygon: {found.reason}.", field="area")
    if not found.in_city:
        raise OutsideCity("The incident's place is outside the city: no grid cell covers it.")
    assert found.lon is not None
    assert found.lat is not None
    return Place(geojson, reach, found.lat), (found.lon, found.lat)


async def _current_version(conn: AsyncConnection[Any], plan_id: int, place: Place,
                           now: datetime) -> tuple[int, str]:  # fmt: skip
    """The plan's current version (id, title), locked against a revision meanwhile."""
    cur = await conn.execute(
        "SELECT v.id, v.title_zh, v.valid_from, v.valid_to, v.scope_area IS NULL "
        "OR ST_Intersects(v.scope_area, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)) "
        "FROM plans p JOIN plan_versions v ON v.plan_id = p.id "
        "AND v.version = p.current_version WHERE p.id = %s FOR SHARE OF p",
        (place.geojson, plan_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No plan with id {plan_id}.")
    version_id, title, valid_from, valid_to, in_scope = row
    today = now.astimezone(CITY_TIME).date()
    if today < valid_from or (valid_to is not None and today > valid_to):
        raise Conflict(f"Plan {plan_id}'s current version is valid from {valid_from} to "
                       f"{valid_to or '—'}, not on {today}; revise it first.")  # fmt: skip
    if not in_scope:
        raise InvalidInput(f"The place is outside plan {plan_id}'s scope area.", field="place")
    return int(version_id), str(title)


async def _assign(conn: AsyncConnection[Any], incident_id: int, version_id: int,
                  level: ResponseLevel, now: datetime) -> list[NewEvent]:  # fmt: skip
    """Tasks from the level's measures the incident does not have yet; their events."""
    cur = await conn.execute(
        "INSERT INTO incident_tasks (incident_id, measure_id, level, position, text_zh, "
        "text_en, department_id, resources, status, due_at, created_at, updated_at) "
        "SELECT %(incident)s, m.id, m.level, m.position, m.text_zh, m.text_en, m.department_id, "
        "m.resources, 'pending', %(now)s + make_interval(mins => m.due_minutes), %(now)s, "
        "%(now)s FROM plan_measures m WHERE m.version_id = %(version)s AND m.level = %(level)s "
        "ORDER BY m.position ON CONFLICT (incident_id, measure_id) DO NOTHING "
        "RETURNING id, department_id",
        {"incident": incident_id, "version": version_id, "level": level.value, "now": now},
    )
    return [NewEvent(E.TASK_ASSIGNED, level.value, task_id=int(r[0]))
            for r in sorted(await cur.fetchall())]  # fmt: skip


async def activate(
    conn: AsyncConnection[Any], actor: Principal, *, plan_id: int, level: str,
    point: LonLat | None, area: str | None, reach_m: float | None, weather: WeatherProvider,
    now: datetime, title: str | None = None,
) -> int:  # fmt: skip
    """启动预案: the incident's id."""
    access.require(actor, C.COMMAND_INCIDENTS)
    lv = level_of(level)
    if title is not None:
        _text(title, "title")
    place, centre = await _place(conn, point, area, reach_m, lv)
    # Asked before the transaction: a real provider is a network call.
    now_weather = await weather.current(centre[0], centre[1], now)
    async with conn.transaction():
        version_id, plan_title = await _current_version(conn, plan_id, place, now)
        context = await incident_context.gather(conn, actor, place, now_weather, now)
        wanted = await incident_routes.needs(conn, version_id, lv.value)
        context |= await incident_routes.gather(conn, LonLat(*centre), wanted)
        number = f"YJ{now.astimezone(CITY_TIME):%Y%m%d}-{secrets.token_hex(4).upper()}"
        cur = await conn.execute(
            "INSERT INTO incidents (number, plan_id, plan_version_id, level, status, geom, "
            "reach_m, title, context, started_at, started_by) VALUES (%s, %s, %s, %s, 'active', "
            "ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), %s, %s, %s, %s, %s) RETURNING id",
            (number, plan_id, version_id, lv.value, place.geojson, place.reach_m,
             title or f"{plan_title}（{lv.value}级响应）", json.dumps(context), now,
             actor.user_id),
        )  # fmt: skip
        row = await cur.fetchone()
        assert row is not None
        incident_id = int(row[0])
        tasks = await _assign(conn, incident_id, version_id, lv, now)
        await append(conn, incident_id, [NewEvent(E.ACTIVATED, lv.value), *tasks], actor, now)
    return incident_id


async def _lock(conn: AsyncConnection[Any], incident_id: int) -> tuple[str, str, int]:
    """(status, level, plan version id) of an incident, locked."""
    cur = await conn.execute(
        "SELECT status, level, plan_version_id FROM incidents WHERE id = %s FOR UPDATE",
        (incident_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No incident with id {incident_id}.")
    return str(row[0]), str(row[1]), int(row[2])


def _active(incident_id: int, status: str) -> None:
    if status != "active":
        raise Conflict(f"Incident {incident_id} is {status}.", incident_status=status)


async def change_level(
    conn: AsyncConnection[Any], actor: Principal, incident_id: int, *, level: str, reason: str,
    now: datetime,
) -> int:  # fmt: skip
    """Escalate or lower the response: the new level's tasks added, the change recorded."""
    access.require(actor, C.COMMAND_INCIDENTS)
    lv = level_of(level)
    _text(reason, "reason")
    async with conn.transaction():
        status, current, version_id = await _lock(conn, incident_id)
        _active(incident_id, status)
        if current == lv.value:
            raise Conflict(f"Incident {incident_id} is at level {current} already.")
        # The new level's measures may ask for more resources: found again, with the routes
        # on the roads as they are now.
        cur = await conn.execute("SELECT context->'site' FROM incidents WHERE id = %s",
                                 (incident_id,))  # fmt: skip
        site = (await cur.fetchone() or (None,))[0]
        routes: dict[str, Any] = {}
        if site:
            wanted = await incident_routes.needs(conn, version_id, lv.value)
            routes = await incident_routes.gather(conn, LonLat(*site), wanted)
        await conn.execute(
            "UPDATE incidents SET level = %s, context = context || %s::jsonb WHERE id = %s",
            (lv.value, json.dumps(routes), incident_id),
        )
        tasks = await _assign(conn, incident_id, version_id, lv, now)
        changed = NewEvent(E.LEVEL_CHANGED, lv.value, from_level=current, note=reason)
        await append(conn, incident_id, [changed, *tasks], actor, now)
    return incident_id


async def close(
    conn: AsyncConnection[Any], actor: Principal, incident_id: int, *, summary: str,
    now: datetime,
) -> int:  # fmt: skip
    """End the response with its summary (what happened, what was done, the figures)."""
    access.require(actor, C.COMMAND_INCIDENTS)
    _text(summary, "summary")
    async with conn.transaction():
        status, level, _ = await _lock(conn, incident_id)
        _active(incident_id, status)
        await conn.execute(
            "UPDATE incidents SET status = 'closed', closed_at = %s, closed_by = %s, "
            "summary = %s WHERE id = %s",
            (now, actor.user_id, summary, incident_id),
        )
        await append(conn, incident_id, [NewEvent(E.CLOSED, level, note=summary)], actor, now)
    return incident_id


def task_steps(
    actor: Principal, task_status: str, task_department_id: int, incident_status: str
) -> list[IncidentTaskStatus]:
    """The statuses ``actor`` may move a task to now — exactly what :func:`update_task` accepts
    (refusing still needs its reason): none once the incident is closed."""
    if incident_status != "active" or not actor.can(C.READ_PLANS):
        return []
    if not access.takes_incident_task(actor, task_department_id):
        return []
    return [s for s in T if s in TASK_STEPS[T(task_status)]]


_EVENT_OF = {T.ACCEPTED: E.TASK_ACCEPTED, T.DONE: E.TASK_DONE, T.REFUSED: E.TASK_REFUSED}


async def update_task(
    conn: AsyncConnection[Any], actor: Principal, task_id: int, *, status: str,
    note: str | None, now: datetime,
) -> int:  # fmt: skip
    """Move a task: accept, done, or refuse (``note`` is then the reason); its incident's id."""
    access.require(actor, C.READ_PLANS)
    try:
        to = T(status)
    except ValueError:
        raise InvalidInput(f"{status!r} is not a task status.", field="status") from None
    if note is not None:
        _text(note, "note")
    if to is T.REFUSED and not (note and note.strip()):
        raise InvalidInput("Refusing a task needs the reason.", field="note")
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT t.incident_id, t.status, t.department_id, t.level, i.status "
            "FROM incident_tasks t JOIN incidents i ON i.id = t.incident_id WHERE t.id = %s "
            "FOR UPDATE OF t",
            (task_id,),
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"No incident task with id {task_id}.")
        incident_id, current, department, level, incident_status = row
        if not access.takes_incident_task(actor, int(department)):
            raise Forbidden(f"Task {task_id} is department {department}'s: its staff or the "
                            "commanders move it.")  # fmt: skip
        _active(int(incident_id), incident_status)
        if to not in TASK_STEPS[T(current)]:
            raise Conflict(f"Task {task_id} is {current}; it cannot become {to.value}.",
                           task_status=current)  # fmt: skip
        await conn.execute(
            "UPDATE incident_tasks SET status = %s, reason = %s, note = coalesce(%s, note), "
            "updated_at = %s, updated_by = %s WHERE id = %s",
            (to.value, note if to is T.REFUSED else None, None if to is T.REFUSED else note,
             now, actor.user_id, task_id),
        )  # fmt: skip
        event = NewEvent(_EVENT_OF[to], level, task_id=task_id, note=note)
        await append(conn, int(incident_id), [event], actor, now)
    return int(incident_id)
