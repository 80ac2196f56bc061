"""The steps a case popup offers come from the server: ``Case.allowedActions`` lists what the
workflow allows from the case's status and the policy lets the caller do, within their
jurisdiction. Held against the workflow itself: every listed step succeeds and every other one
is refused, for each role and status (each attempt rolled back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo import access
from geo.access import Jurisdiction, Principal
from geo.enums import CaseStatus, Satisfaction
from geo.errors import OneMapError
from geo.params import LonLat
from geo.queries import fetch, lookups
from geo.services import callbacks, checks, collaboration, hotline, loop_steps, supervision
from geo.services.cases import (
    CLOCK_ACTIONS,
    TRANSITIONS,
    allowed_actions,
    clock_actions,
    clock_step,
    transition,
)
from geo.services.clocks import current_stage
from geo.services.hotline import Caller
from geo.services.identity import jurisdiction_of
from geo.services.loop_steps import LoopState, Unanswered
from geo.services.reports import Photo
from server.gql.clocks import timeline
from server.gql.types import CaseAction
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation

AConn = psycopg.AsyncConnection[Any]
DETAIL = operation("case_detail")
FLOW = operation("dispatch_flow")
#: Demo accounts (README): dispatcher, department staff, analyst, and the dispatcher of the
#: first district only.
PHONES = {
    "dispatcher": "13800000006",
    "department_staff": "13800000005",
    "analyst": "13800000002",
    "district_dispatcher": "13800000010",
    "supervisor": "13800000013",
    "hotline_operator": "13800000015",
}


def test_the_schema_names_every_step_of_the_workflow() -> None:
    assert [a.value for a in CaseAction] == [
        *TRANSITIONS, *collaboration.ACTIONS, *loop_steps.ACTIONS, *CLOCK_ACTIONS]  # fmt: skip


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AConn]:
    async with (
        await psycopg.AsyncConnection.connect(database_url) as c,
        c.transaction(force_rollback=True),
    ):
        yield c


#: The grid worker of the cell with the most cases (the demo grid worker holds no cell).
BUSIEST_WORKER = (
    "SELECT u.id, u.roles FROM users u JOIN grid_cells g ON g.worker_id = u.id "
    "JOIN cases c ON c.grid_cell_id = g.id GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT 1"
)


async def _principal(conn: AConn, who: str) -> Principal:
    """The principal a log-in would make: the account's roles and stored jurisdiction."""
    if who == "grid_worker":
        row = await (await conn.execute(BUSIEST_WORKER)).fetchone()
    else:
        query = "SELECT id, roles FROM users WHERE phone = %s"
        row = await (await conn.execute(query, [PHONES[who]])).fetchone()
    assert row is not None
    return Principal(row[0], frozenset(row[1]), None, await jurisdiction_of(conn, row[0]))


async def _steps_that_succeed(conn: AConn, actor: Principal, case_id: int, other: int) -> list[str]:
    done = []
    for step in TRANSITIONS:
        try:
            async with conn.transaction(force_rollback=True):
                await transition(conn, case_id, step, actor, note="试", duplicate_of=other)
        except OneMapError:
            continue
        done.append(step)
    return done


@pytest.mark.anyio
@pytest.mark.parametrize("who", ["dispatcher", "department_staff", "grid_worker"])
async def test_allowed_actions_are_exactly_the_steps_the_workflow_accepts(
    conn: AConn, who: str
) -> None:
    actor = await _principal(conn, who)
    scope = access.case_scope(actor, "c")
    checked = 0
    for status in CaseStatus:
        rows = await (
            await conn.execute(
                f"SELECT c.id FROM cases c WHERE c.status = %s AND ({scope}) ORDER BY c.id LIMIT 2",
                [status.value],
            )
        ).fetchall()
        if not rows:
            continue
        other = await (
            await conn.execute(
                "SELECT id FROM cases WHERE status = 'reported' AND id <> %s ORDER BY id LIMIT 1",
                [rows[0][0]],
            )
        ).fetchone()
        assert other is not None
        succeeded = await _steps_that_succeed(conn, actor, rows[0][0], other[0])
        assert allowed_actions(actor, status) == succeeded, (who, status)
        checked += 1
    # The city (and a department) has cases of nearly every status; one cell only a few.
    assert checked >= (1 if who == "grid_worker" else 5), (who, checked)


def _user_id(database_url: str, phone: str) -> tuple[int, list[str]]:
    with psycopg.connect(database_url) as c:
        row = c.execute("SELECT id, roles FROM users WHERE phone = %s", [phone]).fetchone()
    assert row is not None
    return int(row[0]), list(row[1])


async def _jurisdiction(database_url: str, user_id: int) -> Jurisdiction:
    async with await psycopg.AsyncConnection.connect(database_url) as c:
        return await jurisdiction_of(c, user_id)


def _token(tokens: TokenService, database_url: str, who: str) -> str:
    """A token as a log-in would give it: the account's roles and jurisdiction."""
    uid, roles = _user_id(database_url, PHONES[who])
    jurisdiction = asyncio.run(_jurisdiction(database_url, uid))
    return tokens.issue_access(uid, roles, jurisdiction=jurisdiction)


def _post(client: TestClient, token: str | None, body: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/graphql", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _actions(client: TestClient, token: str | None, case_id: str) -> Any:
    doc = "query($id: ID!) { case(id: $id) { status allowedActions } }"
    return _post(client, token, {"query": doc, "variables": {"id": case_id}})


def test_the_case_detail_lists_the_callers_steps(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    dispatcher = _token(tokens, database_url, "dispatcher")
    new = {"category": "garbage_overflow", "lon": 121.4751, "lat": 31.2351, "description": "按钮"}
    created = _post(
        client,
        dispatcher,
        {"query": FLOW, "operationName": "CreateCase", "variables": {"input": new}},
    )
    case_id = created["data"]["createCase"]["case"]["id"]
    detail = _post(client, dispatcher, {"query": DETAIL, "variables": {"id": case_id}})
    assert "errors" not in detail, detail
    assert detail["data"]["case"]["allowedActions"] == [
        "DISPATCH", "REJECT", "MARK_DUPLICATE", "BLOW_WHISTLE", "COMMENT"]  # fmt: skip

    # Anyone without the steps' capabilities, or reading only the public record: none.
    assert _actions(client, None, case_id)["data"]["case"]["allowedActions"] == []
    analyst = _token(tokens, database_url, "analyst")
    assert _actions(client, analyst, case_id)["data"]["case"]["allowedActions"] == []

    # 不予受理, then reopen: the contract's documents, and the steps follow the status.
    rejected = _post(
        client,
        dispatcher,
        {
            "query": FLOW,
            "operationName": "RejectCase",
            "variables": {"id": case_id, "reason": "重复上报"},
        },
    )
    assert rejected["data"]["rejectCase"]["case"]["status"] == "REJECTED"
    assert _actions(client, dispatcher, case_id)["data"]["case"]["allowedActions"] == [
        "REOPEN", "COMMENT"]  # fmt: skip
    reopened = _post(
        client,
        dispatcher,
        {
            "query": FLOW,
            "operationName": "ReopenCase",
            "variables": {"id": case_id, "note": "并非重复"},
        },
    )
    assert reopened["data"]["reopenCase"]["case"]["status"] == "REPORTED"
    missing = _post(
        client,
        dispatcher,
        {"query": FLOW, "operationName": "ReopenCase", "variables": {"id": case_id}},
    )
    assert "note" in missing["errors"][0]["message"]  # required: said before anything runs


def test_a_citizen_reads_their_own_reports_in_full_with_no_steps(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    with psycopg.connect(database_url) as c:
        row = c.execute(
            "SELECT u.id, u.roles FROM cases k JOIN users u ON u.id = k.reporter_id "
            "WHERE u.roles = ARRAY['citizen']::text[] AND k.status = 'reported' LIMIT 1"
        ).fetchone()
    assert row is not None
    token = tokens.issue_access(row[0], list(row[1]))
    doc = "{ myCases(first: 20) { nodes { status description allowedActions } } }"
    answer = _post(client, token, {"query": doc})
    nodes = answer["data"]["myCases"]["nodes"]
    assert nodes and all(n["description"] is not None for n in nodes)  # their own, in full
    assert {"REPORTED"} <= {n["status"] for n in nodes}
    assert all(n["allowedActions"] == [] for n in nodes)  # reporting is not handling


def test_outside_the_jurisdiction_there_is_no_case_and_no_step(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    narrow = _token(tokens, database_url, "district_dispatcher")
    with psycopg.connect(database_url) as c:
        row = c.execute(
            "SELECT c.id FROM cases c JOIN users u ON u.phone = %s WHERE c.status = 'reported' "
            "AND c.district_id <> ALL(u.jurisdiction_ids) ORDER BY c.id LIMIT 1",
            [PHONES["district_dispatcher"]],
        ).fetchone()
    assert row is not None
    answer = _actions(client, narrow, str(row[0]))
    assert answer["data"] is None or answer["data"]["case"] is None
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# -- the daily loop's other steps: supervise, answer, check on site, call back ---------------

#: Cases worth trying the loop's steps on, in a scope ({scope}, alias c): a few of each status,
#: and those where a step may be due — an unanswered supervision, a resolved case whose
#: category needs a check, a closed case with a callback pending.
LOOP_CASES = """
(SELECT c.id FROM cases c WHERE ({scope}) AND c.id IN (
  SELECT min(x.id) FROM cases x GROUP BY x.status))
UNION (SELECT c.id FROM cases c JOIN supervision_cases sc ON sc.case_id = c.id
       JOIN supervisions s ON s.id = sc.supervision_id
       WHERE s.answered_at IS NULL AND ({scope}) ORDER BY c.id LIMIT 2)
UNION (SELECT c.id FROM cases c JOIN case_categories k ON k.code = c.category
       WHERE c.status = 'resolved' AND k.requires_check AND ({scope}) ORDER BY c.id LIMIT 2)
UNION (SELECT c.id FROM cases c JOIN case_callbacks b ON b.case_id = c.id
       WHERE b.status = 'pending' AND ({scope}) ORDER BY c.id LIMIT 2)
UNION (SELECT c.id FROM cases c WHERE c.status = ANY('{{reported,dispatched,in_progress}}')
       AND ({scope}) ORDER BY c.id LIMIT 3)
"""


async def _loop_state(conn: AConn, case_id: int) -> tuple[str, int | None, LoopState]:
    """The case's status, department and loop state, read as GraphQL reads it (the same
    look-ups: server/gql/loop.py)."""
    status, department = await (
        await conn.execute("SELECT status, department_id FROM cases WHERE id = %s", [case_id])
    ).fetchone() or (None, None)
    supervisions, callbacks_due, waits = [
        (await fetch(conn, lookups.by_ids(name, [case_id])))[0]
        for name in ("case_supervisions", "pending_callbacks", "close_waits_for_check")
    ]
    state = LoopState(
        supervisions=[Unanswered.of(r) for r in supervisions],
        check_due=status == "resolved" and bool(waits and waits[1]),
        callback_pending=bool(callbacks_due),
    )
    return str(status), department, state


async def _succeeds(conn: AConn, attempt: Callable[[], Awaitable[object]]) -> bool:
    try:
        async with conn.transaction(force_rollback=True):
            await attempt()
    except OneMapError:
        return False
    return True


def _answer(
    conn: AConn, supervision_id: int, actor: Principal, now: datetime
) -> Callable[[], Awaitable[object]]:
    return lambda: supervision.answer(conn, supervision_id, actor, note="试", now=now)


async def _loop_steps_that_succeed(
    conn: AConn, actor: Principal, case_id: int, state: LoopState
) -> list[str]:
    now = datetime.now(UTC)
    point = await (
        await conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE id = %s", [case_id])
    ).fetchone()
    assert point is not None

    async def check() -> None:
        _, ids = await checks.add_photos(conn, case_id, actor, [Photo("0" * 64, "image/jpeg",
                                                                      640, 480, 1000)])  # fmt: skip
        await checks.check(conn, case_id, actor, passed=True, point=LonLat(*point),
                           photo_ids=ids, note=None)  # fmt: skip

    async def answer() -> None:
        # The one the popup answers (Case.pendingSupervision), else any: none may succeed.
        mine = loop_steps.answerable(actor, state.supervisions)
        for s in mine[:1] or state.supervisions:
            if await _succeeds(conn, _answer(conn, s.id, actor, now)):
                return
        raise OneMapError("no supervision answered")

    attempts: dict[str, Callable[[], Awaitable[object]]] = {
        "supervise": lambda: supervision.supervise_case(
            conn, case_id, actor, deadline=now + timedelta(days=1), note="试", now=now),
        "answer_supervision": answer,
        "check": check,
        "callback": lambda: callbacks.record(conn, case_id, actor, Satisfaction.SATISFIED, None),
    }  # fmt: skip
    return [step for step in loop_steps.ACTIONS if await _succeeds(conn, attempts[step])]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "who", ["dispatcher", "department_staff", "grid_worker", "supervisor", "hotline_operator"]
)
async def test_the_loop_steps_listed_are_exactly_those_that_succeed(conn: AConn, who: str) -> None:
    # A supervision over a case of the demo department (rolled back with the test): the
    # department, and dispatchers, then have one to answer.
    boss = await _principal(conn, "supervisor")
    staff = await _principal(conn, "department_staff")
    target = await (
        await conn.execute(
            f"SELECT c.id FROM cases c WHERE c.status = 'dispatched' AND "
            f"{access.case_handler_scope(staff, 'c')} AND NOT EXISTS (SELECT 1 FROM "
            f"supervisions s WHERE s.case_id = c.id AND s.status = 'open') ORDER BY c.id LIMIT 1"
        )
    ).fetchone()
    assert target is not None
    now = datetime.now(UTC)
    await supervision.supervise_case(conn, target[0], boss, deadline=now + timedelta(days=2),
                                     note="请尽快处置", now=now)  # fmt: skip
    # And a call closed (no check needed): its caller waits for the callback (回访).
    desk = await _principal(conn, "dispatcher")
    call = await hotline.create_hotline_case(
        conn, actor=await _principal(conn, "hotline_operator"), caller=Caller("李先生",
        "13812345678"), category="road_damage", point=LonLat(121.4751, 31.2351),
        description="路面坑洼")  # fmt: skip
    for step in ("dispatch", "start", "resolve", "close"):
        await transition(conn, call.id, step, desk, note="试")

    actor = await _principal(conn, who)
    scope = access.case_scope(actor, "c")
    rows = await (await conn.execute(LOOP_CASES.format(scope=scope))).fetchall()
    offered: set[str] = set()
    for (case_id,) in rows:
        status, department, state = await _loop_state(conn, case_id)
        listed = loop_steps.allowed_actions(actor, status, department, state)
        assert await _loop_steps_that_succeed(conn, actor, case_id, state) == listed, (
            who, case_id, status)  # fmt: skip
        offered |= set(listed)
    # Each role is offered its own steps somewhere (the seed's history, the supervision above).
    expected = {
        "dispatcher": {"answer_supervision"},
        "department_staff": {"answer_supervision"},
        "grid_worker": set(),
        "supervisor": {"supervise"},
        "hotline_operator": {"callback"},
    }[who]
    assert expected <= offered, (who, offered)


# -- the clock's requests and decisions -------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("who", ["dispatcher", "department_staff"])
async def test_the_clock_steps_listed_are_exactly_those_that_succeed(conn: AConn, who: str) -> None:
    # Two of the demo department's cases (rolled back with the test): one with an extension
    # asked for, one suspended by a dispatcher.
    staff = await _principal(conn, "department_staff")
    desk = await _principal(conn, "dispatcher")
    held = await (
        await conn.execute(
            f"SELECT c.id FROM cases c WHERE c.status IN ('dispatched', 'in_progress') AND "
            f"{access.case_handler_scope(staff, 'c')} ORDER BY c.id LIMIT 2"
        )
    ).fetchall()
    assert len(held) == 2
    await clock_step(conn, held[0][0], "request_extension", staff, reason="需要采购",
                     extended_minutes=120)  # fmt: skip
    await clock_step(conn, held[1][0], "suspend", desk, reason="等待业主")
    # And one just dispatched to the department, its clock untouched (the session's other
    # tests may have left the seeded ones with requests or suspensions).
    where = await (
        await conn.execute(
            "SELECT category, ST_X(geom), ST_Y(geom), department_id FROM cases WHERE id = %s",
            [held[0][0]],
        )
    ).fetchone()
    assert where is not None
    fresh = await hotline.create_hotline_case(
        conn, actor=await _principal(conn, "hotline_operator"), caller=Caller("王女士",
        "13812345679"), category=where[0], point=LonLat(where[1], where[2]),
        description="占道经营")  # fmt: skip
    await transition(conn, fresh.id, "dispatch", desk, department_id=where[3])

    actor = await _principal(conn, who)
    scope = access.case_scope(actor, "c")
    rows = await (
        await conn.execute(
            f"(SELECT c.id FROM cases c WHERE ({scope}) AND c.id IN (SELECT min(x.id) FROM "
            f"cases x GROUP BY x.status)) UNION SELECT unnest(%s::bigint[])",
            [[held[0][0], held[1][0], fresh.id]],
        )
    ).fetchall()
    offered: set[str] = set()
    for (case_id,) in rows:
        status, department = await (
            await conn.execute("SELECT status, department_id FROM cases WHERE id = %s", [case_id])
        ).fetchone() or (None, None)
        events = (await fetch(conn, lookups.by_ids("case_events", [case_id])))[0]
        run = current_stage(timeline(events))
        listed = clock_actions(actor, str(status), run,
                               handles=access.handles_case(actor, department))  # fmt: skip
        succeeded = []
        for step in CLOCK_ACTIONS:
            if await _succeeds(conn, _clock(conn, case_id, step, actor)):
                succeeded.append(step)
        assert succeeded == listed, (who, case_id, status)
        offered |= set(listed)
    expected = {
        "dispatcher": {"resume", "approve", "refuse"},
        "department_staff": {"request_suspension", "request_extension"},
    }[who]
    assert offered == expected, (who, offered)


def _clock(
    conn: AConn, case_id: int, step: str, actor: Principal
) -> Callable[[], Awaitable[object]]:
    return lambda: clock_step(conn, case_id, step, actor, reason="试", extended_minutes=60)
