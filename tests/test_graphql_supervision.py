"""Supervision (督办) through GraphQL over HTTP with real tokens: the warning and overdue lists
of a jurisdiction, supervising and answering, the staff inbox and its live subscription,
escalation after the configured working time overdue, missed supervisions, the sweep's lock —
on constructed cases with known deadlines, the sweep driven at chosen instants."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.access import Jurisdiction, Scope
from geo.services import case_facts
from geo.services.clock_states import SupervisionRules
from geo.services.clocks import ClockRules
from geo.services.sweep import LOCK_KEY, SweepReport, sweep
from geo.services.worktime import WorkingTime
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation

SUP = operation("supervision")
SH = ZoneInfo("Asia/Shanghai")
PROTOCOL = "graphql-transport-ws"
HOURS = WorkingTime()


def sh(day: str, at: str) -> datetime:
    """An instant in Shanghai."""
    return datetime.combine(datetime.fromisoformat(day).date(), clock.fromisoformat(at), SH)


def run_sweep(database_url: str, now: datetime, full: bool | None = None) -> SweepReport:
    async def go() -> SweepReport:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await sweep(conn, now, ClockRules(), SupervisionRules(240), full=full)

    return asyncio.run(go())


@dataclass
class World:
    department: int
    category: str
    district_a: int
    district_b: int
    point_a: tuple[float, float]
    point_b: tuple[float, float]
    tokens: dict[str, str]
    users: dict[str, int]


def _insert_user(conn: psycopg.Connection[Any], name: str, role: str, scope: str,
                 ids: list[int], department: int | None = None) -> int:  # fmt: skip
    row = conn.execute(
        "INSERT INTO users (phone, display_name, roles, department_id, jurisdiction_scope, "
        "jurisdiction_ids) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (f"139{secrets.randbelow(10**8):08d}", name, [role], department, scope, ids),
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def world(database_url: str, tokens: TokenService) -> World:
    """A department of its own (so its inbox holds only these tests' cases), two districts,
    and the staff: supervisors of each district and of the city, a district dispatcher, the
    department's handler, a citizen."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        dept = conn.execute(
            "INSERT INTO departments (code, name_zh, name_en) VALUES (%s, '督办测试局', "
            "'Supervision test bureau') RETURNING id",
            (f"sup_{secrets.token_hex(4)}",),
        ).fetchone()
        assert dept is not None
        category = conn.execute(
            "SELECT category FROM case_stage_limits WHERE stage = 'handle' AND amount = 8 "
            "AND unit = 'working_hours' ORDER BY category LIMIT 1"
        ).fetchone()
        assert category is not None
        # Two districts and a grid cell's inner point in each.
        places = conn.execute(
            "SELECT DISTINCT ON (s.parent_id) s.parent_id, ST_X(ST_PointOnSurface(g.geom)), "
            "ST_Y(ST_PointOnSurface(g.geom)) FROM grid_cells g "
            "JOIN admin_areas c ON c.id = g.community_id JOIN admin_areas s ON s.id = c.parent_id "
            "ORDER BY s.parent_id, g.id LIMIT 2"
        ).fetchall()
        (district_a, *point_a), (district_b, *point_b) = places
        users = {
            "sup_a": _insert_user(conn, "区督查A", "supervisor", "district", [district_a]),
            "sup_b": _insert_user(conn, "区督查B", "supervisor", "district", [district_b]),
            "sup_city": _insert_user(conn, "市督查", "supervisor", "city", []),
            "disp_a": _insert_user(conn, "区调度A", "dispatcher", "district", [district_a]),
            "handler": _insert_user(
                conn, "处置员", "department_staff", "department", [dept[0]], dept[0]
            ),
        }
        citizen = conn.execute("SELECT id FROM users WHERE roles = '{citizen}' LIMIT 1").fetchone()
        assert citizen is not None
    scopes = {
        "sup_a": ("supervisor", Jurisdiction(Scope.DISTRICT, (district_a,))),
        "sup_b": ("supervisor", Jurisdiction(Scope.DISTRICT, (district_b,))),
        "sup_city": ("supervisor", Jurisdiction(Scope.CITY)),
        "disp_a": ("dispatcher", Jurisdiction(Scope.DISTRICT, (district_a,))),
        "handler": ("department_staff", Jurisdiction(Scope.DEPARTMENT, (dept[0],))),
    }
    issued = {name: tokens.issue_access(users[name], [role], jurisdiction=j)
              for name, (role, j) in scopes.items()}  # fmt: skip
    issued["citizen"] = tokens.issue_access(citizen[0], ["citizen"])
    return World(dept[0], str(category[0]), district_a, district_b, tuple(point_a),
                 tuple(point_b), issued, users)  # fmt: skip


def constructed_case(database_url: str, world: World, dispatched: datetime,
                     where: str = "a", updated: str = "now()") -> str:  # fmt: skip
    """A case of the world's department dispatched at ``dispatched``, its timeline written as
    the service would have written it then (8 working hours to handle it); the row written
    ``updated`` (now: as an import would)."""
    lon, lat = world.point_a if where == "a" else world.point_b
    reported = dispatched - timedelta(minutes=30)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO cases (public_id, category, description, status, source, grid_cell_id, "
            "department_id, reported_at, dispatched_at, due_at, updated_at, geom) "
            "SELECT %(pid)s, %(cat)s, '督办测试', 'dispatched', 'grid_worker', g.id, %(dept)s, "
            "%(rep)s, %(dis)s, %(dis)s::timestamptz + interval '8 hours', " + updated + ", "
            "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) "
            "FROM grid_cells g WHERE ST_Intersects(g.geom, "
            "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)) LIMIT 1 RETURNING id",
            {"pid": f"S-{secrets.token_hex(6)}", "cat": world.category, "dept": world.department,
             "rep": reported, "dis": dispatched, "lon": lon, "lat": lat},
        ).fetchone()  # fmt: skip
        assert row is not None
        conn.execute(
            "INSERT INTO case_events (case_id, event_type, from_status, to_status, at, "
            "department_id) VALUES (%(id)s, 'reported', NULL, 'reported', %(rep)s, NULL), "
            "(%(id)s, 'dispatched', 'reported', 'dispatched', %(dis)s, %(dept)s)",
            {"id": row[0], "rep": reported, "dis": dispatched, "dept": world.department},
        )

    async def facts() -> None:  # the evaluation's row, as every case write keeps it
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await case_facts.refresh(conn, [int(row[0])])

    asyncio.run(facts())
    return str(row[0])


def warning_now_dispatch() -> datetime:
    """A dispatch instant whose 8-working-hour clock is 90% spent now (a warning)."""
    now = datetime.now(UTC)
    low, high = now - timedelta(days=40), now
    while high - low > timedelta(seconds=30):
        mid = low + (high - low) / 2
        if HOURS.minutes_between(mid, now) > 432:
            low = mid
        else:
            high = mid
    return high


def call(client: TestClient, token: str | None, name: str, variables: dict[str, Any],
         document: str = SUP) -> dict[str, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/graphql", json={"query": document, "operationName": name,
                                      "variables": variables}, headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def data(client: TestClient, token: str | None, name: str, variables: dict[str, Any]) -> Any:
    body = call(client, token, name, variables)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def error_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    return str(body["errors"][0]["extensions"]["code"])


def listed(client: TestClient, token: str, state: str, world: World) -> list[str]:
    """Every case id of the list, page by page (one a page: the cursor is exercised)."""
    ids: list[str] = []
    after = None
    while True:
        page = data(
            client,
            token,
            "CasesByClock",
            {"state": state, "first": 1, "after": after, "departmentId": str(world.department)},
        )
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


def inbox(client: TestClient, token: str, case_id: str | None = None) -> list[dict[str, Any]]:
    """The caller's notifications (newest first), of one case when given."""
    found: list[dict[str, Any]] = []
    after = None
    for _ in range(50):
        page = data(client, token, "MyNotifications", {"first": 100, "after": after})
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return [n for n in found if case_id is None or n["caseId"] == case_id]


def kinds(notes: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return sorted((n["kind"], n["level"]) for n in notes)


@pytest.fixture(scope="module")
def cases(database_url: str, world: World) -> dict[str, str]:
    """Overdue (district A and B) and warning (district A) cases, swept now."""
    made = {
        "overdue_a": constructed_case(database_url, world, sh("2026-11-02", "09:00")),
        "overdue_b": constructed_case(database_url, world, sh("2026-11-02", "09:00"), "b"),
        "warning_a": constructed_case(database_url, world, warning_now_dispatch()),
    }
    report = run_sweep(database_url, datetime.now(UTC))
    assert report.ran and report.refreshed >= 3
    return made


def test_a_supervisor_lists_the_warning_and_overdue_cases_of_their_district_only(
    client: TestClient, world: World, cases: dict[str, str]
) -> None:
    sup_a, sup_b = world.tokens["sup_a"], world.tokens["sup_b"]
    assert listed(client, sup_a, "OVERDUE", world) == [cases["overdue_a"]]
    assert listed(client, sup_a, "WARNING", world) == [cases["warning_a"]]
    assert listed(client, sup_b, "OVERDUE", world) == [cases["overdue_b"]]
    assert listed(client, sup_b, "WARNING", world) == []
    city = listed(client, world.tokens["sup_city"], "OVERDUE", world)
    assert sorted(city) == sorted([cases["overdue_a"], cases["overdue_b"]])
    page = data(client, sup_a, "CasesByClock", {"state": "OVERDUE", "departmentId":
                                                str(world.department)})  # fmt: skip
    clock_ = page["edges"][0]["node"]["clock"]
    # Monday 2 November 09:00 + 8 working hours.
    assert (clock_["stage"], clock_["state"]) == ("HANDLE", "OVERDUE")
    assert datetime.fromisoformat(clock_["deadline"]) == sh("2026-11-02", "17:00")
    # The department's own staff see their cases in the list too.
    assert sorted(listed(client, world.tokens["handler"], "OVERDUE", world)) == sorted(
        [cases["overdue_a"], cases["overdue_b"]])  # fmt: skip


def test_the_list_refuses_bad_questions(client: TestClient, world: World) -> None:
    on_time = call(client, world.tokens["sup_a"], "CasesByClock", {"state": "ON_TIME"})
    assert error_code(on_time) == "BAD_USER_INPUT"
    citizen = call(client, world.tokens["citizen"], "CasesByClock", {"state": "OVERDUE"})
    assert error_code(citizen) == "FORBIDDEN"
    bad = call(client, world.tokens["sup_a"], "CasesByClock", {"state": "OVERDUE",
                                                              "after": "nonsense"})  # fmt: skip
    assert error_code(bad) == "BAD_USER_INPUT"
    assert error_code(call(client, world.tokens["citizen"], "MyNotifications", {})) == "FORBIDDEN"


def test_supervise_notify_live_and_answer(
    client: TestClient, world: World, cases: dict[str, str]
) -> None:
    sup_a, handler = world.tokens["sup_a"], world.tokens["handler"]
    case_id = cases["overdue_a"]
    deadline = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {handler}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "n", "type": "subscribe", "payload": {
            "query": SUP, "operationName": "Notifications"}})  # fmt: skip
        time.sleep(0.3)
        made = data(client, sup_a, "SuperviseCase", {"id": case_id, "deadline":
                    deadline.isoformat(), "note": "请于两日内处置完毕并回复"})  # fmt: skip
        message = ws.receive_json()
        ws.send_json({"id": "n", "type": "complete"})
    assert made["__typename"] == "SupervisionPayload", made
    supervision = made["supervision"]
    assert (supervision["kind"], supervision["status"], supervision["caseIds"]) == (
        "case", "OPEN", [case_id])  # fmt: skip
    assert supervision["department"]["id"] == str(world.department)
    assert datetime.fromisoformat(supervision["deadline"]) == deadline
    assert message["type"] == "next", message
    live = message["payload"]["data"]["notifications"]
    assert (live["kind"], live["caseId"], live["supervisionId"]) == (
        "SUPERVISED", case_id, supervision["id"])  # fmt: skip
    assert datetime.fromisoformat(live["deadline"]) == deadline

    # The handler's inbox has it too, unread; the other district's supervisor's has nothing.
    mine = [n for n in inbox(client, handler, case_id) if n["kind"] == "SUPERVISED"]
    assert [(n["supervisionId"], n["read"], n["note"]) for n in mine] == [
        (supervision["id"], False, "请于两日内处置完毕并回复")]  # fmt: skip
    assert inbox(client, world.tokens["sup_b"], case_id) == []
    timeline = data(client, sup_a, "CaseTimeline", {"id": case_id})["events"]
    assert ("SUPERVISED", supervision["id"]) in [(e["eventType"], e["supervisionId"])
                                                  for e in timeline]  # fmt: skip

    again = data(client, sup_a, "SuperviseCase", {"id": case_id, "deadline":
                 deadline.isoformat(), "note": "再次督办"})  # fmt: skip
    assert again["code"] == "ILLEGAL_TRANSITION"
    listed_ = data(client, sup_a, "Supervisions", {"statuses": ["OPEN"]})["nodes"]
    assert supervision["id"] in [s["id"] for s in listed_]
    assert supervision["id"] not in [
        s["id"] for s in data(client, world.tokens["sup_b"], "Supervisions", {})["nodes"]
    ]

    answered = data(client, handler, "AnswerSupervision",
                    {"id": supervision["id"], "note": "已派员处置，明日完成"})  # fmt: skip
    assert answered["supervision"]["status"] == "ANSWERED"
    assert answered["supervision"]["answer"] == "已派员处置，明日完成"
    assert answered["supervision"]["answeredBy"]["id"] == str(world.users["handler"])
    twice = data(client, handler, "AnswerSupervision", {"id": supervision["id"], "note": "x"})
    assert twice["code"] == "ILLEGAL_TRANSITION"
    told = [n for n in inbox(client, sup_a) if n["supervisionId"] == supervision["id"]]
    assert [n["kind"] for n in told] == ["SUPERVISION_ANSWERED"]

    # Read through the newest: nothing unread stays.
    newest = inbox(client, handler)[0]["id"]
    assert data(client, handler, "MarkNotificationsRead", {"through": newest}) == 0
    unread = data(client, handler, "MyNotifications", {"unreadOnly": True})
    assert (unread["nodes"], unread["unreadCount"]) == ([], 0)


def test_supervising_refuses_with_typed_errors(
    client: TestClient, world: World, cases: dict[str, str]
) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    sup_a = world.tokens["sup_a"]

    def supervise(token: str | None, case_id: str, deadline: str, note: str = "督办") -> Any:
        variables = {"id": case_id, "deadline": deadline, "note": note}
        return call(client, token, "SuperviseCase", variables)["data"]["superviseCase"]

    in_past = supervise(sup_a, cases["warning_a"], past)
    assert in_past["code"] == "INVALID_INPUT" and "has passed" in in_past["message"]
    assert supervise(sup_a, cases["warning_a"], later, " ")["code"] == "INVALID_INPUT"
    assert supervise(sup_a, "987654321", later)["code"] == "NOT_FOUND"
    assert supervise(sup_a, cases["overdue_b"], later)["code"] == "NOT_FOUND"  # district B
    assert supervise(world.tokens["citizen"], cases["warning_a"], later)["code"] == "FORBIDDEN"
    assert supervise(world.tokens["handler"], cases["warning_a"], later)["code"] == "FORBIDDEN"
    assert supervise(world.tokens["disp_a"], cases["warning_a"], later)["code"] == "FORBIDDEN"
    assert supervise(None, cases["warning_a"], later)["code"] == "UNAUTHENTICATED"
    answer = call(client, world.tokens["sup_b"], "AnswerSupervision", {"id": "1", "note": "x"})
    assert answer["data"]["answerSupervision"]["code"] == "FORBIDDEN"
    unknown = data(client, world.tokens["handler"], "AnswerSupervision",
                   {"id": "987654321", "note": "x"})  # fmt: skip
    assert unknown["code"] == "NOT_FOUND"
    # A department's supervision needs overdue cases of the supervisor's jurisdiction.
    none = data(client, world.tokens["sup_b"], "SuperviseDepartment", {
        "departmentId": "987654", "deadline": later, "note": "督办"})  # fmt: skip
    assert none["code"] == "NOT_FOUND"


def test_supervising_a_department_covers_its_overdue_cases_of_the_district(
    client: TestClient, world: World, cases: dict[str, str]
) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    variables = {"departmentId": str(world.department), "deadline": later, "note": "集中督办"}
    made = data(client, world.tokens["sup_b"], "SuperviseDepartment", variables)
    assert made["__typename"] == "SupervisionPayload", made
    assert (made["supervision"]["kind"], made["supervision"]["caseIds"]) == (
        "department", [cases["overdue_b"]])  # fmt: skip
    told = [n for n in inbox(client, world.tokens["handler"])
            if n["supervisionId"] == made["supervision"]["id"]]  # fmt: skip
    assert [(n["kind"], n["caseId"]) for n in told] == [("SUPERVISED", None)]


def test_a_waiting_request_is_told_to_the_dispatchers_at_once(
    client: TestClient, database_url: str, world: World
) -> None:
    case_id = constructed_case(database_url, world, warning_now_dispatch())
    body = call(client, world.tokens["handler"], "RequestExtension", {
        "id": case_id, "workingMinutes": 240, "reason": "需要采购材料"},
        document=operation("case_clock"))  # fmt: skip
    assert body["data"]["requestExtension"]["__typename"] == "CasePayload", body
    told = inbox(client, world.tokens["disp_a"], case_id)
    assert kinds(told) == [("CLOCK_REQUEST", None)]
    assert told[0]["stage"] == "HANDLE"
    run_sweep(database_url, datetime.now(UTC))
    assert kinds(inbox(client, world.tokens["disp_a"], case_id)) == [("CLOCK_REQUEST", None)]


def test_escalation_after_the_configured_working_time_overdue(
    client: TestClient, database_url: str, world: World
) -> None:
    # Monday 9 November 09:00 + 8 working hours: warns at 15:24 (80%), due at 17:00; 240
    # working minutes later (Tuesday 12:00 lunch counted: 09:00 + 4 h) to the district, 480 to
    # the city (Tuesday 17:00).
    case_id = constructed_case(database_url, world, sh("2026-11-09", "09:00"))
    handler, disp_a = world.tokens["handler"], world.tokens["disp_a"]
    steps = [
        (sh("2026-11-09", "15:00"), []),
        (sh("2026-11-09", "15:30"), [("WARNING", None)]),
        (sh("2026-11-10", "12:59"), [("OVERDUE", None), ("WARNING", None)]),
    ]
    for now, expected in steps:
        run_sweep(database_url, now)
        assert kinds(inbox(client, handler, case_id)) == expected, now
    assert inbox(client, disp_a, case_id) == []

    first = run_sweep(database_url, sh("2026-11-10", "13:00"))
    assert first.escalations >= 1
    again = run_sweep(database_url, sh("2026-11-10", "13:00"))
    assert (again.ran, again.escalations, again.notifications) == (True, 0, 0)
    assert kinds(inbox(client, disp_a, case_id)) == [("ESCALATED", "DISTRICT")]
    assert kinds(inbox(client, world.tokens["sup_a"], case_id)) == [("ESCALATED", "DISTRICT")]
    assert inbox(client, world.tokens["sup_city"], case_id) == []
    assert ("ESCALATED", "DISTRICT") in kinds(inbox(client, handler, case_id))

    run_sweep(database_url, sh("2026-11-10", "16:59"))
    assert inbox(client, world.tokens["sup_city"], case_id) == []
    run_sweep(database_url, sh("2026-11-10", "17:00"))
    assert kinds(inbox(client, world.tokens["sup_city"], case_id)) == [("ESCALATED", "CITY")]
    timeline = data(client, world.tokens["sup_a"], "CaseTimeline", {"id": case_id})["events"]
    assert [e["escalationLevel"] for e in timeline if e["eventType"] == "ESCALATED"] == [
        "DISTRICT", "CITY"]  # fmt: skip
    assert "240" in next(e["note"] for e in timeline if e["eventType"] == "ESCALATED")


def test_an_unanswered_supervision_is_missed_at_its_deadline(
    client: TestClient, database_url: str, world: World
) -> None:
    case_id = constructed_case(database_url, world, warning_now_dispatch())
    deadline = datetime.now(UTC) + timedelta(minutes=5)
    made = data(client, world.tokens["sup_a"], "SuperviseCase", {
        "id": case_id, "deadline": deadline.isoformat(), "note": "五分钟内回复"})  # fmt: skip
    sid = made["supervision"]["id"]
    run_sweep(database_url, deadline - timedelta(seconds=1))
    assert data(client, world.tokens["sup_a"], "Supervisions", {})["nodes"][0]["status"] == "OPEN"
    report = run_sweep(database_url, deadline + timedelta(seconds=1))
    assert report.missed == 1
    told = [n for n in inbox(client, world.tokens["sup_a"]) if n["supervisionId"] == sid]
    assert [n["kind"] for n in told] == ["SUPERVISION_MISSED"]
    late = data(client, world.tokens["handler"], "AnswerSupervision", {"id": sid, "note": "迟复"})
    assert (late["supervision"]["status"], late["supervision"]["answer"]) == ("MISSED", "迟复")
    events = data(client, world.tokens["sup_a"], "CaseTimeline", {"id": case_id})["events"]
    # (The sweep ran a moment in the future: its event sorts after the answer.)
    assert sorted(e["eventType"] for e in events if e["supervisionId"] == sid) == [
        "SUPERVISED", "SUPERVISION_ANSWERED", "SUPERVISION_MISSED"]  # fmt: skip


def test_one_sweep_at_a_time(database_url: str, world: World) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            assert run_sweep(database_url, now) == SweepReport(ran=False)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    assert run_sweep(database_url, now).ran

    case_id = constructed_case(database_url, world, sh("2026-11-02", "09:00"))

    async def both() -> list[SweepReport]:
        async def one() -> SweepReport:
            async with await psycopg.AsyncConnection.connect(database_url,
                                                             autocommit=True) as conn:  # fmt: skip
                return await sweep(conn, now, ClockRules(), SupervisionRules())

        return list(await asyncio.gather(one(), one()))

    reports = asyncio.run(both())
    assert any(r.ran for r in reports)
    with psycopg.connect(database_url) as conn:
        made = conn.execute(
            "SELECT kind, audience, level FROM staff_notifications WHERE case_id = %s "
            "ORDER BY kind, audience, level",
            (int(case_id),),
        ).fetchall()
    # Overdue and escalated to both levels at once: each told once, whichever sweep ran.
    assert made == [
        ("escalated", "city", "city"),
        ("escalated", "department", "city"),
        ("escalated", "district", "district"),
        ("overdue", "department", None),
    ]
    assert run_sweep(database_url, now).notifications == 0


def test_a_case_written_with_an_old_stamp_is_found_by_the_reconciliation(
    client: TestClient, database_url: str, world: World
) -> None:
    """The usual sweep reads the cases changed since the last one; a row written behind its
    back with an old ``updated_at`` waits for the hourly look at every open case."""
    case_id = constructed_case(database_url, world, sh("2026-11-02", "09:00"), updated="%(dis)s")
    assert run_sweep(database_url, datetime.now(UTC)).full is False
    assert case_id not in listed(client, world.tokens["sup_a"], "OVERDUE", world)
    reconciled = run_sweep(database_url, datetime.now(UTC), full=True)
    assert reconciled.full and reconciled.refreshed >= 1
    assert case_id in listed(client, world.tokens["sup_a"], "OVERDUE", world)


def test_the_server_sweeps_in_the_background(database_url: str) -> None:
    """The app's lifespan starts the sweep every ONEMAP_SUPERVISION_SWEEP_SECONDS."""
    from server.app import create_app
    from server.kernel.settings import SupervisionSettings
    from tests.conftest import settings_for

    def last_start() -> datetime | None:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT started_at FROM supervision_sweeps").fetchone()
        return row[0] if row else None

    before = last_start()
    settings = settings_for(database_url).model_copy(
        update={"supervision": SupervisionSettings(sweep_seconds=0.2)}
    )
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 10
        while last_start() == before and time.monotonic() < deadline:
            time.sleep(0.1)
    assert last_start() != before
