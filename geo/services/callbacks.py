"""Callbacks (回访): when a case closes, each caller who agreed to a callback gets a task
(``case_callbacks``, written by geo.services.follow_ups in the close's transaction). A
call-taker (CALLBACK, within the jurisdiction) calls back and records the caller's
satisfaction; "not satisfied" reopens the case through the workflow — a
``callback_recorded`` event then a ``reopened`` one (closed → dispatched), one transaction.
A caller not reached is an attempt (``callback_unreachable``); after the allowed attempts the
task ends as unreachable.

The tasks carry the caller's contact: listing them is a read of personal data, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import CallbackStatus, CaseEventType, Satisfaction
from geo.errors import Conflict, InvalidInput
from geo.services import audit, cases

SATISFACTION_ZH = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.NOT_SATISFIED: "不满意",
}


#: Pending callbacks with their callers' contact; {scope}: geo.access' SQL from integers.
_PENDING = (
    "SELECT b.id, b.case_id, b.caller_id, p.name, p.phone, p.callback_time, p.taken_at, "
    "b.attempts, b.created_at FROM case_callbacks b "
    "JOIN case_callers p ON p.id = b.caller_id JOIN cases c ON c.id = b.case_id "
    "WHERE b.status = 'pending' AND b.id > %s AND ({scope}) ORDER BY b.id LIMIT %s"
)


@dataclass(frozen=True)
class Task:
    id: int
    case_id: int
    caller_id: int
    name: str
    phone: str
    callback_time: str | None
    taken_at: datetime
    attempts: int
    created_at: datetime


async def pending(
    conn: AsyncConnection[Any], actor: Principal, *, after_id: int | None, limit: int
) -> list[Task]:
    """Pending callbacks of cases in the actor's jurisdiction, oldest (soonest due) first, one
    page of ``limit`` (+1 to tell whether more follow); the callers' contact read is audited,
    one row per case."""
    access.require(actor, C.CALLBACK)
    access.require(actor, C.READ_PERSONAL)
    scope = access.case_scope(actor, "c")
    async with conn.transaction():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_PENDING.format(scope=scope), (after_id or 0, limit + 1))
            rows = await cur.fetchall()
        shown = rows[:limit]
        by_case: dict[int, list[int]] = {}
        for r in shown:
            by_case.setdefault(r["case_id"], []).append(r["caller_id"])
        if by_case:
            client = audit.REQUEST_CLIENT.get()
            await audit.record_many(conn, [
                audit.Entry(actor.user_id, actor.audit_role, "read_personal_data", "case",
                            case_id, client, {"field": "callers", "surface": "callbacks",
                                              "caller_ids": ids})
                for case_id, ids in by_case.items()
            ])  # fmt: skip
    return [Task(**r) for r in rows]


async def _task(
    conn: AsyncConnection[Any], case: cases.CaseRecord, caller_id: int | None
) -> dict[str, Any]:
    """The pending callback of the case (of ``caller_id`` when it has several), locked."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, caller_id, attempts FROM case_callbacks WHERE case_id = %s "
            "AND status = 'pending' AND (%s::bigint IS NULL OR caller_id = %s) "
            "ORDER BY id FOR UPDATE",
            (case.id, caller_id, caller_id),
        )
        rows = await cur.fetchall()
    if not rows:
        raise Conflict(
            f"Case {case.public_id} has no pending callback"
            + (f" for caller {caller_id}." if caller_id else ": it is due once the case "
               "closes, for callers who agreed to one."),
            case_status=case.status,
        )  # fmt: skip
    if len(rows) > 1:
        ids = ", ".join(str(r["caller_id"]) for r in rows)
        raise InvalidInput(
            f"Case {case.public_id} has callbacks pending for callers {ids}: say which (callerId).",
            field="callerId",
        )
    return rows[0]


def _note(note: str | None, required: bool) -> str | None:
    text = (note or "").strip() or None
    if required and text is None:
        raise InvalidInput("Write down what the caller said (why they are not satisfied).",
                           field="note")  # fmt: skip
    if text is not None and len(text) > cases.MAX_DESCRIPTION:
        raise InvalidInput(f"The note is at most {cases.MAX_DESCRIPTION} characters.",
                           field="note")  # fmt: skip
    return text


async def record(
    conn: AsyncConnection[Any],
    case_id: int,
    actor: Principal,
    satisfaction: Satisfaction,
    note: str | None,
    caller_id: int | None = None,
) -> cases.CaseRecord:
    """The caller's satisfaction: a ``callback_recorded`` event; not satisfied also reopens
    the case (``reopened``: closed → dispatched, back to its department). A note is needed
    when not satisfied."""
    access.require(actor, C.CALLBACK)
    unhappy = satisfaction is Satisfaction.NOT_SATISFIED
    text = _note(note, required=unhappy)
    async with conn.transaction():
        case = await cases.lock_case(conn, case_id, actor)
        task = await _task(conn, case, caller_id)
        now = datetime.now(UTC)
        await conn.execute(
            "UPDATE case_callbacks SET status = 'done', satisfaction = %s, note = %s, "
            "done_by = %s, done_at = %s, attempts = attempts + 1 WHERE id = %s",
            (satisfaction.value, text, actor.user_id, now, task["id"]),
        )
        await conn.execute("UPDATE cases SET updated_at = %s WHERE id = %s", (now, case.id))
        said = SATISFACTION_ZH[satisfaction] + (f": {text}" if text else "")
        await cases.append_event(conn, case.id, CaseEventType.CALLBACK_RECORDED, None, None,
                                 actor, None, said, now)  # fmt: skip
        if unhappy:
            return await cases.reopen_after(conn, case, actor, f"回访不满意: {text}")
    return await cases.get_case(conn, case.id, actor)


async def unreachable(
    conn: AsyncConnection[Any],
    case_id: int,
    actor: Principal,
    note: str | None,
    max_attempts: int,
    caller_id: int | None = None,
) -> tuple[cases.CaseRecord, CallbackStatus]:
    """An attempt that did not reach the caller: a ``callback_unreachable`` event; the task
    stays pending until ``max_attempts`` such attempts, then ends as unreachable."""
    access.require(actor, C.CALLBACK)
    text = _note(note, required=False)
    async with conn.transaction():
        case = await cases.lock_case(conn, case_id, actor)
        task = await _task(conn, case, caller_id)
        attempts = task["attempts"] + 1
        status = CallbackStatus.UNREACHABLE if attempts >= max_attempts else CallbackStatus.PENDING
        now = datetime.now(UTC)
        await conn.execute(
            "UPDATE case_callbacks SET attempts = %s, status = %s, note = %s, done_by = %s, "
            "done_at = CASE WHEN %s = 'unreachable' THEN %s::timestamptz END WHERE id = %s",
            (attempts, status.value, text, actor.user_id, status.value, now, task["id"]),
        )
        await conn.execute("UPDATE cases SET updated_at = %s WHERE id = %s", (now, case.id))
        ended = "，回访结束" if status is CallbackStatus.UNREACHABLE else ""
        said = f"第{attempts}次回访未接通{ended}" + (f": {text}" if text else "")
        await cases.append_event(conn, case.id, CaseEventType.CALLBACK_UNREACHABLE, None, None,
                                 actor, None, said, now)  # fmt: skip
    return await cases.get_case(conn, case.id, actor), status
