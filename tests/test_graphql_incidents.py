"""Plans and incidents through GraphQL over HTTP with real tokens, as a command seat uses them:
the registry, a revision, a level-II flood activation at a waterlogging point (its context
checked against PostGIS), the level raised, tasks moved by their department, the close; who
is refused, and bad input that writes nothing. Data made here is unique to each run (plan
numbers, incidents), since the timeline cannot be deleted."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient
from strawberry import Schema

from geo.access import CITY, Jurisdiction, Principal, Scope
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation, run
from tests.plan_helpers import FLOOD_NUMBER, count, department, unique_number, user_id
from tests.plan_helpers import waterlogging_point as wl_point

PLANS = operation("plans")
INCIDENTS = operation("incidents")
PROTOCOL = "graphql-transport-ws"
Pool = AsyncConnectionPool[AsyncConnection[Any]]
#: EmergencyIncident: the incident, plan, version, users, departments, tasks, timeline, cases,
#: plots (the map view draws them with the rest).
STATEMENTS = 10


class Seat:
    """A GraphQL caller with a real access token."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.token = client, token

    def __call__(self, document: str, name: str, **variables: Any) -> dict[str, Any]:
        r = self.client.post("/graphql", json={
            "query": document, "operationName": name, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture(scope="module")
def seats(client: TestClient, tokens: TokenService, database_url: str) -> dict[str, Seat]:
    with psycopg.connect(database_url) as db:
        ids = {r: user_id(db, r) for r in ("dispatcher", "plan_manager", "citizen", "analyst",
                                           "department_staff")}  # fmt: skip
        fire = department(db, "fire_rescue")
    made = {role: Seat(client, tokens.issue_access(uid, [role])) for role, uid in ids.items()}
    made["fire_staff"] = Seat(client, tokens.issue_access(
        ids["department_staff"], ["department_staff"],
        jurisdiction=Jurisdiction(Scope.DEPARTMENT, (fire,))))  # fmt: skip
    return made


def _plan_input(db: psycopg.Connection[Any], tag: str, note: str = "") -> dict[str, Any]:
    water = str(department(db, "water_authority"))
    one = [{"textZh": f"{tag} 巡查", "textEn": f"{tag} patrol", "departmentId": water}]
    levels = [{"level": lv, "measures": one} for lv in ("I", "III", "IV")]
    levels.append({"level": "II", "measures": [
        {"textZh": f"{tag} 抽排", "textEn": f"{tag} pump", "departmentId": water,
         "resources": [{"category": "SHELTER", "count": 2}], "dueMinutes": 30}]})  # fmt: skip
    return {"titleZh": f"测试预案 {tag}", "titleEn": f"Test plan {tag}", "issuingBody": "测试",
            "validFrom": "2026-01-01", "scopeText": "全市", "levels": levels,
            "changeNote": note}  # fmt: skip


def test_the_registry_and_a_revision(seats: dict[str, Seat], db: psycopg.Connection[Any]) -> None:
    listed = seats["dispatcher"](PLANS, "Plans")
    assert "errors" not in listed, listed
    numbers = {p["number"]: p for p in listed["data"]["plans"]}
    assert numbers[FLOOD_NUMBER]["hazardType"] == "FLOOD"
    assert numbers[FLOOD_NUMBER]["current"]["titleZh"] == "城市防汛应急预案"
    assert {p["hazardType"] for p in listed["data"]["plans"]} >= {
        "FLOOD", "FIRE", "HAZARDOUS_CHEMICALS"}  # fmt: skip

    number = unique_number()
    made = seats["plan_manager"](PLANS, "CreatePlan", number=number, hazardType="FLOOD",
                                 input=_plan_input(db, "v1"))  # fmt: skip
    plan = made["data"]["createPlan"]["plan"]
    assert (plan["number"], plan["currentVersion"]) == (number, 1)
    levels = {lv["level"]: lv["measures"] for lv in plan["current"]["levels"]}
    assert list(levels) == ["I", "II", "III", "IV"]
    assert levels["II"][0]["resources"] == [{"category": "SHELTER", "count": 2}]
    assert levels["II"][0]["department"]["code"] == "water_authority"

    revised = seats["plan_manager"](PLANS, "RevisePlan", id=plan["id"],
                                    input=_plan_input(db, "v2", "改为泵车"))  # fmt: skip
    assert revised["data"]["revisePlan"]["plan"]["currentVersion"] == 2
    read = seats["analyst"](PLANS, "Plan", id=plan["id"])["data"]["plan"]
    assert [v["version"] for v in read["versions"]] == [2, 1]
    assert read["versions"][1]["titleEn"] == "Test plan v1"  # the old version stays readable
    assert read["versions"][0]["changeNote"] == "改为泵车"

    # A dispatcher commands incidents but does not write plans; a citizen reads none.
    refused = seats["dispatcher"](PLANS, "CreatePlan", number=unique_number(),
                                  hazardType="FIRE", input=_plan_input(db, "x"))  # fmt: skip
    assert refused["data"]["createPlan"]["code"] == "FORBIDDEN"
    listed = seats["citizen"](PLANS, "Plans")
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _flood_id(seat: Seat) -> str:
    plans = seat(PLANS, "Plans", hazardType="FLOOD")["data"]["plans"]
    return next(str(p["id"]) for p in plans if p["number"] == FLOOD_NUMBER)


def test_a_level_two_flood_incident_from_activation_to_close(
    seats: dict[str, Seat], db: psycopg.Connection[Any]
) -> None:
    lon, lat = wl_point(db, 2000)
    dispatcher = seats["dispatcher"]
    out = dispatcher(INCIDENTS, "ActivatePlan", planId=_flood_id(dispatcher), level="II",
                     point={"lon": lon, "lat": lat})  # fmt: skip
    assert "errors" not in out, out
    incident = out["data"]["activatePlan"]["incident"]
    assert (incident["level"], incident["status"], incident["reachM"]) == ("II", "ACTIVE", 2000)
    assert incident["number"].startswith("YJ")
    ctx = incident["context"]
    near = db.execute(
        "SELECT id FROM facilities WHERE category IN ('school', 'kindergarten', 'hospital', "
        "'clinic', 'venue', 'elderly_care') AND ST_DWithin(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 2000)", (lon, lat)
    ).fetchall()  # fmt: skip
    assert {int(u["id"]) for u in ctx["affectedUnits"]} == {r[0] for r in near}
    assert ctx["affectedUnits"] and all(u["distanceM"] <= 2000 for u in ctx["affectedUnits"])
    nearest = db.execute(
        "SELECT id FROM cameras WHERE ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%s, "
        "%s), 4326)::geography, 2000) ORDER BY ST_Distance(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), id LIMIT 20", (lon, lat, lon, lat)
    ).fetchall()  # fmt: skip
    assert [int(c["id"]) for c in ctx["cameras"]] == [r[0] for r in nearest]
    assert all(c["streamUrl"] == f"/streams/cameras/{c['id']}/whep" for c in ctx["cameras"])
    assert ctx["population"] == sum(c["population"] for c in ctx["gridCells"]) > 0
    assert ctx["weather"]["provider"] == "synthetic"
    tasks = incident["tasks"]
    assert len(tasks) == 7 and {t["status"] for t in tasks} == {"PENDING"}
    assert {t["department"]["code"] for t in tasks} == {
        "emergency_management", "fire_rescue", "water_authority", "transport", "civil_affairs",
        "health_commission", "power_grid"}  # fmt: skip
    assert [e["type"] for e in incident["timeline"]] == ["ACTIVATED"] + ["TASK_ASSIGNED"] * 7
    assert incident["timeline"][0]["actor"]["displayName"] == "演示dispatcher"

    # The level goes up: level I's seven tasks are added, the change is on the timeline.
    up = dispatcher(INCIDENTS, "ChangeIncidentLevel", id=incident["id"], level="I",
                    reason="积水超过50厘米")["data"]["changeIncidentLevel"]["incident"]  # fmt: skip
    assert up["level"] == "I" and len(up["tasks"]) == 14
    changed = [e for e in up["timeline"] if e["type"] == "LEVEL_CHANGED"]
    assert [(e["fromLevel"], e["level"], e["note"]) for e in changed] == [
        ("II", "I", "积水超过50厘米")]  # fmt: skip

    # The fire brigade's staff take their task; another department's is not theirs.
    fire = next(t for t in tasks if t["department"]["code"] == "fire_rescue")
    other = next(t for t in tasks if t["department"]["code"] == "water_authority")
    moved = seats["fire_staff"](INCIDENTS, "UpdateIncidentTask", id=fire["id"],
                                status="ACCEPTED", note="两车出动")  # fmt: skip
    got = {t["id"]: t for t in moved["data"]["updateIncidentTask"]["incident"]["tasks"]}
    assert (got[fire["id"]]["status"], got[fire["id"]]["note"]) == ("ACCEPTED", "两车出动")
    refused = seats["fire_staff"](INCIDENTS, "UpdateIncidentTask", id=other["id"],
                                  status="ACCEPTED")["data"]["updateIncidentTask"]  # fmt: skip
    assert refused["code"] == "FORBIDDEN"

    closed = dispatcher(INCIDENTS, "CloseIncident", id=incident["id"],
                        summary="积水已退，转移群众86人，无人员伤亡")  # fmt: skip
    final = closed["data"]["closeIncident"]["incident"]
    assert (final["status"], final["summary"]) == ("CLOSED", "积水已退，转移群众86人，无人员伤亡")
    assert final["timeline"][-1]["type"] == "CLOSED"
    again = dispatcher(INCIDENTS, "CloseIncident", id=incident["id"], summary="again")
    assert again["data"]["closeIncident"]["code"] == "ILLEGAL_TRANSITION"
    closed_list = dispatcher(INCIDENTS, "Incidents", status="CLOSED", first=1)["data"]
    assert [n["id"] for n in closed_list["incidents"]["nodes"]] == [incident["id"]]
    active = dispatcher(INCIDENTS, "Incidents", status="ACTIVE", first=1000)["data"]["incidents"]
    assert incident["id"] not in {n["id"] for n in active["nodes"]}
    page = dispatcher(INCIDENTS, "Incidents", first=1)["data"]["incidents"]
    following = dispatcher(INCIDENTS, "Incidents", first=1,
                           after=page["pageInfo"]["endCursor"])["data"]["incidents"]  # fmt: skip
    assert page["pageInfo"]["hasNextPage"] == bool(following["nodes"])
    assert all(int(n["id"]) < int(page["nodes"][0]["id"]) for n in following["nodes"])

    # An analyst reads the stored incident through their own rights: no cameras.
    read = seats["analyst"](INCIDENTS, "EmergencyIncident", id=incident["id"])
    assert "errors" not in read, read
    seen = read["data"]["emergencyIncident"]["context"]
    assert seen["cameras"] == [] and seen["affectedUnits"] == ctx["affectedUnits"]
    assert seats["citizen"](INCIDENTS, "EmergencyIncident", id=incident["id"])["errors"][0][
        "extensions"]["code"] == "FORBIDDEN"  # fmt: skip


def test_refusals_and_bad_input_write_nothing(
    seats: dict[str, Seat], db: psycopg.Connection[Any]
) -> None:
    lon, lat = wl_point(db, 500)
    flood = _flood_id(seats["dispatcher"])
    before = [count(db, t) for t in ("incidents", "incident_tasks", "incident_events")]
    for role in ("citizen", "analyst", "plan_manager"):
        out = seats[role](INCIDENTS, "ActivatePlan", planId=flood, level="II",
                          point={"lon": lon, "lat": lat})  # fmt: skip
        assert out["data"]["activatePlan"]["code"] == "FORBIDDEN", role
    d = seats["dispatcher"]
    cases = [
        ({"planId": "987654321", "level": "II", "point": {"lon": lon, "lat": lat}}, "NOT_FOUND"),
        ({"planId": flood, "level": "II", "point": {"lon": 100.0, "lat": 20.0}}, "OUTSIDE_CITY"),
        ({"planId": flood, "level": "II"}, "INVALID_INPUT"),  # no place
        ({"planId": flood, "level": "II", "point": {"lon": lon, "lat": lat}, "reachM": 1e6},
         "INVALID_INPUT"),
    ]  # fmt: skip
    for variables, code in cases:
        out = d(INCIDENTS, "ActivatePlan", **variables)
        assert out["data"]["activatePlan"]["code"] == code, (variables, out)
        assert out["data"]["activatePlan"]["message"]
    # Level V is no level: the schema refuses it before anything runs.
    out = d(INCIDENTS, "ActivatePlan", planId=flood, level="V", point={"lon": lon, "lat": lat})
    assert "ResponseLevel" in out["errors"][0]["message"] and out.get("data") is None
    db.rollback()  # a fresh snapshot
    after = [count(db, t) for t in ("incidents", "incident_tasks", "incident_events")]
    assert after == before


def test_the_timeline_reaches_a_subscriber(
    client: TestClient, seats: dict[str, Seat], db: psycopg.Connection[Any]
) -> None:
    lon, lat = wl_point(db, 500)
    d = seats["dispatcher"]
    made = d(INCIDENTS, "ActivatePlan", planId=_flood_id(d), level="IV",
             point={"lon": lon, "lat": lat})["data"]["activatePlan"]["incident"]  # fmt: skip
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init",
                      "payload": {"Authorization": f"Bearer {d.token}"}})  # fmt: skip
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": INCIDENTS, "operationName": "IncidentEvents",
            "variables": {"incidentId": made["id"]}}})  # fmt: skip
        time.sleep(0.3)
        d(INCIDENTS, "ChangeIncidentLevel", id=made["id"], level="III", reason="雨势增强")
        first = ws.receive_json()
        assert first["type"] == "next", first
        event = first["payload"]["data"]["incidentEvents"]
        assert (event["type"], event["fromLevel"], event["level"], event["note"]) == (
            "LEVEL_CHANGED", "IV", "III", "雨势增强")  # fmt: skip
        assert event["incidentId"] == made["id"]
        assert ws.receive_json()["payload"]["data"]["incidentEvents"]["type"] == "TASK_ASSIGNED"
        ws.send_json({"id": "1", "type": "complete"})


@pytest.mark.anyio
async def test_an_area_incident_and_the_statements_its_page_takes(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    with psycopg.connect(database_url) as db:
        lon, lat = wl_point(db, 1000)
        dispatcher = Principal(user_id(db, "dispatcher"), frozenset({"dispatcher"}), "t", CITY)
    d = 0.008
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]  # fmt: skip
    area = {"type": "Polygon", "coordinates": [ring]}
    out = await run(schema, pool, INCIDENTS, {"planId": await _flood_plan_id(pool),
                    "level": "III", "area": area}, principal=dispatcher,
                    operation_name="ActivatePlan")  # fmt: skip
    assert out.errors == [], out.errors
    made = out.data["activatePlan"]["incident"]
    assert made["geometry"]["type"] == "Polygon" and made["reachM"] == 0
    assert all(u["distanceM"] == 0 for u in made["context"]["affectedUnits"])
    assert len(made["tasks"]) == 4  # the flood plan's level III
    page = await run(schema, pool, INCIDENTS, {"id": made["id"]}, principal=dispatcher,
                     operation_name="EmergencyIncident")  # fmt: skip
    assert page.errors == []
    assert page.data["emergencyIncident"] == made
    # The incident, its plan, version, users, departments, tasks, timeline, open cases, plots:
    # one statement each, whatever the number of rows.
    assert page.statements <= STATEMENTS, page.statements
    far = {"type": "Polygon", "coordinates": [[[100, 20], [100.1, 20], [100.1, 20.1],
                                               [100, 20.1], [100, 20]]]}  # fmt: skip
    out = await run(schema, pool, INCIDENTS, {"planId": await _flood_plan_id(pool),
                    "level": "III", "area": far}, principal=dispatcher,
                    operation_name="ActivatePlan")  # fmt: skip
    assert out.data["activatePlan"]["code"] == "OUTSIDE_CITY"


async def _flood_plan_id(pool: Pool) -> str:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM plans WHERE number = %s", (FLOOD_NUMBER,))
        row = await cur.fetchone()
    assert row is not None
    return str(row[0])


def test_each_task_lists_the_steps_its_reader_may_take(
    seats: dict[str, Seat], db: psycopg.Connection[Any]
) -> None:
    lon, lat = wl_point(db, 1000)
    d = seats["dispatcher"]
    made = d(INCIDENTS, "ActivatePlan", planId=_flood_id(d), level="II",
             point={"lon": lon, "lat": lat})["data"]["activatePlan"]["incident"]  # fmt: skip
    assert {tuple(t["allowedActions"]) for t in made["tasks"]} == {("ACCEPTED", "REFUSED")}

    def steps(seat: Seat) -> dict[str, list[str]]:
        read = seat(INCIDENTS, "EmergencyIncident", id=made["id"])["data"]["emergencyIncident"]
        return {t["department"]["code"]: t["allowedActions"] for t in read["tasks"]}

    # The fire brigade's staff: their own task only; an analyst reads, moves nothing.
    fire = steps(seats["fire_staff"])
    assert fire.pop("fire_rescue") == ["ACCEPTED", "REFUSED"]
    assert set(map(tuple, fire.values())) == {()}
    assert set(map(tuple, steps(seats["analyst"]).values())) == {()}
    task = next(t["id"] for t in made["tasks"] if t["department"]["code"] == "fire_rescue")
    moved = seats["fire_staff"](INCIDENTS, "UpdateIncidentTask", id=task, status="ACCEPTED")
    got = moved["data"]["updateIncidentTask"]["incident"]["tasks"]
    assert next(t["allowedActions"] for t in got if t["id"] == task) == ["DONE", "REFUSED"]
    # A closed incident offers no step to anyone.
    d(INCIDENTS, "CloseIncident", id=made["id"], summary="测试结束")
    assert set(map(tuple, steps(d).values())) == {()}
