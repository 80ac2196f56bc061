"""Plans and incidents through geo's services, on the seeded city, each test in a transaction
that is rolled back: plan versions, activation with its stored context (checked against
independent PostGIS queries), tasks, level changes, closing, access and bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, OutsideCity
from geo.params import LonLat
from geo.plan_enums import HazardType
from geo.queries import fetch
from geo.queries import incidents as iq
from geo.queries import plans as pq
from geo.services import incidents, plans
from geo.weather import SyntheticWeather
from tests.plan_helpers import (
    FLOOD_NUMBER,
    department,
    department_staff,
    draft,
    principal,
    unique_number,
    waterlogging_point,
)

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 7, 15, 8, 30, tzinfo=UTC)
WEATHER = SyntheticWeather()
Conn = AsyncConnection[Any]


async def _flood_plan(conn: Conn) -> int:
    cur = await conn.execute("SELECT id FROM plans WHERE number = %s", (FLOOD_NUMBER,))
    row = await cur.fetchone()
    assert row is not None, "the demo city's flood plan is seeded"
    return int(row[0])


async def _count(conn: Conn, table: str) -> int:
    cur = await conn.execute(f"SELECT count(*) FROM {table}")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _activate(conn: Conn, who: Any, plan_id: int, level: str, lon: float, lat: float,
                    **kw: Any) -> int:  # fmt: skip
    return await incidents.activate(conn, who, plan_id=plan_id, level=level,
                                    point=LonLat(lon, lat), area=None, reach_m=kw.get("reach_m"),
                                    weather=WEATHER, now=NOW)  # fmt: skip


async def test_a_revision_is_a_new_version_and_activation_uses_it(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    manager, dispatcher = principal(db, "plan_manager"), principal(db, "dispatcher")
    plan_id = await plans.create_plan(
        conn, manager, number=unique_number(), hazard_type=HazardType.FLOOD, draft=draft(db),
        now=NOW)  # fmt: skip
    with pytest.raises(InvalidInput, match="changeNote"):  # a revision says what changed
        await plans.revise_plan(conn, manager, plan_id, draft=draft(db, "v2"), now=NOW)
    version = await plans.revise_plan(
        conn, manager, plan_id, draft=draft(db, "v2", "泵车调整"), now=NOW
    )
    assert version == 2
    [plan] = await fetch(conn, pq.plans(ids=[plan_id]))
    assert (plan.current_version, plan.current.title_en) == (2, "Test flood plan v2")
    v2, v1 = await fetch(conn, pq.versions(plan_id))
    assert (v1.version, v1.title_en, v2.change_note) == (1, "Test flood plan v1", "泵车调整")
    old = await fetch(conn, pq.measures([v1.id], "II"))
    assert [m.text_en for m in old] == ["v1 pump", "v1 rescue"]  # the old version stays

    lon, lat = waterlogging_point(db, 500)
    incident_id = await _activate(conn, dispatcher, plan_id, "II", lon, lat)
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    assert (row.plan_version_id, row.plan_version) == (v2.id, 2)
    tasks = await fetch(conn, iq.tasks([incident_id]))
    assert [t.text_en for t in tasks] == ["v2 pump", "v2 rescue"]


def _near(db: psycopg.Connection[Any], table: str, where: str, lon: float, lat: float,
          reach: float) -> list[int]:  # fmt: skip
    """Ids within ``reach`` metres, nearest first: PostGIS straight, not the code under test."""
    rows = db.execute(
        f"SELECT id FROM {table} WHERE {where} AND ST_DWithin(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s) ORDER BY "
        "ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), id",
        (lon, lat, reach, lon, lat),
    ).fetchall()
    return [int(r[0]) for r in rows]


async def test_activating_the_flood_plan_at_level_two_stores_the_context_and_tasks(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    dispatcher = principal(db, "dispatcher")
    plan_id = await _flood_plan(conn)
    lon, lat = waterlogging_point(db, 2000)
    incident_id = await _activate(conn, dispatcher, plan_id, "II", lon, lat)
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    assert (row.level, row.status, row.reach_m) == ("II", "active", 2000)
    ctx = row.context
    units = _near(db, "facilities", "category IN ('school', 'kindergarten', 'hospital', "
                  "'clinic', 'venue', 'elderly_care')", lon, lat, 2000)  # fmt: skip
    assert units, "the chosen point has affected units around it"
    assert [u["id"] for u in ctx["affected_units"]] == units
    assert all(u["distance_m"] <= 2000 for u in ctx["affected_units"])
    hazards = _near(db, "facilities", "category = 'hazard_source'", lon, lat, 2000)
    assert [h["id"] for h in ctx["hazards"]] == hazards
    cameras = _near(db, "cameras", "TRUE", lon, lat, 2000)[:20]
    assert cameras
    assert [c["id"] for c in ctx["cameras"]] == cameras
    assert all(c["stream_url"] == f"/streams/cameras/{c['id']}/whep" for c in ctx["cameras"])
    cells = db.execute(
        "SELECT id, population FROM grid_cells WHERE ST_DWithin(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 2000)", (lon, lat)
    ).fetchall()  # fmt: skip
    assert {c["id"] for c in ctx["grid_cells"]} == {c[0] for c in cells}
    assert ctx["population"] == sum(c[1] or 0 for c in cells)
    weather = ctx["weather"]
    assert weather["provider"] == "synthetic"
    assert weather == (await WEATHER.current(lon, lat, NOW)).to_json()  # deterministic
    # One task per level-II measure of the current version, for its department.
    measures = db.execute(
        "SELECT m.text_zh, m.department_id FROM plan_measures m JOIN plan_versions v "
        "ON v.id = m.version_id JOIN plans p ON p.id = v.plan_id AND v.version = "
        "p.current_version WHERE p.id = %s AND m.level = 'II' ORDER BY m.position", (plan_id,)
    ).fetchall()  # fmt: skip
    tasks = await fetch(conn, iq.tasks([incident_id]))
    assert [(t.text_zh, t.department_id, t.status) for t in tasks] == [
        (zh, dept, "pending") for zh, dept in measures
    ]
    assert len(tasks) == 7
    events = await fetch(conn, iq.events([incident_id]))
    assert [e.event_type for e in events] == ["activated"] + ["task_assigned"] * 7
    assert {e.actor_id for e in events} == {dispatcher.user_id}
    assert {e.task_id for e in events[1:]} == {t.id for t in tasks}


async def test_level_change_tasks_and_closing(conn: Conn, db: psycopg.Connection[Any]) -> None:
    dispatcher = principal(db, "dispatcher")
    lon, lat = waterlogging_point(db, 500)
    incident_id = await _activate(conn, dispatcher, await _flood_plan(conn), "II", lon, lat)
    before = await fetch(conn, iq.tasks([incident_id]))
    await incidents.change_level(conn, dispatcher, incident_id, level="I",
                                 reason="降雨持续，积水深度超过50厘米", now=NOW)  # fmt: skip
    with pytest.raises(Conflict, match="level I already"):
        await incidents.change_level(conn, dispatcher, incident_id, level="I", reason="x",
                                     now=NOW)  # fmt: skip
    after = await fetch(conn, iq.tasks([incident_id]))
    added = after[len(before) :]
    assert [t.level for t in added] == ["I"] * 7
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    assert row.level == "I"
    events = await fetch(conn, iq.events([incident_id]))
    changed = [e for e in events if e.event_type == "level_changed"]
    assert [(e.from_level, e.level, e.note) for e in changed] == [
        ("II", "I", "降雨持续，积水深度超过50厘米")
    ]

    # A department moves its own tasks; another department's staff may not.
    fire_task = next(t for t in before if t.department_id == department(db, "fire_rescue"))
    water = department_staff(db, "water_authority")
    with pytest.raises(Forbidden):
        await incidents.update_task(conn, water, fire_task.id, status="accepted", note=None,
                                    now=NOW)  # fmt: skip
    fire = department_staff(db, "fire_rescue")
    await incidents.update_task(conn, fire, fire_task.id, status="accepted", note="已出动",
                                now=NOW)  # fmt: skip
    await incidents.update_task(conn, fire, fire_task.id, status="done", note="转移12人",
                                now=NOW)  # fmt: skip
    with pytest.raises(Conflict, match="done"):
        await incidents.update_task(conn, fire, fire_task.id, status="refused", note="x",
                                    now=NOW)  # fmt: skip
    other = next(t for t in before if t.department_id != department(db, "fire_rescue"))
    with pytest.raises(InvalidInput, match="reason"):
        await incidents.update_task(conn, dispatcher, other.id, status="refused", note=None,
                                    now=NOW)  # fmt: skip
    await incidents.update_task(conn, dispatcher, other.id, status="refused",
                                note="力量不足，请求支援", now=NOW)  # fmt: skip
    tasks = {t.id: t for t in await fetch(conn, iq.tasks([incident_id]))}
    assert (tasks[fire_task.id].status, tasks[fire_task.id].note) == ("done", "转移12人")
    assert (tasks[other.id].status, tasks[other.id].reason) == ("refused", "力量不足，请求支援")

    await incidents.close(conn, dispatcher, incident_id, summary="积水退去，转移12人，无伤亡",
                          now=NOW)  # fmt: skip
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    assert (row.status, row.summary, row.closed_by) == (
        "closed", "积水退去，转移12人，无伤亡", dispatcher.user_id)  # fmt: skip
    with pytest.raises(Conflict, match="closed"):
        await incidents.change_level(conn, dispatcher, incident_id, level="II", reason="x",
                                     now=NOW)  # fmt: skip
    events = await fetch(conn, iq.events([incident_id]))
    assert [e.event_type for e in events][-4:] == [
        "task_accepted", "task_done", "task_refused", "closed"]  # fmt: skip
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        async with conn.transaction():
            await conn.execute("UPDATE incident_events SET note = 'x' WHERE incident_id = %s",
                               (incident_id,))  # fmt: skip


async def test_who_may_write_plans_and_command_incidents(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    plan_id = await _flood_plan(conn)
    lon, lat = waterlogging_point(db, 500)
    counts = [await _count(conn, t) for t in ("incidents", "incident_tasks", "incident_events")]
    for role in ("citizen", "analyst", "plan_manager"):
        with pytest.raises(Forbidden, match="command_incidents"):
            await _activate(conn, principal(db, role), plan_id, "II", lon, lat)
    with pytest.raises(Forbidden, match="manage_plans"):
        await plans.create_plan(conn, principal(db, "dispatcher"), number=unique_number(),
                                hazard_type=HazardType.FIRE, draft=draft(db), now=NOW)  # fmt: skip
    after = [await _count(conn, t) for t in ("incidents", "incident_tasks", "incident_events")]
    assert after == counts
    # The plan manager revises the seeded plan; the admin may do both.
    manager = principal(db, "plan_manager")
    assert await plans.revise_plan(conn, manager, plan_id, draft=draft(db, "v2", "修订"),
                                   now=NOW) == 2  # fmt: skip
    assert await _activate(conn, principal(db, "admin"), plan_id, "IV", lon, lat)


async def test_bad_input_is_refused_and_writes_nothing(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    dispatcher = principal(db, "dispatcher")
    plan_id = await _flood_plan(conn)
    lon, lat = waterlogging_point(db, 500)
    counts = [await _count(conn, t) for t in ("incidents", "incident_tasks", "incident_events")]
    with pytest.raises(NotFound, match="No plan with id 987654"):
        await _activate(conn, dispatcher, 987654, "II", lon, lat)
    with pytest.raises(InvalidInput, match="'V' is not a response level"):
        await _activate(conn, dispatcher, plan_id, "V", lon, lat)
    with pytest.raises(OutsideCity):
        await _activate(conn, dispatcher, plan_id, "II", 100.0, 20.0)
    with pytest.raises(InvalidInput, match="reach"):
        await _activate(conn, dispatcher, plan_id, "II", lon, lat, reach_m=-5)
    ring = [[lon, lat], [lon + 0.01, lat + 0.01], [lon + 0.01, lat], [lon, lat + 0.01], [lon, lat]]
    bowtie = json.dumps({"type": "Polygon", "coordinates": [ring]})
    with pytest.raises(InvalidInput, match="not a valid polygon"):
        await incidents.activate(conn, dispatcher, plan_id=plan_id, level="II", point=None,
                                 area=bowtie, reach_m=None, weather=WEATHER, now=NOW)  # fmt: skip
    with pytest.raises(InvalidInput, match="not both"):
        await incidents.activate(conn, dispatcher, plan_id=plan_id, level="II",
                                 point=LonLat(lon, lat), area=bowtie, reach_m=None,
                                 weather=WEATHER, now=NOW)  # fmt: skip
    after = [await _count(conn, t) for t in ("incidents", "incident_tasks", "incident_events")]
    assert after == counts
    manager = principal(db, "plan_manager")
    incomplete = draft(db)
    incomplete.levels.pop(next(iter(incomplete.levels)))
    with pytest.raises(InvalidInput, match="level"):
        await plans.create_plan(
            conn, manager, number=unique_number(), hazard_type=HazardType.FLOOD,
            draft=incomplete, now=NOW)  # fmt: skip
    with pytest.raises(Conflict, match="already registered"):
        await plans.create_plan(conn, manager, number=FLOOD_NUMBER,
                                hazard_type=HazardType.FLOOD, draft=draft(db), now=NOW)  # fmt: skip


async def test_an_area_incident_gathers_what_lies_in_the_area(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    lon, lat = waterlogging_point(db, 1000)
    d = 0.01
    area = (f'{{"type": "Polygon", "coordinates": [[[{lon - d}, {lat - d}], [{lon + d}, '
            f'{lat - d}], [{lon + d}, {lat + d}], [{lon - d}, {lat + d}], [{lon - d}, '
            f'{lat - d}]]]}}')  # fmt: skip
    incident_id = await incidents.activate(
        conn, principal(db, "dispatcher"), plan_id=await _flood_plan(conn), level="III",
        point=None, area=area, reach_m=None, weather=WEATHER, now=NOW)  # fmt: skip
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    inside = db.execute(
        "SELECT id FROM facilities WHERE category IN ('school', 'kindergarten', 'hospital', "
        "'clinic', 'venue', 'elderly_care') AND ST_Intersects(geom, "
        "ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326))", (area,)
    ).fetchall()  # fmt: skip
    assert {u["id"] for u in row.context["affected_units"]} == {r[0] for r in inside}
    assert all(u["distance_m"] == 0 for u in row.context["affected_units"])
    assert '"Polygon"' in row.geometry


async def test_a_plan_out_of_its_validity_or_scope_is_not_activated(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    manager, dispatcher = principal(db, "plan_manager"), principal(db, "dispatcher")
    lon, lat = waterlogging_point(db, 500)
    expired = replace(draft(db), valid_from=date(2020, 1, 1), valid_to=date(2021, 12, 31))
    old = await plans.create_plan(conn, manager, number=unique_number(),
                                  hazard_type=HazardType.FLOOD, draft=expired, now=NOW)  # fmt: skip
    with pytest.raises(Conflict, match="valid from 2020-01-01 to 2021-12-31"):
        await _activate(conn, dispatcher, old, "II", lon, lat)
    # A scope area around the waterlogging point farthest from this one.
    row = db.execute(
        "SELECT ST_X(geom), ST_Y(geom) FROM facilities WHERE category = 'waterlogging_point' "
        "ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) DESC LIMIT 1", (lon, lat)
    ).fetchone()  # fmt: skip
    assert row is not None
    x, y, d = row[0], row[1], 0.002
    ring = [[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]
    far = json.dumps({"type": "Polygon", "coordinates": [ring]})
    scoped = await plans.create_plan(conn, manager, number=unique_number(),
                                     hazard_type=HazardType.FLOOD,
                                     draft=replace(draft(db), scope_area=far), now=NOW)  # fmt: skip
    with pytest.raises(InvalidInput, match=r"outside plan \d+'s scope area"):
        await _activate(conn, dispatcher, scoped, "II", lon, lat)
    assert await _activate(conn, dispatcher, scoped, "II", x, y)
