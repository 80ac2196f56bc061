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
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo.enums import CaseEventType, CasePriority, CaseSource, CaseStatus, Role
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, OutsideCity
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.location import grid_cell_at

CHANNEL = "onemap_case_events"
MAX_DESCRIPTION = 4000
S = CaseStatus
E = CaseEventType


@dataclass(frozen=True)
class Actor:
    """Who acts: a user id (None for a system source such as a sensor) and their roles."""

    user_id: int | None
    roles: frozenset[str]

    @classmethod
    def of(cls, user_id: int | None, roles: Iterable[str]) -> Actor:
        return cls(user_id, frozenset(roles))


@dataclass(frozen=True)
class Transition:
    event: CaseEventType
    sources: frozenset[CaseStatus]
    roles: frozenset[str]
    own_department: bool = False  # department staff may act only on their department's cases


def _t(event: E, sources: Iterable[S], roles: Iterable[Role], own: bool = False) -> Transition:
    return Transition(event, frozenset(sources), frozenset(r.value for r in roles), own)


DISPATCHERS = (Role.DISPATCHER, Role.ADMIN)
HANDLERS = (Role.DEPARTMENT_STAFF, Role.DISPATCHER, Role.ADMIN)
TRANSITIONS: dict[str, Transition] = {
    "dispatch": _t(E.DISPATCHED, [S.REPORTED], DISPATCHERS),
    "start": _t(E.STARTED, [S.DISPATCHED], HANDLERS, own=True),
    "resolve": _t(E.RESOLVED, [S.IN_PROGRESS], HANDLERS, own=True),
    "close": _t(E.CLOSED, [S.RESOLVED], DISPATCHERS),
    "reject": _t(E.REJECTED, [S.REPORTED], DISPATCHERS),
    "mark_duplicate": _t(E.MARKED_DUPLICATE, [S.REPORTED, S.DISPATCHED], DISPATCHERS),
    "reopen": _t(E.REOPENED, [S.RESOLVED, S.CLOSED, S.REJECTED, S.DUPLICATE], DISPATCHERS),
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
CREATORS = frozenset(r.value for r in (Role.CITIZEN, Role.GRID_WORKER, Role.DISPATCHER, Role.ADMIN))

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


def _check_text(value: str | None, what: str, limit: int = MAX_DESCRIPTION) -> str | None:
    if value is not None and len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed.")
    return value


async def create_case(
    conn: AsyncConnection[Any],
    *,
    actor: Actor,
    category: str,
    point: LonLat,
    description: str,
    source: CaseSource,
    priority: CasePriority = CasePriority.NORMAL,
    address: str | None = None,
) -> CaseRecord:
    """A new case, routed to the grid cell holding ``point`` and its category's department."""
    if actor.user_id is not None and actor.roles.isdisjoint(CREATORS):
        raise Forbidden("Only citizens, grid workers, dispatchers or admins may create cases.")
    _check_text(description, "The description")
    _check_text(address, "The address", 500)
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
        await _append_event(conn, row[0], E.REPORTED, None, S.REPORTED, actor, None, None, now)
        return await _load(conn, row[0])


async def transition(
    conn: AsyncConnection[Any],
    case_id: int,
    action: str,
    actor: Actor,
    *,
    note: str | None = None,
    department_id: int | None = None,
    assignee_id: int | None = None,
    duplicate_of: int | None = None,
) -> CaseRecord:
    """Apply ``action`` (a key of TRANSITIONS) to a case; Conflict when the state forbids it."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise InvalidInput(f"Unknown case action {action!r}; one of {', '.join(TRANSITIONS)}.")
    _check_text(note, "The note")
    async with conn.transaction():
        case = await _load(conn, case_id, lock=True)
        await _authorise(conn, rule, actor, case)
        status = S(case.status)
        if status not in rule.sources:
            allowed = ", ".join(sorted(s.value for s in rule.sources))
            raise Conflict(
                f"Case {case.public_id} is {status.value}; '{action}' needs it to be {allowed}.",
                case_status=status.value,
            )
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
            changes["resolved_at"] = now
        elif action in ("close", "reject"):
            changes["closed_at"] = now
        elif action == "mark_duplicate":
            changes["duplicate_of"] = await _duplicate_target(conn, case, duplicate_of)
        elif action == "reopen":
            changes.update({"closed_at": None, "duplicate_of": None})
            if target == S.IN_PROGRESS:
                changes["resolved_at"] = None
        assignments = ", ".join(f"{col} = %({col})s" for col in changes)
        await conn.execute(
            f"UPDATE cases SET {assignments} WHERE id = %(id)s",  # noqa: S608 - our column names
            {**changes, "id": case.id},
        )
        await _append_event(conn, case.id, rule.event, status, target, actor, event_department,
                            note, now)  # fmt: skip
        return await _load(conn, case.id)


async def comment(conn: AsyncConnection[Any], case_id: int, actor: Actor, note: str) -> None:
    """A note on the timeline, changing nothing else (staff only)."""
    if not note.strip():
        raise InvalidInput("A comment needs some text.")
    _check_text(note, "The comment")
    if actor.roles.isdisjoint(r.value for r in (*HANDLERS, Role.GRID_WORKER)):
        raise Forbidden("Only staff may comment on cases.")
    async with conn.transaction():
        case = await _load(conn, case_id, lock=True)
        await _append_event(conn, case.id, E.COMMENTED, None, None, actor, None, note,
                            datetime.now(UTC))  # fmt: skip


async def _authorise(
    conn: AsyncConnection[Any], rule: Transition, actor: Actor, case: CaseRecord
) -> None:
    if actor.roles.isdisjoint(rule.roles):
        raise Forbidden(
            f"'{rule.event.value}' needs one of the roles: {', '.join(sorted(rule.roles))}."
        )
    privileged = not actor.roles.isdisjoint({Role.DISPATCHER.value, Role.ADMIN.value})
    if rule.own_department and not privileged:
        row = await (
            await conn.execute("SELECT department_id FROM users WHERE id = %s", (actor.user_id,))
        ).fetchone()
        if row is None or row[0] is None or row[0] != case.department_id:
            raise Forbidden(f"Case {case.public_id} belongs to another department.")


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
            "SELECT d.id, cc.time_limit_hours FROM case_categories cc "
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
        "dispatched_at": now,
        "due_at": now + timedelta(hours=row[1]),
    }


async def _duplicate_target(
    conn: AsyncConnection[Any], case: CaseRecord, duplicate_of: int | None
) -> int:
    if duplicate_of is None:
        raise InvalidInput("Marking a duplicate needs the id of the original case.")
    if duplicate_of == case.id:
        raise InvalidInput("A case cannot duplicate itself.")
    row = await (
        await conn.execute("SELECT status FROM cases WHERE id = %s", (duplicate_of,))
    ).fetchone()
    if row is None:
        raise NotFound(f"No case with id {duplicate_of}.")
    if row[0] == S.DUPLICATE.value:
        raise InvalidInput("The original is itself a duplicate: point at its original.")
    return duplicate_of


async def _append_event(
    conn: AsyncConnection[Any],
    case_id: int,
    event: CaseEventType,
    from_status: CaseStatus | None,
    to_status: CaseStatus | None,
    actor: Actor,
    department_id: int | None,
    note: str | None,
    at: datetime,
) -> None:
    row = await (
        await conn.execute(
            "INSERT INTO case_events (case_id, event_type, from_status, to_status, actor_id, "
            "department_id, note, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                case_id,
                event.value,
                from_status and from_status.value,
                to_status and to_status.value,
                actor.user_id,
                department_id,
                note,
                at,
            ),
        )
    ).fetchone()
    assert row is not None
    # Delivered on commit, to every listening worker; the payload is small and carries no
    # personal data (subscribers load what their caller may see).
    payload = json.dumps({"event_id": row[0], "case_id": case_id, "event_type": event.value,
                          "to_status": to_status and to_status.value})  # fmt: skip
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


async def get_case(conn: AsyncConnection[Any], case_id: int) -> CaseRecord:
    return await _load(conn, case_id)


async def _load(conn: AsyncConnection[Any], case_id: int, *, lock: bool = False) -> CaseRecord:
    suffix = " FOR UPDATE OF c" if lock else ""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = %s{suffix}",  # noqa: S608
            (case_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No case with id {case_id}.")
    return CaseRecord(**row)
