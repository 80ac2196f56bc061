"""Case clocks through GraphQL over HTTP, with real tokens: deadlines on the official calendar
for constructed cases with known answers, and suspend / resume / extend as a dispatcher."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient
from strawberry import Schema

from geo.access import CITY, Principal
from geo.services.worktime import WorkingTime
from server.kernel.auth.tokens import TokenService
from tests.case_helpers import LAT, LON, constructed_case, post, sh, staff_token
from tests.gql_helpers import operation, run

CLOCK = operation("case_clock")
FLOW = operation("dispatch_flow")


def _call(client: TestClient, token: str | None, name: str, variables: dict[str, Any]) -> Any:
    body = post(client, token, CLOCK, name, variables)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


@pytest.fixture(scope="module")
def dispatcher(database_url: str, tokens: TokenService) -> str:
    return staff_token(database_url, tokens, "phone LIKE '1380000%' AND roles[1] = 'dispatcher'")


@pytest.fixture(scope="module")
def handler(database_url: str, tokens: TokenService) -> str:
    return staff_token(database_url, tokens, "phone LIKE '1381%' AND roles[1] = 'department_staff'")


def _handle_category(database_url: str, amount: int, unit: str) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT category FROM case_stage_limits WHERE stage = 'handle' AND amount = %s "
            "AND unit = %s ORDER BY category LIMIT 1",
            (amount, unit),
        ).fetchone()
    assert row is not None, f"the seed has no category to handle in {amount} {unit}"
    return str(row[0])


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.parametrize(
    ("reported", "dispatched", "deadline"),
    [
        # Friday 17:00 + 8 working hours → Monday 17:00.
        (("2026-11-27", "16:00"), ("2026-11-27", "17:00"), ("2026-11-30", "17:00")),
        # 清明: Monday 6 April 2026 is a holiday → Tuesday 17:00.
        (("2026-04-03", "15:00"), ("2026-04-03", "17:00"), ("2026-04-07", "17:00")),
        # National Day: Saturday 10 October 2026 is worked (调休) → that Saturday 17:00.
        (("2026-10-09", "15:00"), ("2026-10-09", "17:00"), ("2026-10-10", "17:00")),
    ],
)
def test_a_past_deadline_on_the_official_calendar_is_overdue(
    client: TestClient, database_url: str, dispatcher: str,
    reported: tuple[str, str], dispatched: tuple[str, str], deadline: tuple[str, str],
) -> None:  # fmt: skip
    category = _handle_category(database_url, 8, "working_hours")
    case_id = constructed_case(database_url, category, sh(*reported), sh(*dispatched))
    case = _call(client, dispatcher, "CaseClock", {"id": str(case_id)})
    clock = case["clock"]
    assert (clock["stage"], clock["state"], clock["suspended"]) == ("HANDLE", "OVERDUE", False)
    assert _at(clock["startedAt"]) == _at(sh(*dispatched))
    assert _at(clock["deadline"]) == _at(sh(*deadline))
    assert clock["limitWorkingMinutes"] == 480
    assert clock["elapsedWorkingMinutes"] >= 480


def test_suspend_resume_and_extend_as_a_dispatcher(
    client: TestClient, database_url: str, dispatcher: str, handler: str
) -> None:
    category = _handle_category(database_url, 8, "working_hours")
    case_id = str(constructed_case(database_url, category, sh("2026-11-27", "16:00"),
                                    sh("2026-11-27", "17:00")))  # fmt: skip

    refused = _call(client, handler, "SuspendCase", {"id": case_id, "reason": "等待配件"})
    assert refused["code"] == "FORBIDDEN"
    not_suspended = _call(client, dispatcher, "ResumeCase", {"id": case_id, "reason": "恢复"})
    assert not_suspended["code"] == "ILLEGAL_TRANSITION"
    no_reason = _call(client, dispatcher, "SuspendCase", {"id": case_id, "reason": " "})
    assert no_reason["code"] == "INVALID_INPUT"

    suspended = _call(client, dispatcher, "SuspendCase", {"id": case_id, "reason": "等待配件"})
    clock = suspended["case"]["clock"]
    assert (clock["suspended"], clock["deadline"]) == (True, None)
    again = _call(client, dispatcher, "SuspendCase", {"id": case_id, "reason": "再次"})
    assert again["code"] == "ILLEGAL_TRANSITION"

    resumed = _call(client, dispatcher, "ResumeCase", {"id": case_id, "reason": "配件到货"})
    clock = resumed["case"]["clock"]
    assert clock["suspended"] is False
    # The suspension lasted from now to now: the deadline is back where it was, or later by
    # the working time it covered.
    assert _at(clock["deadline"]) >= _at(sh("2026-11-30", "17:00"))

    too_long = _call(client, dispatcher, "ExtendCase",
                     {"id": case_id, "workingMinutes": 0, "reason": "延期"})  # fmt: skip
    assert too_long["code"] == "INVALID_INPUT"
    extended = _call(client, dispatcher, "ExtendCase",
                     {"id": case_id, "workingMinutes": 960, "reason": "需协调多部门"})  # fmt: skip
    clock = extended["case"]["clock"]
    assert (clock["limitWorkingMinutes"], clock["extendedWorkingMinutes"]) == (1440, 960)
    hours = WorkingTime()
    paused = hours.minutes_between(*_pause(client, dispatcher, case_id))
    expected = hours.add(_at(sh("2026-11-27", "17:00")), 1440 + paused)
    assert _at(clock["deadline"]) == expected

    timeline = _call(client, dispatcher, "CaseClock", {"id": case_id})["events"]
    steps = [(e["eventType"], e["note"], e["extendedWorkingMinutes"]) for e in timeline[2:]]
    assert steps == [("SUSPENDED", "等待配件", None), ("RESUMED", "配件到货", None),
                     ("EXTENDED", "需协调多部门", 960)]  # fmt: skip


def _pause(client: TestClient, token: str, case_id: str) -> tuple[datetime, datetime]:
    events = _call(client, token, "CaseClock", {"id": case_id})["events"]
    at = {e["eventType"]: _at(e["at"]) for e in events}
    return at["SUSPENDED"], at["RESUMED"]


def _create(client: TestClient, token: str, category: str, description: str) -> str:
    body = post(client, token, FLOW, "CreateCase", {"input": {
        "category": category, "lon": LON, "lat": LAT, "description": description}})  # fmt: skip
    assert body["data"]["createCase"]["__typename"] == "CasePayload", body
    case_id: str = body["data"]["createCase"]["case"]["id"]
    return case_id


def test_a_case_dispatched_now_is_on_time_and_a_rejected_one_has_no_clock(
    client: TestClient, database_url: str, dispatcher: str
) -> None:
    category = _handle_category(database_url, 2, "working_days")
    case_id = _create(client, dispatcher, category, "新案件")
    reported = _call(client, dispatcher, "CaseClock", {"id": case_id})["clock"]
    assert (reported["stage"], reported["limitWorkingMinutes"]) == ("DISPATCH", 120)
    post(client, dispatcher, FLOW, "DispatchCase", {"id": case_id})
    clock = _call(client, dispatcher, "CaseClock", {"id": case_id})["clock"]
    assert (clock["stage"], clock["state"], clock["limitWorkingMinutes"]) == (
        "HANDLE", "ON_TIME", 960)  # fmt: skip
    assert _at(clock["deadline"]) == WorkingTime().add(_at(clock["startedAt"]), 960)

    rejected = _create(client, dispatcher, category, "不予受理")
    post(client, dispatcher, FLOW, "RejectCase", {"id": rejected, "reason": "不属于受理范围"})
    case = _call(client, dispatcher, "CaseClock", {"id": rejected})
    assert (case["status"], case["clock"]) == ("REJECTED", None)
    refused = _call(client, dispatcher, "SuspendCase", {"id": rejected, "reason": "挂起"})
    assert refused["code"] == "ILLEGAL_TRANSITION"


def test_the_public_record_has_no_clock(client: TestClient, database_url: str) -> None:
    category = _handle_category(database_url, 8, "working_hours")
    case_id = constructed_case(database_url, category, sh("2026-11-27", "16:00"),
                                sh("2026-11-27", "17:00"))  # fmt: skip
    document = "query Public($id: ID!) { case(id: $id) { id clock { state deadline } } }"
    body = post(client, None, document, "Public", {"id": str(case_id)})
    assert body["data"]["case"] == {"id": str(case_id), "clock": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert "clock is shown only to staff" in body["errors"][0]["message"]


def test_the_department_asks_and_the_dispatcher_decides(
    client: TestClient, database_url: str, tokens: TokenService, dispatcher: str
) -> None:
    category = _handle_category(database_url, 8, "working_hours")
    case_id = str(constructed_case(database_url, category, sh("2026-11-27", "16:00"),
                                    sh("2026-11-27", "17:00")))  # fmt: skip
    handler = staff_token(database_url, tokens, "roles[1] = 'department_staff' AND department_id = "
                     f"(SELECT department_id FROM cases WHERE id = {int(case_id)})")  # fmt: skip

    asked = _call(client, handler, "RequestExtension",
                  {"id": case_id, "workingMinutes": 480, "reason": "需要采购材料"})  # fmt: skip
    clock = asked["case"]["clock"]
    assert clock["pendingRequest"]["kind"] == "EXTENSION_REQUESTED"
    assert clock["pendingRequest"]["workingMinutes"] == 480
    assert (clock["limitWorkingMinutes"], _at(clock["deadline"])) == (
        480, _at(sh("2026-11-30", "17:00")))  # fmt: skip
    self_approved = _call(client, handler, "ApproveClockRequest", {"id": case_id, "note": "ok"})
    assert self_approved["code"] == "FORBIDDEN"

    approved = _call(client, dispatcher, "ApproveClockRequest", {"id": case_id, "note": "同意"})
    clock = approved["case"]["clock"]
    assert clock["pendingRequest"] is None
    # Friday 17:00 + 16 working hours → Tuesday 1 December 17:00.
    assert (clock["limitWorkingMinutes"], _at(clock["deadline"])) == (
        960, _at(sh("2026-12-01", "17:00")))  # fmt: skip

    _call(client, handler, "RequestSuspension", {"id": case_id, "reason": "等待业主开门"})
    refused = _call(client, dispatcher, "RefuseClockRequest",
                    {"id": case_id, "reason": "不符合挂起条件"})  # fmt: skip
    clock = refused["case"]["clock"]
    assert (clock["pendingRequest"], clock["suspended"]) == (None, False)
    nothing = _call(client, dispatcher, "RefuseClockRequest", {"id": case_id, "reason": "x"})
    assert nothing["code"] == "ILLEGAL_TRANSITION"

    kinds = [e["eventType"] for e in _call(client, dispatcher, "CaseClock",
                                           {"id": case_id})["events"]]  # fmt: skip
    assert kinds[2:] == ["EXTENSION_REQUESTED", "EXTENDED", "SUSPENSION_REQUESTED",
                         "REQUEST_REFUSED"]  # fmt: skip


BOARD = """
query ClockBoard {
  cases(statuses: [REPORTED, DISPATCHED, IN_PROGRESS, RESOLVED], first: 100) {
    edges { node { id status clock { stage state deadline limitWorkingMinutes } } }
  }
}
"""


@pytest.mark.anyio
async def test_a_page_of_clocks_takes_three_statements(
    schema: Schema, pool: AsyncConnectionPool[AsyncConnection[Any]]
) -> None:
    dispatcher = Principal(user_id=6, roles=frozenset({"dispatcher"}), jurisdiction=CITY)
    out = await run(schema, pool, BOARD, principal=dispatcher)
    assert out.errors == []
    nodes = [e["node"] for e in out.data["cases"]["edges"]]
    assert len(nodes) == 100
    # The seed city's open cases all have a clock, of the stage their status is in.
    stage = {"REPORTED": "DISPATCH", "DISPATCHED": "HANDLE", "IN_PROGRESS": "HANDLE",
             "RESOLVED": "CHECK"}  # fmt: skip
    assert all(n["clock"]["stage"] == stage[n["status"]] for n in nodes)
    assert all(n["clock"]["limitWorkingMinutes"] > 0 for n in nodes)
    assert out.statements <= 3  # the page, the timelines, the stage limits
