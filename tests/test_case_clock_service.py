"""Suspension (挂起), resumption and extension (延期) in geo.services.cases, on a real database
(each test rolled back): the timeline, the audit trail, who may, and when not."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from geo.access import Principal
from geo.enums import CaseSource, Stage
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.stage_limits import stage_limits
from geo.services import collaboration
from geo.services.cases import MAX_EXTENSION_MINUTES, clock_step, create_case, transition
from geo.services.clocks import TimelineEvent, current_stage
from geo.services.identity import jurisdiction_of
from geo.services.worktime import WorkingTime

pytestmark = pytest.mark.anyio

AConn = psycopg.AsyncConnection[Any]


async def _principal(conn: AConn, phone_like: str, role: str) -> Principal:
    row = await (
        await conn.execute(
            "SELECT id, roles FROM users WHERE phone LIKE %s AND roles[1] = %s ORDER BY id LIMIT 1",
            (phone_like, role),
        )
    ).fetchone()
    assert row is not None
    return Principal(row[0], frozenset(row[1]), None, await jurisdiction_of(conn, row[0]))


async def _dispatched_case(conn: AConn, dispatcher: Principal) -> int:
    point = await (
        await conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM facilities ORDER BY id LIMIT 1")
    ).fetchone()
    assert point is not None
    case = await create_case(conn, actor=dispatcher, category="road_damage",
                             point=LonLat(*point), description="井盖缺失",
                             source=CaseSource.HOTLINE)  # fmt: skip
    await transition(conn, case.id, "dispatch", dispatcher)
    return case.id


async def _timeline(conn: AConn, case_id: int) -> list[tuple[Any, ...]]:
    rows = await (
        await conn.execute(
            "SELECT event_type, to_status, at, extended_minutes, note FROM case_events "
            "WHERE case_id = %s ORDER BY at, id",
            (case_id,),
        )
    ).fetchall()
    return [tuple(r) for r in rows]


async def test_suspend_resume_extend_are_timeline_events_and_audited(conn: AConn) -> None:
    dispatcher = await _principal(conn, "1380000%", "dispatcher")
    case_id = await _dispatched_case(conn, dispatcher)

    suspended = await clock_step(conn, case_id, "suspend", dispatcher, reason="等待天气好转")
    assert suspended.status == "dispatched"
    await clock_step(conn, case_id, "resume", dispatcher, reason="天晴")
    await clock_step(conn, case_id, "extend", dispatcher, reason="需要封路", extended_minutes=240)

    events = await _timeline(conn, case_id)
    assert [(e[0], e[1], e[3], e[4]) for e in events[2:]] == [
        ("suspended", None, None, "等待天气好转"),
        ("resumed", None, None, "天晴"),
        ("extended", None, 240, "需要封路"),
    ]
    run = current_stage(TimelineEvent(e[0], e[1], e[2], e[3]) for e in events)
    assert run is not None
    assert (run.stage, run.suspended, run.extended_minutes) == (Stage.HANDLE, False, 240)
    audited = await (
        await conn.execute(
            "SELECT action FROM audit_log WHERE object_type = 'case' AND object_id = %s "
            "ORDER BY seq",
            (str(case_id),),
        )
    ).fetchall()
    assert [a[0] for a in audited][-3:] == ["case.suspended", "case.resumed", "case.extended"]


async def test_who_may_and_when_not(conn: AConn) -> None:
    dispatcher = await _principal(conn, "1380000%", "dispatcher")
    handler = await _principal(conn, "1381%", "department_staff")
    case_id = await _dispatched_case(conn, dispatcher)

    with pytest.raises(Forbidden):
        await clock_step(conn, case_id, "suspend", handler, reason="等待配件")
    with pytest.raises(Conflict, match="not suspended"):
        await clock_step(conn, case_id, "resume", dispatcher, reason="恢复")
    with pytest.raises(InvalidInput, match="reason"):
        await clock_step(conn, case_id, "suspend", dispatcher, reason="  ")
    for minutes in (None, 0, -5, MAX_EXTENSION_MINUTES + 1):
        with pytest.raises(InvalidInput, match="extension"):
            await clock_step(conn, case_id, "extend", dispatcher, reason="延期",
                             extended_minutes=minutes)  # fmt: skip
    with pytest.raises(InvalidInput, match="Unknown clock step"):
        await clock_step(conn, case_id, "pause", dispatcher, reason="x")
    with pytest.raises(NotFound):
        await clock_step(conn, -1, "suspend", dispatcher, reason="x")

    await clock_step(conn, case_id, "suspend", dispatcher, reason="等待配件")
    with pytest.raises(Conflict, match="already suspended"):
        await clock_step(conn, case_id, "suspend", dispatcher, reason="再次")
    assert [e[0] for e in await _timeline(conn, case_id)] == [
        "reported", "dispatched", "suspended"]  # fmt: skip


async def test_a_case_out_of_the_workflow_has_no_clock_to_stop(conn: AConn) -> None:
    dispatcher = await _principal(conn, "1380000%", "dispatcher")
    case_id = await _dispatched_case(conn, dispatcher)
    await transition(conn, case_id, "start", dispatcher)
    await transition(conn, case_id, "resolve", dispatcher, note="已修复")
    await transition(conn, case_id, "close", dispatcher)
    with pytest.raises(Conflict, match="no clock"):
        await clock_step(conn, case_id, "extend", dispatcher, reason="延期", extended_minutes=60)


async def _handler_of(conn: AConn, case_id: int) -> Principal:
    row = await (
        await conn.execute(
            "SELECT u.id, u.roles FROM users u JOIN cases c ON c.department_id = u.department_id "
            "WHERE c.id = %s AND u.roles[1] = 'department_staff' ORDER BY u.id LIMIT 1",
            (case_id,),
        )
    ).fetchone()
    assert row is not None
    return Principal(row[0], frozenset(row[1]), None, await jurisdiction_of(conn, row[0]))


async def test_the_handler_asks_and_a_dispatcher_decides(conn: AConn) -> None:
    dispatcher = await _principal(conn, "1380000%", "dispatcher")
    case_id = await _dispatched_case(conn, dispatcher)
    handler = await _handler_of(conn, case_id)

    with pytest.raises(Conflict, match="no suspension or extension request"):
        await clock_step(conn, case_id, "approve", dispatcher, reason="同意")
    await clock_step(conn, case_id, "request_extension", handler, reason="需要采购",
                     extended_minutes=480)  # fmt: skip
    with pytest.raises(Conflict, match="already waiting"):
        await clock_step(conn, case_id, "request_suspension", handler, reason="等待")
    with pytest.raises(Forbidden):
        await clock_step(conn, case_id, "approve", handler, reason="自己批准")
    await clock_step(conn, case_id, "approve", dispatcher, reason="同意延期")

    await clock_step(conn, case_id, "request_suspension", handler, reason="等待业主")
    await clock_step(conn, case_id, "refuse", dispatcher, reason="不符合挂起条件")
    with pytest.raises(Conflict, match="no suspension or extension request"):
        await clock_step(conn, case_id, "refuse", dispatcher, reason="再次")

    events = await _timeline(conn, case_id)
    assert [(e[0], e[3], e[4]) for e in events[2:]] == [
        ("extension_requested", 480, "需要采购"),
        ("extended", 480, "同意延期"),
        ("suspension_requested", None, "等待业主"),
        ("request_refused", None, "不符合挂起条件"),
    ]


async def _handle_limit(conn: AConn, case_id: int) -> int:
    row = await (
        await conn.execute("SELECT category FROM cases WHERE id = %s", (case_id,))
    ).fetchone()
    assert row is not None
    (limits,) = await fetch(conn, stage_limits([row[0]]))
    return limits[Stage.HANDLE].minutes(WorkingTime())


async def _due(conn: AConn, case_id: int) -> tuple[Any, Any]:
    row = await (
        await conn.execute("SELECT dispatched_at, due_at FROM cases WHERE id = %s", (case_id,))
    ).fetchone()
    assert row is not None
    return row[0], row[1]


async def test_the_due_time_is_the_handle_clocks_deadline_on_the_working_calendar(
    conn: AConn,
) -> None:
    """``dueAt`` is what the handle stage's clock says: its limit in working time from the
    dispatch (not calendar hours), moved by an extension, restarted by a transfer."""
    hours = WorkingTime()
    dispatcher = await _principal(conn, "1380000%", "dispatcher")
    case_id = await _dispatched_case(conn, dispatcher)
    limit = await _handle_limit(conn, case_id)
    dispatched, due = await _due(conn, case_id)
    assert hours.minutes_between(dispatched, due) == limit
    assert hours.add(due, 0) == due  # a deadline falls in working time

    await clock_step(conn, case_id, "extend", dispatcher, reason="需要封路", extended_minutes=240)
    _, extended = await _due(conn, case_id)
    assert hours.minutes_between(due, extended) == 240

    other = await (
        await conn.execute(
            "SELECT d.id FROM departments d JOIN cases c ON c.id = %s "
            "WHERE d.id <> c.department_id ORDER BY d.id LIMIT 1",
            (case_id,),
        )
    ).fetchone()
    assert other is not None
    await collaboration.transfer(conn, case_id, dispatcher, department_id=other[0],
                                 reason="职责不符")  # fmt: skip
    transferred_at = (
        await (
            await conn.execute(
                "SELECT at FROM case_events WHERE case_id = %s AND event_type = 'transferred'",
                (case_id,),
            )
        ).fetchone()
    )[0]  # type: ignore[index]
    _, restarted = await _due(conn, case_id)
    assert hours.minutes_between(transferred_at, restarted) == limit
