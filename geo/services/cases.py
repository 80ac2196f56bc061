"""The case workflow: one state machine, the only writer of ``cases`` and ``case_events``.

discover → dispatch → handle → check → close (发现 → 派遣 → 处置 → 核查 → 结案), with reject,
duplicate, reopen and comments. GraphQL mutations, the citizen report endpoint and Open311 all
call these functions. Each change runs in one transaction: the row is locked, the transition is
checked, the case updated, an event appended and a NOTIFY sent on ``onemap_case_events`` (so
subscribers in every worker process see it) — all or nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import (
    OPEN_CASE_STATUSES,
    CaseEventType,
    CasePriority,
    CaseSource,
    CaseStatus,
    Stage,
)
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, OutsideCity
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.location import grid_cell_at
from geo.queries.stage_limits import stage_limits
from geo.services import audit, case_facts, follow_ups
from geo.services.clocks import GRANTS, StageRun, TimelineEvent, clock_of, current_stage

CHANNEL = "onemap_case_events"
MAX_DESCRIPTION = 4000
S = CaseStatus
E = CaseEventType


@dataclass(frozen=True)
class Transition:
    event: CaseEventType
    sources: frozenset[CaseStatus]
    capability: C


def _t(event: E, sources: Iterable[S], capability: C) -> Transition:
    return Transition(event, frozenset(sources), capability)


# Who may act on which case is not here: the case is loaded with the actor's jurisdiction
# (geo.access.case_scope) in the WHERE, so a handler's department or a dispatcher's district
# is the rule, applied by SQL.
TRANSITIONS: dict[str, Transition] = {
    "dispatch": _t(E.DISPATCHED, [S.REPORTED], C.DISPATCH),
    "start": _t(E.STARTED, [S.DISPATCHED], C.HANDLE),
    "resolve": _t(E.RESOLVED, [S.IN_PROGRESS], C.HANDLE),
    "close": _t(E.CLOSED, [S.RESOLVED], C.DISPATCH),
    "reject": _t(E.REJECTED, [S.REPORTED], C.DISPATCH),
    "mark_duplicate": _t(E.MARKED_DUPLICATE, [S.REPORTED, S.DISPATCHED], C.DISPATCH),
    "reopen": _t(E.REOPENED, [S.RESOLVED, S.CLOSED, S.REJECTED, S.DUPLICATE], C.DISPATCH),
}
#: Where each transition leads; reopen depends on where the case was.
TARGET = {
    "dispatch": S.DISPATCHED, "start": S.IN_PROGRESS, "resolve": S.RESOLVED, "close": S.CLOSED,
    "reject": S.REJECTED, "mark_duplicate": S.DUPLICATE,
}  # fmt: skip
REOPEN_TARGET = {
    S.RESOLVED: S.IN_PROGRESS,  # 核查不通过: back to the handler
    S.CLOSED: S.DISPATCHED,
    S.REJECTED: S.REPORTED,
    S.DUPLICATE: S.REPORTED,
}


def allowed_actions(
    actor: Principal, status: CaseStatus | str, *, handles: bool = True
) -> list[str]:
    """The actions (keys of TRANSITIONS, in their order) ``actor`` may apply to a case in
    ``status``: the state machine allows the step from it and the policy grants the step's
    capability. The jurisdiction is the caller's to establish: ask only for a case read through
    geo.access.case_scope (the full view), the scope :func:`transition` loads it with; and
    ``handles``: geo.access.handles_case for the case's department (HANDLE steps)."""
    current = S(status)
    return [
        name
        for name, rule in TRANSITIONS.items()
        if current in rule.sources
        and actor.can(rule.capability)
        and (handles or rule.capability is not C.HANDLE)
    ]


def actor_scope(actor: Principal) -> str:
    """The SQL predicate (alias c) of the cases ``actor`` may see and act on."""
    return access.case_scope(actor, "c")


def handler_scope(actor: Principal) -> str:
    """The SQL predicate (alias c) of the cases whose handling ``actor`` may carry (HANDLE
    steps): a co-handling department sees a case but handles only its own task."""
    return access.case_handler_scope(actor, "c")


def step_scope(actor: Principal, capability: C) -> str:
    """The scope a step of ``capability`` loads its case with."""
    return handler_scope(actor) if capability is C.HANDLE else actor_scope(actor)


CASE_COLUMNS = """
c.id, c.public_id, c.category, c.description, c.address, c.status, c.priority, c.source,
c.reporter_id, c.grid_cell_id, c.department_id, c.assignee_id, c.duplicate_of, c.reported_at,
c.dispatched_at, c.due_at, c.resolved_at, c.closed_at, c.updated_at,
ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat
"""


@dataclass(frozen=True)
class CaseRecord:
    id: int
    public_id: str
    category: str
    description: str
    address: str | None
    status: str
    priority: str
    source: str
    reporter_id: int | None
    grid_cell_id: int
    department_id: int | None
    assignee_id: int | None
    duplicate_of: int | None
    reported_at: datetime
    dispatched_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    lon: float
    lat: float


def check_text(value: str | None, what: str, limit: int = MAX_DESCRIPTION) -> str | None:
    if value is not None and len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed.")
    return value


async def create_case(
    conn: AsyncConnection[Any],
    *,
    actor: Principal,
    category: str,
    point: LonLat,
    description: str,
    source: CaseSource,
    priority: CasePriority = CasePriority.NORMAL,
    address: str | None = None,
) -> CaseRecord:
    """A new case, routed to the grid cell holding ``point`` and its category's department.

    Staff (CREATE_CASES) create cases inside their jurisdiction; citizens (REPORT) report
    anywhere in the city; the system principal creates for sensors and Open311."""
    staff = actor.can(C.CREATE_CASES)
    if not staff:
        access.require(actor, C.REPORT)
    check_text(description, "The description")
    check_text(address, "The address", 500)
    async with conn.transaction():
        route = await (
            await conn.execute(
                "SELECT department_id FROM case_categories WHERE code = %s", (category,)
            )
        ).fetchone()
        if route is None:
            raise InvalidInput(f"Unknown case category {category!r}.", field="category")
        cell = await fetch(conn, grid_cell_at(point))
        if cell is None:
            raise OutsideCity(
                f"({point.lon}, {point.lat}) is outside the city: no grid cell covers it.",
                lon=point.lon, lat=point.lat,
            )  # fmt: skip
        if staff and not actor.city_wide:
            await _check_cell_in_scope(conn, actor, cell.grid_cell_id)
        now = datetime.now(UTC)
        public_id = f"{now:%Y%m%d}-{secrets.token_hex(4).upper()}"
        reporter = actor.user_id if source == CaseSource.CITIZEN_REPORT else None
        row = await (
            await conn.execute(
                "INSERT INTO cases (public_id, category, description, address, status, priority, "
                "source, reporter_id, grid_cell_id, department_id, reported_at, updated_at, geom) "
                "VALUES (%s, %s, %s, %s, 'reported', %s, %s, %s, %s, %s, %s, %s, "
                "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id",
                (
                    public_id,
                    category,
                    description,
                    address,
                    priority.value,
                    source.value,
                    reporter,
                    cell.grid_cell_id,
                    route[0],
                    now,
                    now,
                    point.lon,
                    point.lat,
                ),
            )
        ).fetchone()
        assert row is not None
        await append_event(conn, row[0], E.REPORTED, None, S.REPORTED, actor, None, None, now)
        return await load_case(conn, row[0])


async def transition(
    conn: AsyncConnection[Any],
    case_id: int,
    action: str,
    actor: Principal,
    *,
    note: str | None = None,
    department_id: int | None = None,
    assignee_id: int | None = None,
    duplicate_of: int | None = None,
) -> CaseRecord:
    """Apply ``action`` (a key of TRANSITIONS) to a case; Conflict when the state forbids it.

    Forbidden without the action's capability; NotFound for a case outside the actor's
    jurisdiction (it is loaded with the jurisdiction predicate, like every read)."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise InvalidInput(f"Unknown case action {action!r}; one of {', '.join(TRANSITIONS)}.")
    access.require(actor, rule.capability)
    check_text(note, "The note")
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True,
                               scope=step_scope(actor, rule.capability))  # fmt: skip
        status = S(case.status)
        if status not in rule.sources:
            allowed = ", ".join(sorted(s.value for s in rule.sources))
            raise Conflict(
                f"Case {case.public_id} is {status.value}; '{action}' needs it to be {allowed}.",
                case_status=status.value,
            )
        if action == "close" and (why := await follow_ups.close_refusal(conn, case.id)):
            raise Conflict(f"Case {case.public_id} cannot be closed: {why}",
                           case_status=status.value)  # fmt: skip
        return await _apply(conn, case, action, actor, note=note, department_id=department_id,
                            assignee_id=assignee_id, duplicate_of=duplicate_of)  # fmt: skip


async def reopen_after(
    conn: AsyncConnection[Any], case: CaseRecord, actor: Principal, note: str | None,
    event: CaseEventType = E.REOPENED,
) -> CaseRecord:  # fmt: skip
    """Reopen ``case`` as the consequence of another step of the workflow (a failed on-site
    check, a caller not satisfied at the callback), written as ``event``: the case loaded and
    locked by the caller (:func:`lock_case`), inside the caller's transaction, the step's own
    capability checked by the caller — the workflow, not the actor, decides to reopen."""
    if S(case.status) not in TRANSITIONS["reopen"].sources:
        raise Conflict(f"Case {case.public_id} is {case.status}; it cannot be reopened.",
                       case_status=case.status)  # fmt: skip
    return await _apply(conn, case, "reopen", actor, note=note, event=event)


async def _apply(
    conn: AsyncConnection[Any], case: CaseRecord, action: str, actor: Principal, *,
    note: str | None, department_id: int | None = None, assignee_id: int | None = None,
    duplicate_of: int | None = None, event: CaseEventType | None = None,
) -> CaseRecord:  # fmt: skip
    """The transition's writes, on a case locked and checked by the caller."""
    status = S(case.status)
    target = REOPEN_TARGET[status] if action == "reopen" else TARGET[action]
    now = datetime.now(UTC)
    changes: dict[str, Any] = {"status": target.value, "updated_at": now}
    event_department = None
    if action == "dispatch":
        changes.update(await _dispatch_changes(conn, case, now, department_id, assignee_id))
        event_department = changes["department_id"]
    elif action == "start":
        changes["assignee_id"] = assignee_id or case.assignee_id or actor.user_id
    elif action == "resolve":
        await _no_open_tasks(conn, case)
        changes["resolved_at"] = now
    elif action in ("close", "reject"):
        changes["closed_at"] = now
    elif action == "mark_duplicate":
        changes["duplicate_of"] = await _duplicate_target(
            conn, case, duplicate_of, actor_scope(actor)
        )
    elif action == "reopen":
        changes.update({"closed_at": None, "duplicate_of": None})
        if target == S.IN_PROGRESS:
            changes["resolved_at"] = None
    assignments = ", ".join(f"{col} = %({col})s" for col in changes)
    await conn.execute(
        f"UPDATE cases SET {assignments} WHERE id = %(id)s",  # noqa: S608 - our column names
        {**changes, "id": case.id},
    )
    event_id = await append_event(conn, case.id, event or TRANSITIONS[action].event, status,
                                  target, actor, event_department, note, now)  # fmt: skip
    await follow_ups.after(conn, case.id, action, event_id)
    return await load_case(conn, case.id)


async def comment(conn: AsyncConnection[Any], case_id: int, actor: Principal, note: str) -> None:
    """A note on the timeline, changing nothing else (COMMENT, within the jurisdiction)."""
    if not note.strip():
        raise InvalidInput("A comment needs some text.")
    check_text(note, "The comment")
    access.require(actor, C.COMMENT)
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True, scope=actor_scope(actor))
        await append_event(conn, case.id, E.COMMENTED, None, None, actor, None, note,
                            datetime.now(UTC))  # fmt: skip


#: A clock step → who may take it and the event it writes (None: the pending request's grant).
#: The handler asks (HANDLE); a dispatcher decides, or acts directly (PAUSE_CLOCKS).
CLOCK_STEPS: dict[str, tuple[C, CaseEventType | None]] = {
    "suspend": (C.PAUSE_CLOCKS, E.SUSPENDED),
    "resume": (C.PAUSE_CLOCKS, E.RESUMED),
    "extend": (C.PAUSE_CLOCKS, E.EXTENDED),
    "request_suspension": (C.HANDLE, E.SUSPENSION_REQUESTED),
    "request_extension": (C.HANDLE, E.EXTENSION_REQUESTED),
    "approve": (C.PAUSE_CLOCKS, None),
    "refuse": (C.PAUSE_CLOCKS, E.REQUEST_REFUSED),
}
#: The clock steps ``Case.allowedActions`` lists (GraphQL names the last two
#: APPROVE_CLOCK_REQUEST and REFUSE_CLOCK_REQUEST): the handler's requests, a dispatcher's
#: decision on one, and resuming a suspended clock. A dispatcher's direct suspend and extend are
#: GraphQL's alone.
CLOCK_ACTIONS = ("request_suspension", "request_extension", "resume", "approve", "refuse")
#: The longest one extension may be: 30 working days of 8 hours.
MAX_EXTENSION_MINUTES = 30 * 8 * 60


async def clock_step(
    conn: AsyncConnection[Any],
    case_id: int,
    step: str,
    actor: Principal,
    *,
    reason: str,
    extended_minutes: int | None = None,
) -> CaseRecord:
    """A step on the current stage's clock (a key of CLOCK_STEPS): an event on the timeline,
    the status unchanged. Suspend (挂起) stops the clock until resumed; extend (延期) adds
    ``extended_minutes`` of working time to the stage's limit. The handling department may
    request either; a dispatcher approves (the request's minutes) or refuses it, or suspends
    and extends directly (and so does not request: Forbidden).

    Conflict for a case out of the workflow, a second suspension, a resume of a running clock,
    a second pending request, or a decision with no request pending."""
    if step not in CLOCK_STEPS:
        raise InvalidInput(f"Unknown clock step {step!r}; one of {', '.join(CLOCK_STEPS)}.")
    capability, event = CLOCK_STEPS[step]
    access.require(actor, capability)
    if event in GRANTS and actor.can(C.PAUSE_CLOCKS):
        raise Forbidden(
            "You may suspend or extend the clock yourself (suspendCase, extendCase); requests "
            "are the handling department's, for a dispatcher to decide."
        )
    if not reason.strip():
        raise InvalidInput("A clock step needs a reason.", field="reason")
    check_text(reason, "The reason")
    if event in (E.EXTENDED, E.EXTENSION_REQUESTED):
        if extended_minutes is None or not 0 < extended_minutes <= MAX_EXTENSION_MINUTES:
            raise InvalidInput(
                f"An extension is 1 to {MAX_EXTENSION_MINUTES} working minutes.",
                field="extended_minutes",
            )
    else:
        extended_minutes = None
    async with conn.transaction():
        case = await load_case(conn, case_id, lock=True, scope=step_scope(actor, capability))
        if S(case.status) not in OPEN_CASE_STATUSES:
            raise Conflict(f"Case {case.public_id} is {case.status}: it has no clock.",
                           case_status=case.status)  # fmt: skip
        run = current_stage(await _timeline(conn, case.id))
        if event is None and run is not None and run.pending is not None:
            event = GRANTS[run.pending.event_type]
            extended_minutes = run.pending.extended_minutes
        if problem := _clock_conflict(event, run):
            raise Conflict(f"Case {case.public_id}: {problem}", case_status=case.status)
        assert event is not None
        now = datetime.now(UTC)
        await conn.execute("UPDATE cases SET updated_at = %s WHERE id = %s", (now, case.id))
        await append_event(conn, case.id, event, None, None, actor, None, reason, now,
                            extended_minutes=extended_minutes)  # fmt: skip
        return await load_case(conn, case.id)


def clock_actions(
    actor: Principal, status: CaseStatus | str, run: StageRun | None, *, handles: bool = True
) -> list[str]:
    """The steps of CLOCK_ACTIONS ``actor`` may take on a case in ``status`` whose current
    stage is ``run`` (geo.services.clocks.current_stage of its timeline), read through
    geo.access.case_scope; ``handles``: geo.access.handles_case for its department — the rules
    :func:`clock_step` applies."""
    if S(status) not in OPEN_CASE_STATUSES:
        return []
    found = []
    for step in CLOCK_ACTIONS:
        capability, event = CLOCK_STEPS[step]
        if not actor.can(capability) or (capability is C.HANDLE and not handles):
            continue
        if event in GRANTS and actor.can(C.PAUSE_CLOCKS):
            continue  # who may act directly does not ask
        if event is None and run is not None and run.pending is not None:
            event = GRANTS[run.pending.event_type]
        if _clock_conflict(event, run) is None:
            found.append(step)
    return found


def _clock_conflict(event: CaseEventType | None, run: StageRun | None) -> str | None:
    """Why ``event`` cannot follow the stage's state, or None."""
    suspended = run is not None and run.suspended
    pending = run is not None and run.pending is not None
    if event is None or (event == E.REQUEST_REFUSED and not pending):
        return "no suspension or extension request is waiting for a decision."
    if event in (E.SUSPENDED, E.SUSPENSION_REQUESTED) and suspended:
        return "the clock is already suspended."
    if event == E.RESUMED and not suspended:
        return "the clock is not suspended."
    if event in GRANTS and pending:
        return "a request is already waiting for a decision."
    return None


async def _no_open_tasks(conn: AsyncConnection[Any], case: CaseRecord) -> None:
    """The lead (主办) resolves once every co-handling and joint task is done or declined:
    Conflict naming the departments still at work."""
    rows = await (
        await conn.execute(
            "SELECT d.name_zh, k.status FROM case_tasks k JOIN departments d "
            "ON d.id = k.department_id WHERE k.case_id = %s AND k.status IN ('open', "
            "'in_progress') ORDER BY k.id",
            (case.id,),
        )
    ).fetchall()
    if rows:
        waiting = ", ".join(f"{name} ({status})" for name, status in rows)
        raise Conflict(
            f"Case {case.public_id} has open co-handling tasks: {waiting}. The lead department "
            "resolves once each is done or declined.",
            case_status=case.status,
        )


async def _timeline(conn: AsyncConnection[Any], case_id: int) -> list[TimelineEvent]:
    rows = await (
        await conn.execute(
            "SELECT event_type, to_status, at, extended_minutes FROM case_events "
            "WHERE case_id = %s ORDER BY at, id",
            (case_id,),
        )
    ).fetchall()
    return [TimelineEvent(*row) for row in rows]


async def _dispatch_changes(
    conn: AsyncConnection[Any],
    case: CaseRecord,
    now: datetime,
    department_id: int | None,
    assignee_id: int | None,
) -> dict[str, Any]:
    dept = department_id or case.department_id
    row = await (
        await conn.execute(
            "SELECT d.id FROM case_categories cc "
            "JOIN departments d ON d.id = coalesce(%s, cc.department_id) WHERE cc.code = %s",
            (dept, case.category),
        )
    ).fetchone()
    if row is None:
        raise InvalidInput(f"No department with id {dept}.", field="department_id")
    if assignee_id is not None:
        ok = await (
            await conn.execute(
                "SELECT 1 FROM users WHERE id = %s AND department_id = %s AND status = 'active'",
                (assignee_id, row[0]),
            )
        ).fetchone()
        if ok is None:
            raise InvalidInput(
                f"User {assignee_id} is not active staff of department {row[0]}.",
                field="assignee_id",
            )
    return {
        "department_id": row[0],
        "assignee_id": assignee_id,
        "dispatched_at": now,  # due_at follows from the dispatched event (_store_due_at)
    }


async def _duplicate_target(
    conn: AsyncConnection[Any], case: CaseRecord, duplicate_of: int | None, scope: str
) -> int:
    if duplicate_of is None:
        raise InvalidInput("Marking a duplicate needs the id of the original case.")
    if duplicate_of == case.id:
        raise InvalidInput("A case cannot duplicate itself.")
    row = await (
        await conn.execute(
            f"SELECT c.status FROM cases c WHERE c.id = %s AND ({scope})",  # noqa: S608
            (duplicate_of,),
        )
    ).fetchone()
    if row is None:
        raise NotFound(f"No case with id {duplicate_of}.")
    if row[0] == S.DUPLICATE.value:
        raise InvalidInput("The original is itself a duplicate: point at its original.")
    return duplicate_of


async def append_event(
    conn: AsyncConnection[Any],
    case_id: int,
    event: CaseEventType,
    from_status: CaseStatus | None,
    to_status: CaseStatus | None,
    actor: Principal,
    department_id: int | None,
    note: str | None,
    at: datetime,
    *,
    extended_minutes: int | None = None,
    from_department_id: int | None = None,
    task_id: int | None = None,
) -> int:
    """Append an event (its audit row, its notification, the case's evaluation facts); its id."""
    row = await (
        await conn.execute(
            "INSERT INTO case_events (case_id, event_type, from_status, to_status, actor_id, "
            "department_id, note, at, extended_minutes, from_department_id, task_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                case_id,
                event.value,
                from_status and from_status.value,
                to_status and to_status.value,
                actor.user_id,
                department_id,
                note,
                at,
                extended_minutes,
                from_department_id,
                task_id,
            ),
        )
    ).fetchone()
    assert row is not None
    # Every write is in the hash-chained audit trail too, in the same transaction (case_events
    # is append-only but not chained: a superuser could rewrite it unseen).
    await audit.record(
        conn, actor_id=actor.user_id, actor_role=actor.audit_role, action=f"case.{event.value}",
        object_type="case", object_id=case_id, client_addr=None,
        detail={"event": int(row[0]), "to_status": to_status and to_status.value},
    )  # fmt: skip
    # Delivered on commit, to every listening worker; the payload is small and carries no
    # personal data (subscribers load what their caller may see).
    payload = json.dumps({"event_id": row[0], "case_id": case_id, "event_type": event.value,
                          "to_status": to_status and to_status.value})  # fmt: skip
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
    if case_facts.changes_facts(event, to_status):
        await case_facts.refresh(conn, [case_id])  # evaluation's row, exact at this commit
    if to_status is S.DISPATCHED or event in DUE_MOVES:
        await _store_due_at(conn, case_id, at)
    return int(row[0])


#: The events after which the handle stage's deadline may have moved (besides a dispatch).
DUE_MOVES = frozenset({E.TRANSFERRED, E.EXTENDED, E.SUSPENDED, E.RESUMED})


async def _store_due_at(conn: AsyncConnection[Any], case_id: int, now: datetime) -> None:
    """``cases.due_at``: the running handle stage's deadline on the city's working calendar
    (geo.services.clocks, the limit with its extensions and suspensions), as the case's clock
    reads it at ``now``. A suspended clock has no deadline: the last one stays until resumed."""
    row = await (
        await conn.execute("SELECT category FROM cases WHERE id = %s", (case_id,))
    ).fetchone()
    assert row is not None
    rules = case_facts.rules()
    (limits,) = await fetch(conn, stage_limits([row[0]]))
    minutes = {stage: limit.minutes(rules.hours) for stage, limit in limits.items()}
    clock = clock_of(await _timeline(conn, case_id), minutes, rules, now)
    if clock is not None and clock.stage is Stage.HANDLE and clock.deadline is not None:
        await conn.execute("UPDATE cases SET due_at = %s WHERE id = %s", (clock.deadline, case_id))


async def lock_case(conn: AsyncConnection[Any], case_id: int, actor: Principal) -> CaseRecord:
    """The case, locked for update, within ``actor``'s jurisdiction (NotFound outside it)."""
    return await load_case(conn, case_id, lock=True, scope=actor_scope(actor))


async def get_case(
    conn: AsyncConnection[Any], case_id: int, actor: Principal | None = None
) -> CaseRecord:
    """The case, within ``actor``'s jurisdiction when given (NotFound outside it). Without an
    actor: for callers that already proved the right to it (a reporter's own case)."""
    return await load_case(conn, case_id, scope="TRUE" if actor is None else actor_scope(actor))


async def _check_cell_in_scope(conn: AsyncConnection[Any], actor: Principal, cell: int) -> None:
    predicate = access.cell_scope(actor.jurisdiction, "g.id")
    found = await (
        await conn.execute(
            f"SELECT 1 FROM grid_cells g WHERE g.id = %s AND {predicate}",  # noqa: S608
            (cell,),
        )
    ).fetchone()
    if found is None:
        raise Forbidden("The place lies outside your jurisdiction.")


async def load_case(
    conn: AsyncConnection[Any], case_id: int, *, lock: bool = False, scope: str = "TRUE"
) -> CaseRecord:
    """``scope`` is a geo.access predicate on alias c (SQL text built from integers)."""
    suffix = " FOR UPDATE OF c" if lock else ""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = %s AND ({scope}){suffix}",  # noqa: S608
            (case_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No case with id {case_id}.")
    return CaseRecord(**row)
