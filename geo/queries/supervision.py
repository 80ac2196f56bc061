"""Reads of supervision (督办): warning and overdue lists from the stored clocks, the staff
inbox, supervisions. Every one carries the caller's jurisdiction from geo.access in its SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from geo import access
from geo.access import Principal
from geo.enums import ClockState
from geo.queries import Query, Rows
from geo.services.clock_states import OPEN_SQL
from geo.services.supervision import SELECT as SUPERVISION_SELECT
from geo.services.supervision import SupervisionRecord, overdue_sql

#: The clock is in the warning state at now (alias s of case_clock_states).
WARNING_SQL = ("((s.suspended AND s.state = 'warning') OR "
               "(NOT s.suspended AND s.warning_at <= %(now)s AND s.due_at > %(now)s))")  # fmt: skip


def clock_page(
    principal: Principal,
    state: ClockState,
    now: datetime,
    limit: int,
    after: tuple[datetime | None, int] | None,
    department_id: int | None = None,
) -> Query[list[tuple[int, datetime | None]]]:
    """Ids of the caller's cases whose clock is in ``state`` at ``now``, by deadline then id,
    suspended clocks (no deadline) last — the order of ``ix_case_clock_states_due_at``, so a
    page reads that index until it has enough rows; keyset after ``after``. With each its
    deadline. Rows older than their case are left out (the next sweep or the step's own
    refresh brings them back). "Not older" is written ``>=``, not ``=``: the same rows, but an
    equality between the two tables' columns made the planner expect one row and sort every
    overdue case of the city instead of walking the index (100 ms against 9 ms at 16,000)."""
    predicate = overdue_sql() if state is ClockState.OVERDUE else WARNING_SQL
    scope = access.case_scope(principal, "c")
    if after is None:
        position = "TRUE"
    elif after[0] is None:
        position = "(s.due_at IS NULL AND s.case_id > %(id)s)"
    else:
        position = ("(s.due_at > %(k)s OR (s.due_at = %(k)s AND s.case_id > %(id)s) "
                    "OR s.due_at IS NULL)")  # fmt: skip
    statement = f"""
SELECT s.case_id, s.due_at
FROM case_clock_states s JOIN cases c ON c.id = s.case_id
WHERE s.case_updated_at >= c.updated_at
  AND c.status IN {OPEN_SQL} AND {predicate} AND ({scope}) AND {position}
  AND (%(dept)s::int IS NULL OR c.department_id = %(dept)s)
ORDER BY s.due_at ASC NULLS LAST, s.case_id LIMIT %(limit)s
"""  # noqa: S608 - constants and geo.access predicates
    params = {"now": now, "dept": department_id, "limit": limit,
              "k": after[0] if after else None, "id": after[1] if after else None}  # fmt: skip
    return Query(sql.SQL(statement), params, lambda rs: [(int(r[0]), r[1]) for r in rs])


@dataclass(frozen=True)
class NotificationRow:
    id: int
    kind: str
    case_id: int | None
    case_public_id: str | None
    supervision_id: int | None
    department_id: int | None
    stage: str | None
    level: str | None
    deadline: datetime | None
    note: str | None
    created_at: datetime
    read: bool


def inbox(
    principal: Principal,
    *,
    limit: int = 1000,
    before: int | None = None,
    unread_only: bool = False,
    ids: Sequence[int] | None = None,
) -> Query[list[NotificationRow]]:
    """The caller's notifications, newest first: before id ``before``, unread only, or just
    ``ids`` (the subscription's new ones)."""
    scope = access.notification_scope(principal, "n", "c")
    statement = f"""
SELECT n.id, n.kind, n.case_id, c.public_id, n.supervision_id, n.department_id, n.stage, n.level,
       n.deadline, n.note, n.created_at, n.id <= coalesce(r.read_through, 0) AS read
FROM staff_notifications n LEFT JOIN cases c ON c.id = n.case_id
LEFT JOIN staff_notification_reads r ON r.user_id = %(me)s
WHERE {scope}
  AND (%(before)s::bigint IS NULL OR n.id < %(before)s)
  AND (NOT %(unread)s OR n.id > coalesce(r.read_through, 0))
  AND (%(ids)s::bigint[] IS NULL OR n.id = ANY(%(ids)s))
ORDER BY n.id DESC LIMIT %(limit)s
"""  # noqa: S608 - constants and geo.access predicates
    params = {"me": principal.user_id, "before": before, "unread": unread_only,
              "ids": list(ids) if ids is not None else None, "limit": limit}  # fmt: skip
    return Query(sql.SQL(statement), params, _rows)


def _rows(rows: Rows) -> list[NotificationRow]:
    return [NotificationRow(*r) for r in rows]


def unread_count(principal: Principal, cap: int = 1000) -> Query[int]:
    """How many unread notifications the caller has, counted up to ``cap``."""
    scope = access.notification_scope(principal, "n", "c")
    statement = f"""
SELECT count(*) FROM (SELECT 1 FROM staff_notifications n LEFT JOIN cases c ON c.id = n.case_id
WHERE {scope} AND n.id > coalesce((SELECT read_through FROM staff_notification_reads
                                   WHERE user_id = %(me)s), 0)
LIMIT %(cap)s) AS unread
"""  # noqa: S608 - constants and geo.access predicates
    return Query(sql.SQL(statement), {"me": principal.user_id, "cap": cap},
                 lambda rs: int(rs[0][0]))  # fmt: skip


def supervisions(
    principal: Principal,
    *,
    statuses: Sequence[str] | None,
    limit: int,
    before: int | None,
    ids: Sequence[int] | None = None,
) -> Query[list[SupervisionRecord]]:
    """The supervisions the caller sees (their own, those over cases they see), newest first."""
    scope = access.supervision_scope(principal, "s")
    statement = f"""{SUPERVISION_SELECT}
WHERE {scope} AND (%(statuses)s::text[] IS NULL OR s.status = ANY(%(statuses)s))
  AND (%(before)s::bigint IS NULL OR s.id < %(before)s)
  AND (%(ids)s::bigint[] IS NULL OR s.id = ANY(%(ids)s))
ORDER BY s.id DESC LIMIT %(limit)s
"""
    params = {"statuses": list(statuses) if statuses else None, "before": before,
              "ids": list(ids) if ids is not None else None, "limit": limit}  # fmt: skip
    return Query(sql.SQL(statement), params,
                 lambda rs: [SupervisionRecord(*r) for r in rs])  # fmt: skip
