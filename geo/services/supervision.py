"""Supervision (督办): a supervisor puts a case, or a department's overdue cases, under
supervision with a deadline of its own; the handler answers; the sweep (geo.services.sweep)
marks the unanswered ones missed when the deadline passes.

Each step is one transaction: the supervision row, a timeline event on every case it covers
(``supervised``, ``supervision_answered``; audited and NOTIFYed like every case step), and the
staff notifications. Who may do what comes from geo.access: SUPERVISE to supervise, HANDLE to
answer; the cases are loaded with the caller's jurisdiction in the WHERE (NOT_FOUND outside).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import (
    OPEN_CASE_STATUSES,
    Audience,
    CaseEventType,
    CaseStatus,
    NotificationKind,
    Stage,
    SupervisionStatus,
)
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.services import cases, staff_notifications
from geo.services.clock_states import OPEN_SQL
from geo.services.clocks import STAGE_OF_STATUS
from geo.services.staff_notifications import Notice
from geo.services.timeline_writes import NewEvent, append

E = CaseEventType
#: The furthest a supervision's deadline may lie ahead.
MAX_DEADLINE = timedelta(days=90)
MAX_NOTE = 4000


@dataclass(frozen=True)
class SupervisionRecord:
    id: int
    kind: str
    case_id: int | None
    department_id: int
    supervisor_id: int
    note: str
    deadline: datetime
    status: str
    created_at: datetime
    answered_at: datetime | None
    answered_by: int | None
    answer: str | None
    missed_at: datetime | None
    case_ids: list[int]


def _check(note: str, deadline: datetime, now: datetime) -> None:
    if not note.strip():
        raise InvalidInput("A supervision needs a note saying what is expected.", field="note")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"The note is {len(note)} characters long; at most {MAX_NOTE}.",
                           field="note")  # fmt: skip
    if deadline.tzinfo is None:
        raise InvalidInput("The deadline needs a time zone offset.", field="deadline")
    if deadline <= now:
        raise InvalidInput(
            f"The deadline {deadline.isoformat()} has passed; give a time after "
            f"{now.isoformat(timespec='seconds')}.",
            field="deadline",
        )
    if deadline > now + MAX_DEADLINE:
        raise InvalidInput("A supervision's deadline is at most 90 days ahead.", field="deadline")


def audience_of(stage: Stage | None, department_id: int | None) -> tuple[Audience, int | None]:
    """Who answers for a case in ``stage``: the handling department, else the dispatchers."""
    if stage is Stage.HANDLE and department_id is not None:
        return Audience.DEPARTMENT, department_id
    return Audience.DISPATCHERS, None


async def supervise_case(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, *, deadline: datetime,
    note: str, now: datetime,
) -> SupervisionRecord:  # fmt: skip
    """督办 one open case of the actor's jurisdiction. Conflict when it is out of the workflow
    or already under an open supervision."""
    access.require(actor, C.SUPERVISE)
    _check(note, deadline, now)
    async with conn.transaction():
        case = await cases.load_case(conn, case_id, lock=True, scope=access.case_scope(actor, "c"))
        status = CaseStatus(case.status)
        if status not in OPEN_CASE_STATUSES:
            raise Conflict(f"Case {case.public_id} is {case.status}: only open cases are "
                           "supervised.", case_status=case.status)  # fmt: skip
        cur = await conn.execute(
            "SELECT deadline FROM supervisions WHERE case_id = %s AND kind = 'case' "
            "AND status = 'open'",
            (case.id,),
        )
        if (open_one := await cur.fetchone()) is not None:
            raise Conflict(
                f"Case {case.public_id} is already under supervision until "
                f"{open_one[0].isoformat()}; wait for its answer or deadline.",
                case_status=case.status,
            )
        if case.department_id is None:
            raise Conflict(f"Case {case.public_id} has no department to answer a supervision; "
                           "dispatch it first.", case_status=case.status)  # fmt: skip
        supervision_id = await _insert(conn, "case", case.id, case.department_id, actor,
                                       note, deadline, now)  # fmt: skip
        await _cover(conn, supervision_id, [case.id])
        await append(conn, [NewEvent(case.id, E.SUPERVISED, note, supervision_id)], actor, now)
        stage = STAGE_OF_STATUS[status]
        audience, department = audience_of(stage, case.department_id)
        await staff_notifications.send(conn, [Notice(
            NotificationKind.SUPERVISED, audience, case.id, None, department, supervision_id,
            stage.value, None, deadline, note)], now)  # fmt: skip
        return await load(conn, supervision_id)


def overdue_sql(now_param: str = "%(now)s", s: str = "s") -> str:
    """A predicate on ``case_clock_states`` alias ``s``: the clock is overdue at now."""
    return (f"(({s}.suspended AND {s}.state = 'overdue') OR "
            f"(NOT {s}.suspended AND {s}.due_at <= {now_param}))")  # fmt: skip


async def supervise_department(
    conn: AsyncConnection[Any], department_id: int, actor: Principal, *, deadline: datetime,
    note: str, now: datetime,
) -> SupervisionRecord:  # fmt: skip
    """督办 a department: one supervision over its cases of the actor's jurisdiction whose
    clock is overdue now (as the stored clocks say: at most one sweep old). Conflict when it
    has none."""
    access.require(actor, C.SUPERVISE)
    _check(note, deadline, now)
    async with conn.transaction():
        cur = await conn.execute("SELECT 1 FROM departments WHERE id = %s", (department_id,))
        if await cur.fetchone() is None:
            raise NotFound(f"No department with id {department_id}.")
        scope = access.case_scope(actor, "c")
        cur = await conn.execute(
            f"SELECT c.id FROM cases c JOIN case_clock_states s ON s.case_id = c.id "  # noqa: S608
            f"AND s.case_updated_at = c.updated_at WHERE c.department_id = %(dept)s "
            f"AND c.status IN {OPEN_SQL} AND s.stage = 'handle' AND {overdue_sql()} "
            f"AND ({scope}) ORDER BY c.id FOR UPDATE OF c",
            {"dept": department_id, "now": now},
        )
        covered = [int(r[0]) for r in await cur.fetchall()]
        if not covered:
            raise Conflict(f"Department {department_id} has no overdue case in your "
                           "jurisdiction to supervise.")  # fmt: skip
        supervision_id = await _insert(conn, "department", None, department_id, actor, note,
                                       deadline, now)  # fmt: skip
        await _cover(conn, supervision_id, covered)
        await append(conn, [NewEvent(i, E.SUPERVISED, note, supervision_id) for i in covered],
                     actor, now)  # fmt: skip
        await staff_notifications.send(conn, [Notice(
            NotificationKind.SUPERVISED, Audience.DEPARTMENT, None, None, department_id,
            supervision_id, Stage.HANDLE.value, None, deadline, note)], now)  # fmt: skip
        return await load(conn, supervision_id)


async def answer(
    conn: AsyncConnection[Any], supervision_id: int, actor: Principal, *, note: str,
    now: datetime,
) -> SupervisionRecord:  # fmt: skip
    """The handler's answer (HANDLE, a covered case in the actor's jurisdiction, the
    supervision aimed at a department whose handling the actor carries): answered
    when by the deadline, else it stays (or becomes) missed with the late answer kept.
    Conflict when already answered."""
    access.require(actor, C.HANDLE)
    if not note.strip():
        raise InvalidInput("An answer needs some text.", field="note")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"The answer is {len(note)} characters long; at most {MAX_NOTE}.",
                           field="note")  # fmt: skip
    scope = access.case_scope(actor, "c")
    async with conn.transaction():
        cur = await conn.execute(
            f"SELECT s.id, s.status, s.deadline, s.answered_at, s.supervisor_id, "  # noqa: S608
            f"s.department_id "
            f"FROM supervisions s WHERE s.id = %s AND EXISTS (SELECT 1 FROM supervision_cases "
            f"sc JOIN cases c ON c.id = sc.case_id WHERE sc.supervision_id = s.id AND {scope}) "
            f"FOR UPDATE OF s",
            (supervision_id,),
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"No supervision with id {supervision_id}.")
        _, status, deadline, answered_at, supervisor, department = row
        if not access.handles_case(actor, department):
            raise Forbidden(f"Supervision {supervision_id} is aimed at department {department}; "
                            "its staff answer it.")  # fmt: skip
        if answered_at is not None:
            raise Conflict(f"Supervision {supervision_id} was answered at "
                           f"{answered_at.isoformat()}.")  # fmt: skip
        on_time = status == SupervisionStatus.OPEN and now <= deadline
        await conn.execute(
            "UPDATE supervisions SET status = %s, answered_at = %s, answered_by = %s, "
            "answer = %s, missed_at = coalesce(missed_at, %s) WHERE id = %s",
            (SupervisionStatus.ANSWERED if on_time else SupervisionStatus.MISSED, now,
             actor.user_id, note, None if on_time else now, supervision_id),
        )  # fmt: skip
        cur = await conn.execute(
            "SELECT case_id FROM supervision_cases WHERE supervision_id = %s ORDER BY case_id",
            (supervision_id,),
        )
        covered = [int(r[0]) for r in await cur.fetchall()]
        await append(conn, [NewEvent(i, E.SUPERVISION_ANSWERED, note, supervision_id)
                            for i in covered], actor, now)  # fmt: skip
        await staff_notifications.send(conn, [Notice(
            NotificationKind.SUPERVISION_ANSWERED, Audience.USER, None, supervisor,
            supervision_id=supervision_id, deadline=deadline, note=note)], now)  # fmt: skip
        return await load(conn, supervision_id)


async def _insert(
    conn: AsyncConnection[Any], kind: str, case_id: int | None, department_id: int,
    actor: Principal, note: str, deadline: datetime, now: datetime,
) -> int:  # fmt: skip
    cur = await conn.execute(
        "INSERT INTO supervisions (kind, case_id, department_id, supervisor_id, note, deadline, "
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (kind, case_id, department_id, actor.user_id, note, deadline, now),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _cover(conn: AsyncConnection[Any], supervision_id: int, case_ids: list[int]) -> None:
    await conn.execute(
        "INSERT INTO supervision_cases (supervision_id, case_id) SELECT %s, unnest(%s::bigint[])",
        (supervision_id, case_ids),
    )


SELECT = """
SELECT s.id, s.kind, s.case_id, s.department_id, s.supervisor_id, s.note, s.deadline, s.status,
       s.created_at, s.answered_at, s.answered_by, s.answer, s.missed_at,
       ARRAY(SELECT sc.case_id FROM supervision_cases sc WHERE sc.supervision_id = s.id
             ORDER BY sc.case_id) AS case_ids
FROM supervisions s
"""


async def load(
    conn: AsyncConnection[Any], supervision_id: int, actor: Principal | None = None
) -> SupervisionRecord:
    """One supervision (within what ``actor`` may see, when given); NotFound otherwise."""
    scope = "TRUE" if actor is None else access.supervision_scope(actor, "s")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{SELECT} WHERE s.id = %s AND {scope}", (supervision_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No supervision with id {supervision_id}.")
    return SupervisionRecord(**row)
