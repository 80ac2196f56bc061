"""Collaboration on a case through GraphQL over HTTP, with real tokens: 转办 (transfer), 退单
(return), 主办/协办 (co-handling), 吹哨报到 (a street's joint task) and comments, on cases made
for each test; who may take each step, what each department then sees, the timeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.enums import CaseEventType as E
from geo.services.clocks import TimelineEvent, current_stage
from server.kernel.auth.tokens import TokenService
from tests.case_helpers import post as _post
from tests.case_helpers import staff_token as _token
from tests.gql_helpers import operation

OPS = operation("collaboration")
FLOW = operation("dispatch_flow")
CATEGORY = "road_damage"
Call = Callable[..., Any]


FIELDS = {"CollaborationStart": "startCase", "CollaborationDispatch": "dispatchCase",
          "CollaborationResolve": "resolveCase"}  # fmt: skip
REQUIRED_NOTE = {"finishTask", "commentCase", "resolveCase"}


def _type(field: str, variable: str) -> str:
    if variable == "departmentIds":
        return "[ID!]!"
    if variable == "leadDepartmentId" or (variable == "departmentId" and field == "dispatchCase"):
        return "ID"
    if variable in ("id", "taskId", "departmentId"):
        return "ID!"
    if variable == "note" and field not in REQUIRED_NOTE:
        return "String"
    return "String!"


class World:
    """The people of these tests: a city dispatcher, a street's and a district's dispatcher,
    a citizen, and one handler each of four departments (A leads the category)."""

    def __init__(self, client: TestClient, database_url: str, tokens: TokenService) -> None:
        self.client = client
        self.url = database_url
        with psycopg.connect(database_url) as conn:
            lead = conn.execute("SELECT department_id FROM case_categories WHERE code = %s",
                                (CATEGORY,)).fetchone()  # fmt: skip
            assert lead is not None
            others = [r[0] for r in conn.execute(
                "SELECT DISTINCT department_id FROM users WHERE roles[1] = 'department_staff' "
                "AND department_id <> %s ORDER BY department_id LIMIT 3", (lead[0],))]  # fmt: skip
        assert len(others) == 3
        self.dept = dict(zip("ABCD", [lead[0], *others], strict=True))
        token = lambda where: _token(database_url, tokens, where)  # noqa: E731
        self.handler = {k: token(f"roles[1] = 'department_staff' AND department_id = {d}")
                        for k, d in self.dept.items()}  # fmt: skip
        self.dispatcher = token("phone = '13800000006'")
        self.district = token("phone = '13800000010'")
        self.street = token("phone = '13800000011'")
        self.citizen = token("phone LIKE '1370%' AND roles = '{citizen}'")

    def call(self, token: str | None, name: str, document: str = OPS, **variables: Any) -> Any:
        """The operation's one root field: a CasePayload's case, a CaseError, or a case."""
        body = _post(self.client, token, document, name, variables)
        assert "errors" not in body, body
        value = next(iter(body["data"].values()))
        if isinstance(value, dict) and value.get("__typename") == "CasePayload":
            return value["case"]
        return value

    def error(self, token: str | None, name: str, **variables: Any) -> str:
        """The typed error a step answers, asking for nothing but the error (so a citizen's
        or an anonymous call reaches the step rather than stopping at staff-only fields)."""
        field = FIELDS.get(name, name[0].lower() + name[1:])
        types = {k: _type(field, k) for k in variables}
        document = (
            f"mutation {name}({', '.join(f'${k}: {t}' for k, t in types.items())}) {{ {field}("
            f"{', '.join(f'{k}: ${k}' for k in types)}) {{ __typename ... on CaseError "
            "{ code message } } }"
        )
        body = _post(self.client, token, document, name, variables)
        assert "errors" not in body, body
        result = next(iter(body["data"].values()))
        assert result.get("__typename") == "CaseError", result
        return str(result["code"])

    def case(self, token: str, case_id: str) -> Any:
        return self.call(token, "CaseCollaboration", id=case_id)

    def id(self, key: str) -> str:
        return str(self.dept[key])

    def new_case(self, token: str, point: tuple[float, float] = (121.48, 31.23)) -> str:
        body = _post(self.client, token, FLOW, "CreateCase", {"input": {
            "category": CATEGORY, "lon": point[0], "lat": point[1],
            "description": "协同测试"}})  # fmt: skip
        assert body["data"]["createCase"]["__typename"] == "CasePayload", body
        return str(body["data"]["createCase"]["case"]["id"])

    def dispatched(self, key: str = "A") -> str:
        case_id = self.new_case(self.dispatcher)
        self.call(self.dispatcher, "CollaborationDispatch", id=case_id, departmentId=self.id(key))
        return case_id

    def event_count(self, case_id: str) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT count(*) FROM case_events WHERE case_id = %s",
                               (int(case_id),)).fetchone()  # fmt: skip
        assert row is not None
        return int(row[0])


@pytest.fixture(scope="module")
def world(client: TestClient, database_url: str, tokens: TokenService) -> World:
    return World(client, database_url, tokens)


def _steps(case: dict[str, Any]) -> list[str]:
    return [e["eventType"] for e in case["events"]]


def _dept(value: dict[str, Any] | None) -> str | None:
    return None if value is None else str(value["id"])


def test_a_dispatcher_transfers_a_case_to_the_right_department(world: World) -> None:
    case_id = world.dispatched("A")
    started = world.call(world.handler["A"], "CollaborationStart", id=case_id)
    assert (started["status"], _dept(started["assignee"]) is not None) == ("IN_PROGRESS", True)
    before = world.event_count(case_id)

    # Bad input and the wrong people: typed errors, nothing written.
    transfer = "TransferCase"
    assert world.error(world.dispatcher, transfer, id=case_id, departmentId=world.id("A"),
                       reason="转") == "INVALID_INPUT"  # fmt: skip
    assert world.error(world.dispatcher, transfer, id=case_id, departmentId="999999",
                       reason="转") == "INVALID_INPUT"  # fmt: skip
    assert world.error(world.dispatcher, transfer, id=case_id, departmentId=world.id("B"),
                       reason=" ") == "INVALID_INPUT"  # fmt: skip
    assert world.error(world.handler["A"], transfer, id=case_id, departmentId=world.id("B"),
                       reason="转") == "FORBIDDEN"  # fmt: skip
    assert world.error(world.citizen, transfer, id=case_id, departmentId=world.id("B"),
                       reason="转") == "FORBIDDEN"  # fmt: skip
    assert world.error(None, transfer, id=case_id, departmentId=world.id("B"),
                       reason="转") == "UNAUTHENTICATED"  # fmt: skip
    assert world.event_count(case_id) == before
    assert "TRANSFER" in world.case(world.dispatcher, case_id)["allowedActions"]

    moved = world.call(world.dispatcher, transfer, id=case_id, departmentId=world.id("B"),
                       reason="属燃气管线, 转燃气公司")  # fmt: skip
    assert (moved["status"], _dept(moved["department"]), moved["assignee"]) == (
        "DISPATCHED", world.id("B"), None)  # fmt: skip

    # The old department has lost it; the new one carries it on.
    assert world.error(world.handler["A"], "CollaborationStart", id=case_id) == "NOT_FOUND"
    assert world.error(world.handler["A"], "RequestReturn", id=case_id,
                       reason="x") == "NOT_FOUND"  # fmt: skip
    actions = world.case(world.handler["B"], case_id)["allowedActions"]
    assert {"START", "REQUEST_RETURN", "COMMENT"} <= set(actions)
    assert "TRANSFER" not in actions
    assert world.call(world.handler["B"], "CollaborationStart", id=case_id)["status"] == (
        "IN_PROGRESS")  # fmt: skip

    case = world.case(world.dispatcher, case_id)
    assert _steps(case) == ["REPORTED", "DISPATCHED", "STARTED", "TRANSFERRED", "STARTED"]
    hop = case["events"][3]
    assert (hop["fromStatus"], hop["toStatus"], hop["note"]) == (
        "IN_PROGRESS", "DISPATCHED", "属燃气管线, 转燃气公司")  # fmt: skip
    assert (_dept(hop["fromDepartment"]), _dept(hop["department"])) == (
        world.id("A"), world.id("B"))  # fmt: skip
    # The handling clock started afresh at the transfer (starting work keeps it running).
    assert case["clock"]["stage"] == "HANDLE"
    transferred_at = _transfer_time(world, case_id)
    assert datetime.fromisoformat(case["clock"]["startedAt"]) == transferred_at

    reported = world.new_case(world.dispatcher)
    assert world.error(world.dispatcher, transfer, id=reported, departmentId=world.id("B"),
                       reason="转") == "ILLEGAL_TRANSITION"  # fmt: skip


def _transfer_time(world: World, case_id: str) -> datetime:
    with psycopg.connect(world.url) as conn:
        row = conn.execute("SELECT at FROM case_events WHERE case_id = %s AND event_type = "
                           "'transferred'", (int(case_id),)).fetchone()  # fmt: skip
    assert row is not None
    at: datetime = row[0]
    return at


def test_a_return_refused_then_a_return_accepted(world: World) -> None:
    case_id = world.dispatched("A")
    asked = world.call(world.handler["A"], "RequestReturn", id=case_id, reason="非本部门职责")
    assert asked["pendingReturn"]["reason"] == "非本部门职责"
    assert _dept(asked["pendingReturn"]["department"]) == world.id("A")
    assert "REQUEST_RETURN" not in asked["allowedActions"]
    assert world.error(world.handler["A"], "RequestReturn", id=case_id,
                       reason="再退") == "ILLEGAL_TRANSITION"  # fmt: skip
    assert world.error(world.handler["B"], "RequestReturn", id=case_id,
                       reason="x") == "NOT_FOUND"  # fmt: skip
    assert world.error(world.handler["A"], "AcceptReturn", id=case_id) == "FORBIDDEN"
    assert world.error(world.dispatcher, "RefuseReturn", id=case_id,
                       reason="") == "INVALID_INPUT"  # fmt: skip
    offered = world.case(world.dispatcher, case_id)["allowedActions"]
    assert {"ACCEPT_RETURN", "REFUSE_RETURN"} <= set(offered)

    kept = world.call(world.dispatcher, "RefuseReturn", id=case_id, reason="属道路养护, 请处置")
    assert (kept["status"], _dept(kept["department"]), kept["pendingReturn"]) == (
        "DISPATCHED", world.id("A"), None)  # fmt: skip
    assert world.error(world.dispatcher, "AcceptReturn", id=case_id) == "ILLEGAL_TRANSITION"

    world.call(world.handler["A"], "CollaborationStart", id=case_id)
    world.call(world.handler["A"], "RequestReturn", id=case_id, reason="现场核实为燃气问题")
    back = world.call(world.dispatcher, "AcceptReturn", id=case_id, note="改派")
    assert (back["status"], back["department"], back["assignee"], back["pendingReturn"]) == (
        "REPORTED", None, None, None)  # fmt: skip
    assert back["clock"]["stage"] == "DISPATCH"
    assert world.error(world.handler["A"], "CollaborationStart", id=case_id) == "NOT_FOUND"

    again = world.call(world.dispatcher, "CollaborationDispatch", id=case_id,
                       departmentId=world.id("B"))  # fmt: skip
    assert (again["status"], _dept(again["department"])) == ("DISPATCHED", world.id("B"))
    case = world.case(world.dispatcher, case_id)
    assert _steps(case) == [
        "REPORTED", "DISPATCHED", "RETURN_REQUESTED", "RETURN_REFUSED", "STARTED",
        "RETURN_REQUESTED", "RETURN_ACCEPTED", "DISPATCHED",
    ]  # fmt: skip
    accepted = case["events"][6]
    assert (accepted["fromStatus"], accepted["toStatus"], _dept(accepted["department"])) == (
        "IN_PROGRESS", "REPORTED", world.id("A"))  # fmt: skip


def test_a_lead_department_with_two_co_handling_departments(world: World) -> None:
    case_id = world.dispatched("A")
    h = world.handler
    assert world.error(world.dispatcher, "AddCoHandlers", id=case_id,
                       departmentIds=[world.id("A")]) == "INVALID_INPUT"  # fmt: skip
    assert world.error(world.dispatcher, "AddCoHandlers", id=case_id,
                       departmentIds=["999999"]) == "INVALID_INPUT"  # fmt: skip
    assert world.error(world.dispatcher, "AddCoHandlers", id=case_id,
                       departmentIds=[]) == "INVALID_INPUT"  # fmt: skip
    assert world.error(h["A"], "AddCoHandlers", id=case_id,
                       departmentIds=[world.id("B")]) == "FORBIDDEN"  # fmt: skip
    # D sees nothing of the case before it has a part in it.
    assert world.error(h["D"], "CommentCase", id=case_id, note="?") == "NOT_FOUND"

    named = world.call(world.dispatcher, "AddCoHandlers", id=case_id,
                       departmentIds=[world.id("B"), world.id("C")],
                       note="需燃气、电力配合")  # fmt: skip
    tasks = {_dept(t["department"]): t for t in named["tasks"]}
    assert set(tasks) == {world.id("B"), world.id("C")}
    assert {(t["kind"], t["status"]) for t in tasks.values()} == {("CO_HANDLE", "OPEN")}
    assert world.error(world.dispatcher, "AddCoHandlers", id=case_id,
                       departmentIds=[world.id("B")]) == "INVALID_INPUT"  # fmt: skip
    task_b, task_c = tasks[world.id("B")]["id"], tasks[world.id("C")]["id"]

    # B sees the case and its own task's steps, none of the lead's steps, none of C's.
    seen_by_b = world.case(h["B"], case_id)
    assert "START" not in seen_by_b["allowedActions"]
    assert "REQUEST_RETURN" not in seen_by_b["allowedActions"]
    steps_b = {t["id"]: t["allowedActions"] for t in seen_by_b["tasks"]}
    assert steps_b == {task_b: ["START", "FINISH", "DECLINE"], task_c: []}
    assert world.error(h["B"], "CollaborationStart", id=case_id) == "NOT_FOUND"
    assert world.error(h["B"], "RequestReturn", id=case_id, reason="x") == "NOT_FOUND"
    assert world.error(h["B"], "StartTask", taskId=task_c) == "NOT_FOUND"
    assert world.error(h["D"], "StartTask", taskId=task_b) == "NOT_FOUND"
    assert world.error(world.citizen, "StartTask", taskId=task_b) == "FORBIDDEN"
    # Another department still does not find the case at all.
    unseen = _post(world.client, h["D"], OPS, "CaseCollaboration", {"id": case_id})
    assert {e["extensions"]["code"] for e in unseen["errors"]} == {"NOT_FOUND"}

    world.call(h["A"], "CollaborationStart", id=case_id)
    early = world.call(h["A"], "CollaborationResolve", id=case_id, note="已修复")
    assert early["code"] == "ILLEGAL_TRANSITION"
    assert "open co-handling tasks" in early["message"]
    assert "RESOLVE" not in world.case(h["A"], case_id)["allowedActions"]

    started = world.call(h["B"], "StartTask", taskId=task_b, note="已到场")
    assert {t["id"]: t["status"] for t in started["tasks"]}[task_b] == "IN_PROGRESS"
    assert world.error(h["B"], "StartTask", taskId=task_b) == "ILLEGAL_TRANSITION"
    assert world.error(h["B"], "FinishTask", taskId=task_b, note=" ") == "INVALID_INPUT"
    assert world.error(h["B"], "DeclineTask", taskId=task_b,
                       reason="x") == "ILLEGAL_TRANSITION"  # fmt: skip
    done = world.call(h["B"], "FinishTask", taskId=task_b, note="燃气管线已关阀")
    assert {t["id"]: (t["status"], t["note"]) for t in done["tasks"]}[task_b] == (
        "DONE", "燃气管线已关阀")  # fmt: skip
    declined = world.call(h["C"], "DeclineTask", taskId=task_c, reason="现场无电力设施")
    assert {t["id"]: t["status"] for t in declined["tasks"]}[task_c] == "DECLINED"

    resolved = world.call(h["A"], "CollaborationResolve", id=case_id, note="路面已修复")
    assert resolved["status"] == "RESOLVED"
    assert world.error(h["B"], "FinishTask", taskId=task_b, note="again") == (
        "ILLEGAL_TRANSITION")  # fmt: skip
    # A finished co-handler still reads the case it worked on; D still does not.
    assert world.case(h["B"], case_id)["status"] == "RESOLVED"
    assert "errors" in _post(world.client, h["D"], OPS, "CaseCollaboration", {"id": case_id})

    case = world.case(world.dispatcher, case_id)
    assert _steps(case) == ["REPORTED", "DISPATCHED", "TASK_ASSIGNED", "TASK_ASSIGNED",
                            "STARTED", "TASK_STARTED", "TASK_DONE", "TASK_DECLINED",
                            "RESOLVED"]  # fmt: skip
    by_task = [(e["eventType"], e["taskId"], _dept(e["department"]), e["note"])
               for e in case["events"] if e["taskId"]]  # fmt: skip
    assert by_task == [
        ("TASK_ASSIGNED", task_b, world.id("B"), "需燃气、电力配合"),
        ("TASK_ASSIGNED", task_c, world.id("C"), "需燃气、电力配合"),
        ("TASK_STARTED", task_b, world.id("B"), "已到场"),
        ("TASK_DONE", task_b, world.id("B"), "燃气管线已关阀"),
        ("TASK_DECLINED", task_c, world.id("C"), "现场无电力设施"),
    ]


def _point_in(world: World, where: str) -> tuple[float, float]:
    with psycopg.connect(world.url) as conn:
        row = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) AS p FROM grid_cells "
            "g JOIN admin_areas c ON c.id = g.community_id JOIN admin_areas s ON s.id = "
            f"c.parent_id WHERE {where} ORDER BY g.id LIMIT 1) x"
        ).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


def _jurisdiction(world: World, phone: str) -> int:
    with psycopg.connect(world.url) as conn:
        row = conn.execute("SELECT jurisdiction_ids[1] FROM users WHERE phone = %s",
                           (phone,)).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def test_a_street_blows_the_whistle_and_three_departments_report(world: World) -> None:
    street = _jurisdiction(world, "13800000011")
    district = _jurisdiction(world, "13800000010")
    case_id = world.new_case(world.street, _point_in(world, f"s.id = {street}"))
    elsewhere = world.new_case(world.dispatcher, _point_in(
        world, f"s.id <> {street} AND s.parent_id <> {district}"))  # fmt: skip
    called = [world.id("B"), world.id("C"), world.id("D")]

    assert world.error(world.street, "BlowWhistle", id=elsewhere, departmentIds=called,
                       reason="x") == "NOT_FOUND"  # fmt: skip
    assert world.error(world.district, "BlowWhistle", id=elsewhere, departmentIds=called,
                       reason="x") == "NOT_FOUND"  # fmt: skip
    assert world.error(world.handler["A"], "BlowWhistle", id=case_id, departmentIds=called,
                       reason="x") == "FORBIDDEN"  # fmt: skip
    assert world.error(world.street, "BlowWhistle", id=case_id, departmentIds=[world.id("A")],
                       reason="x", leadDepartmentId=world.id("A")) == "INVALID_INPUT"  # fmt: skip
    assert world.error(world.street, "BlowWhistle", id=case_id, departmentIds=called,
                       reason="") == "INVALID_INPUT"  # fmt: skip
    # Nothing half-written: the failed calls left the case reported, with no task.
    untouched = world.case(world.street, case_id)
    assert (world.event_count(case_id), untouched["status"], untouched["tasks"]) == (
        1, "REPORTED", [])  # fmt: skip
    assert "BLOW_WHISTLE" in untouched["allowedActions"]

    blown = world.call(world.street, "BlowWhistle", id=case_id, departmentIds=called,
                       reason="占道经营与管线破损, 多部门联合处置",
                       leadDepartmentId=world.id("A"))  # fmt: skip
    assert (blown["status"], _dept(blown["department"])) == ("DISPATCHED", world.id("A"))
    tasks = {_dept(t["department"]): t for t in blown["tasks"]}
    assert set(tasks) == set(called)
    assert {(t["kind"], t["status"]) for t in tasks.values()} == {("JOINT", "OPEN")}

    for key in "BCD":
        task = tasks[world.id(key)]["id"]
        reported = world.call(world.handler[key], "StartTask", taskId=task, note="已报到")
        assert {t["id"]: t["status"] for t in reported["tasks"]}[task] == "IN_PROGRESS"
        world.call(world.handler[key], "FinishTask", taskId=task, note=f"{key} 部分完成")
    world.call(world.handler["A"], "CollaborationStart", id=case_id)
    resolved = world.call(world.handler["A"], "CollaborationResolve", id=case_id, note="完成")
    assert resolved["status"] == "RESOLVED"

    case = world.case(world.street, case_id)
    assert _steps(case) == ["REPORTED", "WHISTLE_BLOWN", *["TASK_ASSIGNED"] * 3,
                            *["TASK_REPORTED", "TASK_DONE"] * 3, "STARTED", "RESOLVED"]  # fmt: skip
    whistle = case["events"][1]
    assert (whistle["fromStatus"], whistle["toStatus"], _dept(whistle["department"])) == (
        "REPORTED", "DISPATCHED", world.id("A"))  # fmt: skip
    assert {_dept(e["department"]) for e in case["events"][2:5]} == set(called)


def test_comments_are_for_staff_only(world: World) -> None:
    with psycopg.connect(world.url) as conn:
        citizen = conn.execute("SELECT id FROM users WHERE phone LIKE '1370%%' AND roles = "
                               "'{citizen}' ORDER BY id LIMIT 1").fetchone()  # fmt: skip
        assert citizen is not None
    case_id = world.dispatched("A")
    with psycopg.connect(world.url) as conn:
        conn.execute("UPDATE cases SET reporter_id = %s WHERE id = %s",
                     (citizen[0], int(case_id)))  # fmt: skip

    assert world.error(world.dispatcher, "CommentCase", id=case_id, note=" ") == "INVALID_INPUT"
    assert world.error(world.citizen, "CommentCase", id=case_id, note="催办") == "FORBIDDEN"
    assert world.error(None, "CommentCase", id=case_id, note="x") == "UNAUTHENTICATED"
    assert world.error(world.handler["B"], "CommentCase", id=case_id, note="x") == "NOT_FOUND"
    world.call(world.handler["A"], "CommentCase", id=case_id, note="已联系报告人")
    commented = world.call(world.dispatcher, "CommentCase", id=case_id, note="请今日处置")
    assert "COMMENT" in commented["allowedActions"]
    notes = [(e["eventType"], e["note"]) for e in world.case(world.dispatcher, case_id)["events"]]
    assert notes[-2:] == [("COMMENTED", "已联系报告人"), ("COMMENTED", "请今日处置")]

    # The reporter reads their case's timeline without the staff's notes; the public record
    # has no timeline at all.
    document = "query Mine { myCases(first: 50) { nodes { id events { eventType note } } } }"
    body = _post(world.client, world.citizen, document, "Mine", {})
    assert "errors" not in body, body
    mine = next(n for n in body["data"]["myCases"]["nodes"] if n["id"] == case_id)
    assert [e["eventType"] for e in mine["events"]] == ["REPORTED", "DISPATCHED"]
    # Nor does their app's report timeline show comments, returns or their refusal.
    world.call(world.handler["A"], "RequestReturn", id=case_id, reason="非本部门")
    world.call(world.dispatcher, "RefuseReturn", id=case_id, reason="请处置")
    with psycopg.connect(world.url) as conn:
        row = conn.execute("SELECT public_id FROM cases WHERE id = %s", (int(case_id),)).fetchone()
    assert row is not None
    report = world.client.get(f"/api/v1/reports/{row[0]}",
                              headers={"Authorization": f"Bearer {world.citizen}"})  # fmt: skip
    assert report.status_code == 200, report.text
    assert [e["event"] for e in report.json()["timeline"]] == ["reported", "dispatched"]
    public = _post(world.client, None, "query P($id: ID!) { case(id: $id) { events { note } } }",
                   "P", {"id": case_id})  # fmt: skip
    assert {e["extensions"]["code"] for e in public["errors"]} == {"FORBIDDEN"}
    assert "请今日处置" not in json.dumps(public, ensure_ascii=False)


def test_a_transfer_starts_the_handling_clock_afresh() -> None:
    at = [datetime.fromisoformat(f"2026-11-30T0{h}:00:00+00:00") for h in range(1, 8)]
    events = [
        TimelineEvent(E.REPORTED, "reported", at[0]),
        TimelineEvent(E.DISPATCHED, "dispatched", at[1]),
        TimelineEvent(E.EXTENSION_REQUESTED, None, at[2], 60),
        TimelineEvent(E.SUSPENDED, None, at[3]),
        TimelineEvent(E.TRANSFERRED, "dispatched", at[4]),
        TimelineEvent(E.STARTED, "in_progress", at[5]),
    ]
    run = current_stage(events)
    assert run is not None
    # The new department's stage: from the transfer, nothing suspended or waiting.
    assert (run.started_at, run.suspended, run.pending, run.extended_minutes) == (
        at[4], False, None, 0)  # fmt: skip
    returned = current_stage([*events, TimelineEvent(E.RETURN_ACCEPTED, "reported", at[6])])
    assert returned is not None
    assert (returned.stage.value, returned.started_at) == ("dispatch", at[6])
