"""Each open case's stored clock (``case_clock_states``): the current stage's warning instant,
deadline and escalation instants, so warning and overdue lists are filtered and ordered in SQL
and the sweep finds what crossed a line with set-based statements.

Derived data, written from the timeline with the pure clock (geo.services.clocks): by the
sweep for every open case whose row is missing or older than the case (``case_updated_at``
differs from ``cases.updated_at``: every step that can move a clock updates the case), and by
GraphQL case steps right after they commit. ``Case.clock`` is never read from here.

A running clock's instants do not move until the next step, so between steps the state at any
``now`` follows from them in SQL: overdue once ``due_at`` ≤ now, warning once ``warning_at``
≤ now. A suspended clock stands still: its stored ``state`` is the one it stopped in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from geo.enums import OPEN_CASE_STATUSES, CaseEventType, ClockState, EscalationLevel, Stage
from geo.queries import fetch
from geo.queries.stage_limits import stage_limits
from geo.services.clocks import ClockRules, TimelineEvent, clock_of, current_stage

E = CaseEventType
#: The escalation levels in order: a case reaches the first after ``escalate_after`` working
#: minutes overdue, the next after as many more.
LEVELS = (EscalationLevel.DISTRICT, EscalationLevel.CITY)
#: How many cases' timelines are read at once.
BATCH = 2_000
OPEN_SQL = "(" + ", ".join(f"'{s.value}'" for s in sorted(OPEN_CASE_STATUSES)) + ")"


@dataclass(frozen=True)
class SupervisionRules:
    """When overdue cases escalate: ``escalate_after`` working minutes past the deadline to the
    district, as many more to the city (ONEMAP_SUPERVISION_ESCALATE_AFTER)."""

    escalate_after: int = 240


@dataclass(frozen=True)
class ClockRow:
    """One ``case_clock_states`` row, before it is written."""

    case_id: int
    stage: Stage
    started_at: datetime
    warning_at: datetime | None
    due_at: datetime | None
    state: ClockState
    suspended: bool
    limit_minutes: int
    escalation_level: EscalationLevel | None
    district_at: datetime | None
    city_at: datetime | None
    pending_at: datetime | None
    case_updated_at: datetime


@dataclass(frozen=True)
class Timeline:
    """What the stored clock reads of a case: its events and the escalations among them."""

    events: list[TimelineEvent]
    escalations: list[tuple[datetime, str]]


def clock_row(
    case_id: int,
    timeline: Timeline,
    limits: Mapping[Stage, int],
    rules: ClockRules,
    supervision: SupervisionRules,
    now: datetime,
    case_updated_at: datetime,
) -> ClockRow | None:
    """The row of a case with ``timeline`` at ``now`` (pure); None when it has no clock."""
    clock = clock_of(timeline.events, limits, rules, now)
    run = current_stage(timeline.events)
    if clock is None or run is None:
        return None
    hours = rules.hours
    warning_at = due_at = district_at = city_at = None
    if not clock.suspended:
        paused = sum(hours.minutes_between(a, b or now) for a, b in run.pauses)
        warn = math.ceil(rules.warning_share * clock.limit_minutes)
        warning_at = hours.add(run.started_at, warn + paused)
        due_at = clock.deadline
        assert due_at is not None
        district_at = hours.add(due_at, supervision.escalate_after)
        city_at = hours.add(due_at, 2 * supervision.escalate_after)
    reached = {level for at, level in timeline.escalations if at >= run.started_at}
    level = next((lv for lv in reversed(LEVELS) if lv.value in reached), None)
    return ClockRow(
        case_id, clock.stage, clock.started_at, warning_at, due_at, clock.state, clock.suspended,
        clock.limit_minutes, level, district_at, city_at,
        clock.pending.at if clock.pending else None, case_updated_at,
    )  # fmt: skip


async def timelines(conn: AsyncConnection[Any], ids: Sequence[int]) -> dict[int, Timeline]:
    """The timelines of cases ``ids``, in one statement."""
    found: dict[int, Timeline] = {i: Timeline([], []) for i in ids}
    cur = await conn.execute(
        "SELECT case_id, event_type, to_status, at, extended_minutes, escalation_level "
        "FROM case_events WHERE case_id = ANY(%s) ORDER BY case_id, at, id",
        (list(ids),),
    )
    for case_id, kind, to_status, at, minutes, level in await cur.fetchall():
        line = found[case_id]
        line.events.append(TimelineEvent(kind, to_status, at, minutes))
        if kind == E.ESCALATED:
            line.escalations.append((at, level))
    return found


async def refresh(
    conn: AsyncConnection[Any],
    ids: Iterable[int],
    rules: ClockRules,
    supervision: SupervisionRules,
    now: datetime,
) -> tuple[int, int]:
    """Recompute and store the rows of cases ``ids`` (rows of cases without a clock go);
    how many rows were written and how many went. Run it in the caller's transaction."""
    wanted = sorted(set(ids))
    written = dropped = 0
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        cur = await conn.execute(
            f"SELECT id, category, updated_at FROM cases WHERE id = ANY(%s) "  # noqa: S608
            f"AND status IN {OPEN_SQL}",
            (chunk,),
        )
        cases = await cur.fetchall()
        categories = sorted({c[1] for c in cases})
        limits_list = await fetch(conn, stage_limits(categories))
        limits = {
            code: {stage: limit.minutes(rules.hours) for stage, limit in found.items()}
            for code, found in zip(categories, limits_list, strict=True)
        }
        lines = await timelines(conn, [c[0] for c in cases])
        rows = [
            row
            for case_id, category, updated in cases
            if (row := clock_row(case_id, lines[case_id], limits[category], rules, supervision,
                                 now, updated)) is not None
        ]  # fmt: skip
        keep = {r.case_id for r in rows}
        gone = [i for i in chunk if i not in keep]
        if gone:
            cur = await conn.execute(
                "DELETE FROM case_clock_states WHERE case_id = ANY(%s)", (gone,)
            )
            dropped += cur.rowcount
        if rows:
            await _upsert(conn, rows, now)
        written += len(rows)
    return written, dropped


#: The rank of a clock state, for "the furthest state notified".
RANK = "array_position(ARRAY['on_time', 'warning', 'overdue']::text[], {})"

_UPSERT = f"""
INSERT INTO case_clock_states AS s (case_id, stage, started_at, warning_at, due_at, state,
  suspended, limit_minutes, escalation_level, district_at, city_at, pending_at,
  case_updated_at, computed_at)
SELECT r.*, %(now)s FROM unnest(%(case_id)s::bigint[], %(stage)s::text[],
  %(started_at)s::timestamptz[], %(warning_at)s::timestamptz[], %(due_at)s::timestamptz[],
  %(state)s::text[], %(suspended)s::boolean[], %(limit_minutes)s::int[],
  %(escalation_level)s::text[], %(district_at)s::timestamptz[], %(city_at)s::timestamptz[],
  %(pending_at)s::timestamptz[], %(case_updated_at)s::timestamptz[]) AS r
ON CONFLICT (case_id) DO UPDATE SET
  stage = excluded.stage, started_at = excluded.started_at, warning_at = excluded.warning_at,
  due_at = excluded.due_at, state = excluded.state, suspended = excluded.suspended,
  limit_minutes = excluded.limit_minutes,
  district_at = excluded.district_at, city_at = excluded.city_at,
  pending_at = excluded.pending_at, case_updated_at = excluded.case_updated_at,
  computed_at = excluded.computed_at,
  -- Within the same stage the level reached stays (a loaded past's, set without events).
  escalation_level = CASE WHEN s.stage = excluded.stage AND s.started_at = excluded.started_at
                          AND 'city' IN (s.escalation_level, excluded.escalation_level)
                          THEN 'city'
                          WHEN s.stage = excluded.stage AND s.started_at = excluded.started_at
                          AND 'district' IN (s.escalation_level, excluded.escalation_level)
                          THEN 'district'
                          ELSE excluded.escalation_level END,
  -- Within the same stage, what was notified stays notified, unless the clock went back
  -- (an extension): then it may be notified again when it gets there again.
  notified = CASE WHEN s.stage = excluded.stage AND s.started_at = excluded.started_at
                  AND {RANK.format("s.notified")} <= {RANK.format("excluded.state")}
                  THEN s.notified
                  WHEN s.stage = excluded.stage AND s.started_at = excluded.started_at
                  THEN excluded.state ELSE 'on_time' END,
  pending_notified_at = CASE WHEN s.stage = excluded.stage
                             AND s.started_at = excluded.started_at
                             THEN s.pending_notified_at END
"""  # noqa: S608 - constants and geo.access predicates


async def _upsert(conn: AsyncConnection[Any], rows: Sequence[ClockRow], now: datetime) -> None:
    columns = ("case_id", "stage", "started_at", "warning_at", "due_at", "state", "suspended",
               "limit_minutes", "escalation_level", "district_at", "city_at", "pending_at",
               "case_updated_at")  # fmt: skip
    params: dict[str, Any] = {c: [_plain(getattr(r, c)) for r in rows] for c in columns}
    params["now"] = now
    await conn.execute(_UPSERT, params)


def _plain(value: object) -> object:
    return value.value if isinstance(value, Stage | ClockState | EscalationLevel) else value


async def rebuild(
    conn: AsyncConnection[Any], rules: ClockRules, supervision: SupervisionRules, *,
    every: bool = False, told: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:  # fmt: skip
    """Build the stored clocks of the open cases whose row is missing or stale (``every``: of
    every open case, after a change of limits or calendar), ``BATCH`` cases a transaction, so a
    city's first build (a bulk load, the seed, an upgraded database) neither holds one long
    transaction nor the sweep's lock; idempotent, so a sweep running meanwhile does no harm.
    ``told``: a loaded past nobody is to be told of again (the seed, an import of old cases):
    the rows start as notified of the state they are in, their waiting requests told and their
    escalation at the level its instants reached — the sweep acts only on what happens after.
    ``progress(done, total)`` after each batch; returns how many were built.
    ``conn`` in autocommit mode."""
    ids = await (open_ids(conn) if every else stale_ids(conn))
    done = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        async with conn.transaction():
            now = (await (await conn.execute("SELECT now()")).fetchone() or [None])[0]
            await refresh(conn, chunk, rules, supervision, now)
            if told:
                await conn.execute(_TOLD, {"ids": chunk, "now": now})
        done += len(chunk)
        if progress is not None:
            progress(done, len(ids))
    return done


_TOLD = """
UPDATE case_clock_states SET notified = state, pending_notified_at = pending_at,
  escalation_level = CASE WHEN city_at <= %(now)s THEN 'city'
                          WHEN district_at <= %(now)s THEN 'district'
                          ELSE escalation_level END
WHERE case_id = ANY(%(ids)s)
"""


async def present(conn: AsyncConnection[Any]) -> bool:
    """Whether the database has stored clocks (a revision since 0015)."""
    cur = await conn.execute("SELECT to_regclass('case_clock_states') IS NOT NULL")
    row = await cur.fetchone()
    return bool(row and row[0])


async def open_ids(conn: AsyncConnection[Any]) -> list[int]:
    """Every open case, by id."""
    cur = await conn.execute(f"SELECT id FROM cases WHERE status IN {OPEN_SQL} ORDER BY id")  # noqa: S608
    return [int(r[0]) for r in await cur.fetchall()]


async def changed_ids(conn: AsyncConnection[Any], since: datetime) -> list[int]:
    """Cases changed after ``since`` whose row is missing, older than the case, or of a case
    that left the workflow (an index range on ``cases.updated_at``: the sweep's usual way)."""
    cur = await conn.execute(
        f"SELECT c.id FROM cases c LEFT JOIN case_clock_states s ON s.case_id = c.id "  # noqa: S608
        f"WHERE c.updated_at > %(since)s AND (c.status IN {OPEN_SQL} OR s.case_id IS NOT NULL) "
        f"AND (s.case_id IS NULL OR s.case_updated_at IS DISTINCT FROM c.updated_at "
        f"OR c.status NOT IN {OPEN_SQL})",
        {"since": since},
    )
    return [int(r[0]) for r in await cur.fetchall()]


async def stale_ids(conn: AsyncConnection[Any]) -> list[int]:
    """Open cases whose row is missing or older than the case (every open case looked at)."""
    cur = await conn.execute(
        f"SELECT c.id FROM cases c LEFT JOIN case_clock_states s ON s.case_id = c.id "  # noqa: S608
        f"WHERE c.status IN {OPEN_SQL} "
        "AND (s.case_id IS NULL OR s.case_updated_at IS DISTINCT FROM c.updated_at) "
        "ORDER BY c.id"
    )
    return [int(r[0]) for r in await cur.fetchall()]


async def drop_closed(conn: AsyncConnection[Any]) -> int:
    """Remove the rows of cases that left the workflow; how many went."""
    # Found first by an anti-join of the two indexes in order (a merge of index-only scans;
    # the same test inside a DELETE is planned as a hash join reading every open case's row).
    cur = await conn.execute(
        f"SELECT s.case_id FROM case_clock_states s WHERE NOT EXISTS (SELECT 1 FROM cases c "  # noqa: S608
        f"WHERE c.id = s.case_id AND c.status IN {OPEN_SQL})"
    )
    gone = [int(r[0]) for r in await cur.fetchall()]
    if not gone:
        return 0
    cur = await conn.execute("DELETE FROM case_clock_states WHERE case_id = ANY(%s)", (gone,))
    return cur.rowcount
