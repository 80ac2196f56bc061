"""An incident's emergency resources by drive time and its lifelines (issue 16 item 3): stored
at activation, checked against the routing of each resource on its own; a road closed on a
lifeline after the activation is avoided by the lifelines found again now (GraphQL
``lifelinesNow``), while the stored ones keep what the command saw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.access import CITY, Principal
from geo.params import LonLat
from geo.queries import fetch
from geo.queries import incidents as iq
from geo.queries.routing import route
from geo.services import incident_routes, incidents
from geo.services import roads as road_service
from geo.weather import SyntheticWeather
from tests.gql_helpers import operation, run
from tests.plan_helpers import FLOOD_NUMBER, principal, user_id, waterlogging_point

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 7, 15, 8, 30, tzinfo=UTC)
Conn = AsyncConnection[Any]
INCIDENTS = operation("incidents")


async def _flood(conn: Conn) -> int:
    cur = await conn.execute("SELECT id FROM plans WHERE number = %s", (FLOOD_NUMBER,))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _activate(conn: Conn, who: Principal, level: str, lon: float, lat: float) -> int:
    return await incidents.activate(conn, who, plan_id=await _flood(conn), level=level,
                                    point=LonLat(lon, lat), area=None, reach_m=None,
                                    weather=SyntheticWeather(), now=NOW)  # fmt: skip


async def test_resources_by_drive_time_and_lifelines_are_stored_and_agree_with_routing(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    dispatcher = principal(db, "dispatcher")
    lon, lat = waterlogging_point(db, 2000)
    site = LonLat(lon, lat)
    incident_id = await _activate(conn, dispatcher, "II", lon, lat)
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    ctx = row.context
    assert ctx["site"] == [lon, lat] and "routing_note" not in ctx
    by_category: dict[str, list[dict[str, Any]]] = {}
    for r in ctx["resources"]:
        by_category.setdefault(r["category"], []).append(r)
    # Every resource category, and what the level-II measures ask for, at least as many.
    wanted = await incident_routes.needs(conn, row.plan_version_id, "II")
    assert set(by_category) >= {"fire_station", "hospital", "police_station", "shelter"}
    assert set(by_category) >= set(wanted)
    for category, found in by_category.items():
        assert len(found) >= min(incident_routes.PER_CATEGORY, len(found))
        assert len(found) >= min(wanted.get(category, 0), len(found))
        seconds = [r["drive_s"] for r in found]
        assert seconds == sorted(seconds), f"{category} fastest first"
    # Each fire station's drive time is the route from it to the site, found on its own.
    for r in by_category["fire_station"]:
        alone = await fetch(conn, route(LonLat(r["lon"], r["lat"]), site))
        assert alone.found and alone.duration_s == pytest.approx(r["drive_s"], abs=0.2)
        assert r["straight_m"] <= r["drive_m"] + 1000  # a road is rarely shorter than the crow
    # A lifeline from the quickest resource of each category, as fast as its drive time.
    lines = {x["from"]["category"]: x for x in ctx["lifelines"]}
    assert set(lines) == set(by_category)
    for category, line in lines.items():
        first = by_category[category][0]
        assert line["from"]["id"] == first["id"] and line["found"]
        assert line["duration_s"] == pytest.approx(first["drive_s"], abs=0.2)
        assert line["geometry"]["type"] == "LineString" and line["road_names_zh"]


async def test_a_closure_on_a_lifeline_is_avoided_now_and_the_stored_one_kept(
    conn: Conn, db: psycopg.Connection[Any]
) -> None:
    dispatcher = principal(db, "dispatcher")
    lon, lat = waterlogging_point(db, 2000)
    incident_id = await _activate(conn, dispatcher, "II", lon, lat)
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    line = next(x for x in row.context["lifelines"] if x["from"]["category"] == "fire_station")
    assert len(line["road_ids"]) >= 3, "a fire station a few roads away"
    closed = line["road_ids"][len(line["road_ids"]) // 2]
    await road_service.close_road(conn, dispatcher, closed, "积水封闭")
    [again] = await incident_routes.lifelines_again(conn, [line["from"]], LonLat(lon, lat))
    assert again["found"] and closed not in again["road_ids"]
    assert again["duration_s"] > line["duration_s"]
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    stored = next(x for x in row.context["lifelines"] if x["from"]["category"] == "fire_station")
    assert stored == line  # what the command saw at activation
    # Raising the level finds them again: the closure is avoided in the stored ones too.
    await incidents.change_level(conn, dispatcher, incident_id, level="I", reason="险情升级",
                                 now=NOW)  # fmt: skip
    [row] = await fetch(conn, iq.incidents(ids=[incident_id]))
    raised = next(x for x in row.context["lifelines"] if x["from"]["category"] == "fire_station")
    assert closed not in raised["road_ids"]


async def test_a_site_away_from_every_road_keeps_its_context_and_says_why(
    conn: Conn,
) -> None:
    out = await incident_routes.gather(conn, LonLat(150.0, -30.0), {})
    assert out["resources"] == [] and out["lifelines"] == []
    assert "from the nearest road" in out["routing_note"]


async def test_graphql_shows_resources_lifelines_and_lifelines_now(
    schema: Any, pool: AsyncConnectionPool[AsyncConnection[Any]], database_url: str
) -> None:
    with psycopg.connect(database_url) as db:
        lon, lat = waterlogging_point(db, 1000)
        dispatcher = Principal(user_id(db, "dispatcher"), frozenset({"dispatcher"}), "t", CITY)
        analyst = Principal(user_id(db, "analyst"), frozenset({"analyst"}), "t", CITY)
        plan = db.execute("SELECT id FROM plans WHERE number = %s", (FLOOD_NUMBER,)).fetchone()
    assert plan is not None
    out = await run(schema, pool, INCIDENTS, {"planId": str(plan[0]), "level": "III",
                    "point": {"lon": lon, "lat": lat}}, principal=dispatcher,
                    operation_name="ActivatePlan")  # fmt: skip
    assert out.errors == [], out.errors
    made = out.data["activatePlan"]["incident"]
    ctx = made["context"]
    assert ctx["routingNote"] is None
    fire = [r for r in ctx["resources"] if r["category"] == "fire_station"]
    assert fire and fire[0]["driveS"] > 0 and fire[0]["nameZh"]
    lines = {x["category"]: x for x in ctx["lifelines"]}
    assert lines["fire_station"]["facilityId"] == fire[0]["id"]
    assert lines["fire_station"]["route"]["geometry"]["type"] == "LineString"
    now = await run(schema, pool, INCIDENTS, {"id": made["id"]}, principal=analyst,
                    operation_name="IncidentLifelinesNow")  # fmt: skip
    assert now.errors == [], now.errors
    again = {x["category"]: x for x in now.data["emergencyIncident"]["context"]["lifelinesNow"]}
    assert set(again) == set(lines)  # nothing closed since: the same ways, as fast
    assert again["fire_station"]["route"]["durationS"] == pytest.approx(
        lines["fire_station"]["route"]["durationS"], abs=0.2
    )
