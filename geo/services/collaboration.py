"""Collaboration on a case: transfer (转办), return (退单), co-handling (主办/协办) and the
street's joint task (吹哨报到). Steps of the one case workflow (geo.services.cases: its loading
with the actor's jurisdiction in SQL, its events and audit trail): each runs in one
transaction — the case row locked, the step checked, the rows changed, one event per change.

- **Transfer** (DISPATCH): a dispatched or in-progress case goes to another department; the
  assignee is cleared, the case is ``dispatched`` again and the handle stage's clock starts
  afresh for the new department (geo.services.clocks.RESTARTS). A waiting return is settled.
- **Return** (HANDLE, the lead department): the department sends a misrouted case back with a
  reason; the case stays where it is, its clock running, until a dispatcher accepts (the case
  is ``reported`` again, without a department: the dispatch stage starts afresh) or refuses
  (the department keeps it, with the reason). One return waits at a time.
- **Co-handling** (DISPATCH): the case's department leads (主办); named departments each get a
  ``co_handle`` task (协办). **Joint task** (DISPATCH, typically a street's dispatcher): the
  departments called (吹哨) each get a ``joint`` task and report (报到). A department starts or
  reports for its task, finishes it with a note, or declines it with a reason (HANDLE, its own
  tasks only). The lead resolves once no task is open (cases.transition refuses before).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import (
    OPEN_CASE_STATUSES,
    OPEN_TASK_STATUSES,
    CaseEventType,
    CaseStatus,
    TaskKind,
    TaskStatus,
)
from geo.errors import Conflict, InvalidInput, NotFound
from geo.services.cases import (
    CaseRecord,
    actor_scope,
    append_event,
    check_text,
    handler_scope,
    load_case,
)

E = CaseEventType
S = CaseStatus
#: The statuses a department holds a case in (the handle stage).
HANDLING = frozenset({S.DISPATCHED, S.IN_PROGRESS})
#: The most departments one step may name.
MAX_DEPARTMENTS = 10
#: The steps on a task: who takes them is geo.access.task_scope; the statuses each leaves from.
TASK_STEPS: dict[str, frozenset[TaskStatus]] = {
    "start": frozenset({TaskStatus.OPEN}),
    "finish": frozenset({TaskStatus.OPEN, TaskStatus.IN_PROGRESS}),
    "decline": frozenset({TaskStatus.OPEN}),
}
#: The collaboration steps on a case, as geo.services.cases.allowed_actions names steps.
ACTIONS = ("transfer", "request_return", "accept_return", "refuse_return", "add_co_handlers",
           "blow_whistle", "comment")  # fmt: skip


@dataclass(frozen=True)
class PendingReturn:
    """A return (退单) the handling department asked for, waiting for a dispatcher."""

    requested_at: datetime
    reason: str | None
    department_id: int | None
    actor_id: int | None


@dataclass(frozen=True)
class TaskRecord:
    id: int
    case_id: int
    department_id: int
    kind: str
    status: str
    note: str | None
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


TASK_COLUMNS = (
    "k.id, k.case_id, k.department_id, k.kind, k.status, k.note, k.created_by, k.created_at, "
    "k.started_at, k.finished_at, k.updated_at"
)


def pending_return(events: Iterable[Sequence[Any]]) -> PendingReturn | None:
    """The return waiting for a decision after ``events`` (oldest first; each row starting
    event_type, to_status, at, note, department_id, actor_id), or None. A decision, a transfer
    or the case leaving the handle stage settles it."""
    pending: PendingReturn | None = None
    for event_type, to_status, at, note, department_id, actor_id, *_ in events:
        if event_type == E.RETURN_REQUESTED:
            pending = PendingReturn(at, note, department_id, actor_id)
        elif event_type in (E.RETURN_ACCEPTED, E.RETURN_REFUSED, E.TRANSFERRED) or (
            to_status is not None and S(to_status) not in HANDLING
        ):
            pending = None
    return pending


def allowed_actions(
    actor: Principal, status: CaseStatus | str, *, handles: bool, waiting: PendingReturn | None
) -> list[str]:
    """The collaboration steps (of ACTIONS) ``actor`` may take on a case in ``status``, read
    through geo.access.case_scope; ``handles``: geo.access.handles_case for its department;
    ``waiting``: its pending return."""
    current = S(status)
    steps = {
        "transfer": actor.can(C.DISPATCH) and current in HANDLING,
        "request_return": actor.can(C.HANDLE) and handles and current in HANDLING
        and waiting is None,
        "accept_return": actor.can(C.DISPATCH) and waiting is not None,
        "refuse_return": actor.can(C.DISPATCH) and waiting is not None,
        "add_co_handlers": actor.can(C.DISPATCH) and current in HANDLING,
        "blow_whistle": actor.can(C.DISPATCH) and current in HANDLING | {S.REPORTED},
        "comment": actor.can(C.COMMENT),
    }  # fmt: skip
    return [name for name in ACTIONS if steps[name]]


def task_actions(actor: Principal, task_status: str, task_department_id: int) -> list[str]:
    """The task steps (of TASK_STEPS) ``actor`` may take on a task of a case read through
    geo.access.case_scope."""
    if not access.takes_task(actor, task_department_id):
        return []
    return [step for step, sources in TASK_STEPS.items() if TaskStatus(task_status) in sources]


# -- transfer (转办) ---------------------------------------------------------------------------


async def transfer(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, *, department_id: int,
    reason: str,
) -> CaseRecord:  # fmt: skip
    """转办: the case goes to ``department_id``, with the reason (DISPATCH)."""
    access.require(actor, C.DISPATCH)
    _reason(reason)
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True, scope=actor_scope(actor))
        status = _in_handling(case, "transferred")
        await _departments_exist(conn, [department_id], "departmentId")
        if department_id == case.department_id:
            raise InvalidInput(
                f"Case {case.public_id} is already with department {department_id}; transfer "
                "it to another one.",
                field="departmentId",
            )
        await _no_open_task_of(conn, case, [department_id], "departmentId")
        now = datetime.now(UTC)  # due_at follows from the transferred event
        await conn.execute(
            "UPDATE cases SET department_id = %s, assignee_id = NULL, status = 'dispatched', "
            "updated_at = %s WHERE id = %s",
            (department_id, now, case.id),
        )
        await append_event(conn, case.id, E.TRANSFERRED, status, S.DISPATCHED, actor,
                           department_id, reason, now,
                           from_department_id=case.department_id)  # fmt: skip
        return await load_case(conn, case.id)


# -- return (退单) -----------------------------------------------------------------------------


async def request_return(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, *, reason: str
) -> CaseRecord:
    """退单: the handling department sends the case back to dispatch, with the reason (HANDLE,
    the lead department only); a dispatcher decides."""
    access.require(actor, C.HANDLE)
    _reason(reason)
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True, scope=handler_scope(actor))
        _in_handling(case, "returned")
        if await waiting_return(conn, case.id) is not None:
            raise Conflict(f"Case {case.public_id}: a return is already waiting for a "
                           "dispatcher's decision.", case_status=case.status)  # fmt: skip
        now = datetime.now(UTC)
        await _touch(conn, case.id, now)
        await append_event(conn, case.id, E.RETURN_REQUESTED, None, None, actor,
                           case.department_id, reason, now)  # fmt: skip
        return await load_case(conn, case.id)


async def decide_return(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, *, accept: bool,
    note: str | None,
) -> CaseRecord:  # fmt: skip
    """A dispatcher accepts the waiting return — the case is ``reported`` again, without a
    department or assignee, for a new dispatch — or refuses it with the reason (DISPATCH)."""
    access.require(actor, C.DISPATCH)
    if accept:
        check_text(note, "The note")
    else:
        _reason(note)
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True, scope=actor_scope(actor))
        waiting = await waiting_return(conn, case.id)
        if waiting is None:
            raise Conflict(f"Case {case.public_id}: no return is waiting for a decision.",
                           case_status=case.status)  # fmt: skip
        now = datetime.now(UTC)
        status = S(case.status)
        if not accept:
            await _touch(conn, case.id, now)
            await append_event(conn, case.id, E.RETURN_REFUSED, None, None, actor,
                               case.department_id, note, now)  # fmt: skip
            return await load_case(conn, case.id)
        await conn.execute(
            "UPDATE cases SET status = 'reported', department_id = NULL, assignee_id = NULL, "
            "dispatched_at = NULL, due_at = NULL, updated_at = %s WHERE id = %s",
            (now, case.id),
        )
        # The event names the department that returned it: where the case should not go.
        await append_event(conn, case.id, E.RETURN_ACCEPTED, status, S.REPORTED, actor,
                           waiting.department_id, note, now)  # fmt: skip
        return await load_case(conn, case.id)


async def waiting_return(conn: AsyncConnection[Any], case_id: int) -> PendingReturn | None:
    rows = await (
        await conn.execute(
            "SELECT event_type, to_status, at, note, department_id, actor_id FROM case_events "
            "WHERE case_id = %s ORDER BY at, id",
            (case_id,),
        )
    ).fetchall()
    return pending_return(rows)


# -- co-handling (主办/协办) and the joint task (吹哨报到) --------------------------------------


async def add_co_handlers(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, *,
    department_ids: Sequence[int], note: str | None = None,
) -> CaseRecord:  # fmt: skip
    """协办: each of ``department_ids`` gets a co-handling task on a case its department
    leads (DISPATCH); the case's department stays the lead (主办)."""
    access.require(actor, C.DISPATCH)
    wanted = _department_list(department_ids)
    check_text(note, "The note")
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True, scope=actor_scope(actor))
        _in_handling(case, "given co-handling departments")
        await _departments_exist(conn, wanted, "departmentIds")
        if case.department_id in wanted:
            raise InvalidInput(
                f"Department {case.department_id} leads case {case.public_id} (主办); name the "
                "departments that help it.",
                field="departmentIds",
            )
        await _no_open_task_of(conn, case, wanted, "departmentIds")
        now = datetime.now(UTC)
        await _touch(conn, case.id, now)
        await _assign(conn, case, actor, wanted, TaskKind.CO_HANDLE, note, now)
        return await load_case(conn, case.id)


async def blow_whistle(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, *,
    department_ids: Sequence[int], reason: str, lead_department_id: int | None = None,
) -> CaseRecord:  # fmt: skip
    """吹哨报到: a street (a dispatcher of its jurisdiction, DISPATCH) calls departments to a
    case as a joint task, with the reason. A reported case is dispatched in the same step to
    its lead (``lead_department_id``, else its department, else its category's); a case
    already with a department keeps it as the lead. Each called department other than the lead
    gets a joint task."""
    access.require(actor, C.DISPATCH)
    _reason(reason)
    called = _department_list(department_ids)
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True, scope=actor_scope(actor))
        status = S(case.status)
        if status not in HANDLING | {S.REPORTED}:
            raise Conflict(f"Case {case.public_id} is {status.value}; departments are called "
                           "to a reported, dispatched or in-progress case.",
                           case_status=status.value)  # fmt: skip
        await _departments_exist(conn, [*called, *filter(None, [lead_department_id])],
                                 "departmentIds")  # fmt: skip
        now = datetime.now(UTC)
        if status is S.REPORTED:
            lead = lead_department_id or case.department_id or await _category_department(
                conn, case)  # fmt: skip
            await conn.execute(  # due_at follows from the dispatched event
                "UPDATE cases SET status = 'dispatched', department_id = %s, assignee_id = NULL, "
                "dispatched_at = %s, updated_at = %s WHERE id = %s",
                (lead, now, now, case.id),
            )
            target: CaseStatus | None = S.DISPATCHED
        else:
            lead = case.department_id or await _category_department(conn, case)
            if lead_department_id is not None and lead_department_id != lead:
                raise InvalidInput(
                    f"Case {case.public_id} is led by department {lead}; transfer it first to "
                    "change the lead.",
                    field="leadDepartmentId",
                )
            await _touch(conn, case.id, now)
            target = None
        helpers = [d for d in called if d != lead]
        if not helpers:
            raise InvalidInput("Name at least one department besides the lead to call.",
                               field="departmentIds")  # fmt: skip
        await _no_open_task_of(conn, case, helpers, "departmentIds")
        await append_event(conn, case.id, E.WHISTLE_BLOWN, status if target else None, target,
                           actor, lead, reason, now)  # fmt: skip
        await _assign(conn, case, actor, helpers, TaskKind.JOINT, reason, now)
        return await load_case(conn, case.id)


async def task_step(
    conn: AsyncConnection[Any], task_id: int, step: str, actor: Principal, *,
    note: str | None = None,
) -> CaseRecord:  # fmt: skip
    """A department's step on its own task (HANDLE; geo.access.task_scope): ``start`` (a
    joint task: reports, 报到), ``finish`` with a note, ``decline`` with the reason."""
    if step not in TASK_STEPS:
        raise InvalidInput(f"Unknown task step {step!r}; one of {', '.join(TASK_STEPS)}.")
    access.require(actor, C.HANDLE)
    if step == "start":
        check_text(note, "The note")
    else:
        _reason(note, "A note" if step == "finish" else "A reason")
    async with conn.transaction():
        row = await (
            await conn.execute(
                f"SELECT {TASK_COLUMNS} FROM case_tasks k JOIN cases c ON c.id = k.case_id "  # noqa: S608
                f"WHERE k.id = %s AND ({access.case_scope(actor, 'c')}) "
                f"AND ({access.task_scope(actor, 'k', 'c')}) FOR UPDATE OF c, k",
                (task_id,),
            )
        ).fetchone()
        if row is None:
            raise NotFound(f"No task with id {task_id}.")
        task = TaskRecord(*row)
        case = await load_case(conn, task.case_id)
        if S(case.status) not in OPEN_CASE_STATUSES:
            raise Conflict(f"Case {case.public_id} is {case.status}: its tasks are over.",
                           case_status=case.status)  # fmt: skip
        current = TaskStatus(task.status)
        if current not in TASK_STEPS[step]:
            allowed = ", ".join(sorted(s.value for s in TASK_STEPS[step]))
            raise Conflict(f"Task {task.id} is {current.value}; '{step}' needs it to be "
                           f"{allowed}.", case_status=case.status)  # fmt: skip
        now = datetime.now(UTC)
        if step == "start":
            event = E.TASK_REPORTED if task.kind == TaskKind.JOINT else E.TASK_STARTED
            await conn.execute(
                "UPDATE case_tasks SET status = 'in_progress', started_at = %s, updated_at = %s "
                "WHERE id = %s",
                (now, now, task.id),
            )
        else:
            event = E.TASK_DONE if step == "finish" else E.TASK_DECLINED
            await conn.execute(
                "UPDATE case_tasks SET status = %s, note = %s, finished_at = %s, "
                "started_at = coalesce(started_at, %s), updated_at = %s WHERE id = %s",
                ("done" if step == "finish" else "declined", note, now, now, now, task.id),
            )
        await _touch(conn, case.id, now)
        await append_event(conn, case.id, event, None, None, actor, task.department_id, note,
                           now, task_id=task.id)  # fmt: skip
        return await load_case(conn, case.id)


async def tasks_of(conn: AsyncConnection[Any], case_id: int) -> list[TaskRecord]:
    """The tasks of a case, oldest first (the caller established the right to the case)."""
    rows = await (
        await conn.execute(
            f"SELECT {TASK_COLUMNS} FROM case_tasks k WHERE k.case_id = %s ORDER BY k.id",  # noqa: S608
            (case_id,),
        )
    ).fetchall()
    return [TaskRecord(*r) for r in rows]


# -- helpers ----------------------------------------------------------------------------------


def _reason(value: str | None, what: str = "A reason") -> str:
    if value is None or not value.strip():
        raise InvalidInput(f"{what} is needed for this step.",
                           field="note" if what == "A note" else "reason")  # fmt: skip
    check_text(value, what)
    return value


def _in_handling(case: CaseRecord, what: str) -> CaseStatus:
    status = S(case.status)
    if status not in HANDLING:
        raise Conflict(f"Case {case.public_id} is {status.value}; only a dispatched or "
                       f"in-progress case can be {what}.", case_status=status.value)  # fmt: skip
    return status


def _department_list(ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise InvalidInput("Name at least one department.", field="departmentIds")
    if len(wanted) > MAX_DEPARTMENTS:
        raise InvalidInput(f"At most {MAX_DEPARTMENTS} departments at once.",
                           field="departmentIds")  # fmt: skip
    return wanted


async def _departments_exist(conn: AsyncConnection[Any], ids: Sequence[int], field: str) -> None:
    rows = await (
        await conn.execute("SELECT id FROM departments WHERE id = ANY(%s)", (list(ids),))
    ).fetchall()
    missing = sorted(set(ids) - {r[0] for r in rows})
    if missing:
        raise InvalidInput(f"No department with id {', '.join(map(str, missing))}.",
                           field=field)  # fmt: skip


async def _no_open_task_of(
    conn: AsyncConnection[Any], case: CaseRecord, ids: Sequence[int], field: str
) -> None:
    rows = await (
        await conn.execute(
            "SELECT department_id, id FROM case_tasks WHERE case_id = %s AND department_id = "
            "ANY(%s) AND status = ANY(%s) ORDER BY department_id",
            (case.id, list(ids), [s.value for s in OPEN_TASK_STATUSES]),
        )
    ).fetchall()
    if rows:
        busy = ", ".join(f"department {d} (task {t})" for d, t in rows)
        raise InvalidInput(f"Case {case.public_id} already has an open task of {busy}.",
                           field=field)  # fmt: skip


async def _assign(
    conn: AsyncConnection[Any], case: CaseRecord, actor: Principal, departments: Sequence[int],
    kind: TaskKind, note: str | None, now: datetime,
) -> None:  # fmt: skip
    for department in departments:
        row = await (
            await conn.execute(
                "INSERT INTO case_tasks (case_id, department_id, kind, status, created_by, "
                "created_at, updated_at) VALUES (%s, %s, %s, 'open', %s, %s, %s) RETURNING id",
                (case.id, department, kind.value, actor.user_id, now, now),
            )
        ).fetchone()
        assert row is not None
        await append_event(conn, case.id, E.TASK_ASSIGNED, None, None, actor, department, note,
                           now, task_id=int(row[0]))  # fmt: skip


async def _category_department(conn: AsyncConnection[Any], case: CaseRecord) -> int:
    row = await (
        await conn.execute(
            "SELECT department_id FROM case_categories WHERE code = %s", (case.category,)
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def _touch(conn: AsyncConnection[Any], case_id: int, now: datetime) -> None:
    await conn.execute("UPDATE cases SET updated_at = %s WHERE id = %s", (now, case_id))
