"""geo.services.collaboration on a real database (each test rolled back): the rules the GraphQL
tests do not reach — a transfer settles a waiting return, a whistle on a dispatched case keeps
its lead, a department may be named again once its task is over, every step is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from geo.access import CITY, Jurisdiction, Principal, Scope
from geo.enums import CaseSource
from geo.errors import Conflict, InvalidInput, NotFound
from geo.params import LonLat
from geo.services import collaboration as co
from geo.services.cases import create_case, transition

pytestmark = pytest.mark.anyio

AConn = psycopg.AsyncConnection[Any]
DISPATCHER = Principal(6, frozenset({"dispatcher"}), None, CITY)


async def _departments(conn: AConn) -> list[tuple[int, Principal]]:
    """Four departments, road_damage's first, each with one of its staff."""
    rows = await (
        await conn.execute(
            "SELECT DISTINCT ON (u.department_id) u.department_id, u.id FROM users u "
            "WHERE u.roles[1] = 'department_staff' ORDER BY u.department_id, u.id"
        )
    ).fetchall()
    lead = await (
        await conn.execute("SELECT department_id FROM case_categories WHERE code = 'road_damage'")
    ).fetchone()
    assert lead is not None
    rows.sort(key=lambda r: r[0] != lead[0])
    return [
        (d, Principal(u, frozenset({"department_staff"}), None,
                      Jurisdiction(Scope.DEPARTMENT, (d,))))
        for d, u in rows[:4]
    ]  # fmt: skip


async def _dispatched(conn: AConn, department: int) -> int:
    case = await create_case(
        conn, actor=DISPATCHER, category="road_damage", point=LonLat(121.48, 31.23),
        description="协同", source=CaseSource.HOTLINE,
    )  # fmt: skip
    await transition(conn, case.id, "dispatch", DISPATCHER, department_id=department)
    return case.id


async def _events(conn: AConn, case_id: int) -> list[str]:
    rows = await (
        await conn.execute(
            "SELECT event_type FROM case_events WHERE case_id = %s ORDER BY at, id", (case_id,)
        )
    ).fetchall()
    return [r[0] for r in rows]


async def test_a_transfer_settles_a_waiting_return(conn: AConn) -> None:
    (a, staff_a), (b, staff_b), *_ = await _departments(conn)
    case_id = await _dispatched(conn, a)
    await co.request_return(conn, case_id, staff_a, reason="不是我们的")
    assert (await co.waiting_return(conn, case_id)) is not None
    moved = await co.transfer(conn, case_id, DISPATCHER, department_id=b, reason="转交")
    assert (moved.department_id, moved.status, moved.assignee_id) == (b, "dispatched", None)
    assert await co.waiting_return(conn, case_id) is None
    with pytest.raises(Conflict):
        await co.decide_return(conn, case_id, DISPATCHER, accept=True, note=None)
    # The new department may return it in its turn; the old one no longer reaches it.
    with pytest.raises(NotFound):
        await co.request_return(conn, case_id, staff_a, reason="x")
    await co.request_return(conn, case_id, staff_b, reason="也不是我们的")
    audited = await (
        await conn.execute(
            "SELECT action FROM audit_log WHERE object_type = 'case' AND object_id = %s "
            "ORDER BY seq",
            (str(case_id),),
        )
    ).fetchall()
    assert [r[0] for r in audited] == ["case.reported", "case.dispatched", "case.return_requested",
                                       "case.transferred", "case.return_requested"]  # fmt: skip


async def test_a_whistle_on_a_dispatched_case_keeps_its_lead(conn: AConn) -> None:
    (a, _), (b, staff_b), (c, _), (d, _) = await _departments(conn)
    case_id = await _dispatched(conn, a)
    with pytest.raises(InvalidInput, match="transfer it first"):
        await co.blow_whistle(conn, case_id, DISPATCHER, department_ids=[b], reason="x",
                              lead_department_id=b)  # fmt: skip
    # The lead named among the departments called is not given a task: it has the case.
    called = await co.blow_whistle(conn, case_id, DISPATCHER, department_ids=[a, b, c],
                                   reason="联合整治")  # fmt: skip
    assert (called.status, called.department_id) == ("dispatched", a)
    tasks = await co.tasks_of(conn, case_id)
    assert [(t.department_id, t.kind, t.status) for t in tasks] == [
        (b, "joint", "open"), (c, "joint", "open")]  # fmt: skip
    assert await _events(conn, case_id) == ["reported", "dispatched", "whistle_blown",
                                            "task_assigned", "task_assigned"]  # fmt: skip
    # Co-handling on top: a department with an open task cannot be named twice; once its task
    # is over it may be named again.
    with pytest.raises(InvalidInput, match="already has an open task"):
        await co.add_co_handlers(conn, case_id, DISPATCHER, department_ids=[b, d])
    assert [t.department_id for t in await co.tasks_of(conn, case_id)] == [b, c]
    await co.task_step(conn, tasks[0].id, "finish", staff_b, note="完成")
    await co.add_co_handlers(conn, case_id, DISPATCHER, department_ids=[b, d], note="再协办")
    kinds = [(t.department_id, t.kind, t.status) for t in await co.tasks_of(conn, case_id)]
    assert kinds == [(b, "joint", "done"), (c, "joint", "open"), (b, "co_handle", "open"),
                     (d, "co_handle", "open")]  # fmt: skip


async def test_tasks_end_with_their_case(conn: AConn) -> None:
    (a, staff_a), (b, staff_b), *_ = await _departments(conn)
    case_id = await _dispatched(conn, a)
    await co.add_co_handlers(conn, case_id, DISPATCHER, department_ids=[b])
    (task,) = await co.tasks_of(conn, case_id)
    with pytest.raises(NotFound):  # not the lead's task
        await co.task_step(conn, task.id, "start", staff_a)
    with pytest.raises(InvalidInput):
        await co.task_step(conn, task.id, "decline", staff_b, note=" ")
    await transition(conn, case_id, "mark_duplicate", DISPATCHER,
                     duplicate_of=await _dispatched(conn, a))  # fmt: skip
    with pytest.raises(Conflict, match="its tasks are over"):
        await co.task_step(conn, task.id, "start", staff_b)


def test_the_pending_return_follows_the_timeline() -> None:
    at = datetime(2026, 11, 30, 9, tzinfo=UTC)
    asked = ("return_requested", None, at, "不是我们的", 3, 7)
    assert co.pending_return([("dispatched", "dispatched", at, None, 3, 6), asked]) == (
        co.PendingReturn(at, "不是我们的", 3, 7))  # fmt: skip
    for settled in (("return_refused", None, at, "请处置", 3, 6),
                    ("return_accepted", "reported", at, None, 3, 6),
                    ("transferred", "dispatched", at, "转", 4, 6),
                    ("resolved", "resolved", at, "完成", None, 7)):  # fmt: skip
        assert co.pending_return([asked, settled]) is None
    # Starting work while it waits leaves it waiting.
    assert co.pending_return([asked, ("started", "in_progress", at, None, None, 7)]) is not None
