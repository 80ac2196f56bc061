"""Each case's evaluation facts (考核): one row of ``case_facts`` per case, the figures of
docs/evaluation.md reduce to sums and counts over it.

The row is derived from the case, its timeline, its category's stage limits and its rating by
:func:`facts_of` (pure) and rewritten by :func:`refresh` in the same transaction as every
timeline event and rating (``geo.services.cases``), so it is exact at every commit. The one
thing that changes with time alone — a running stage going overdue — is stored as the instant
it happens (``overdue_at``, possibly in the future), so "overdue by now" is a comparison in SQL.
:func:`rebuild` recomputes every row (after a bulk load such as the seed, or a change of
limits or calendar): ``onemap evaluation rebuild``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, Connection

from geo.enums import CaseEventType, CaseStatus, Stage
from geo.queries import fetch, fetch_sync
from geo.queries.stage_limits import Limits, stage_limits
from geo.services.clocks import ClockRules, StageRun, TimelineEvent, stage_runs
from geo.services.worktime import WorkingTime

E = CaseEventType
#: The rules every refresh uses; the app and the CLI set them from the settings
#: (:func:`configure`), the defaults are the settings' defaults.
_RULES = ClockRules()


def configure(rules: ClockRules) -> None:
    """Use ``rules`` (the clock settings' calendar and hours) for every fact computed after."""
    global _RULES  # one process-wide setting, set at start-up
    _RULES = rules


def rules() -> ClockRules:
    return _RULES


@dataclass(frozen=True)
class Facts:
    """What evaluation reads of one case beyond its row (docs/evaluation.md)."""

    #: Working minutes spent in the handle stage (suspensions left out), once resolved.
    handle_minutes: int | None
    #: The last handle stage's limit with its extensions, in working minutes.
    handle_limit_minutes: int | None
    #: Resolved, and every handle stage ended within its limit; None until resolved.
    handled_on_time: bool | None
    #: The first instant a stage ran past its limit (in the future for a running stage that
    #: has not yet; None when no stage overran and none is running against a limit).
    overdue_at: datetime | None
    reopened: int
    transferred: int
    returned: int


def _active(run: StageRun, until: datetime) -> list[tuple[datetime, datetime]]:
    """The run's intervals outside its suspensions, up to ``until``."""
    spans: list[tuple[datetime, datetime]] = []
    cursor = run.started_at
    for paused, resumed in run.pauses:
        if paused > cursor:
            spans.append((cursor, paused))
        if resumed is None:
            return spans
        cursor = max(cursor, resumed)
    if until > cursor:
        spans.append((cursor, until))
    return spans


def _overdue_at(run: StageRun, limit: int, hours: WorkingTime, far: datetime) -> datetime | None:
    """When ``run`` used up ``limit`` working minutes (None if it ended or stands suspended
    before that): walks its active spans; a running, unsuspended stage's deadline may lie
    beyond ``far`` (now), and is returned as it is."""
    left = limit
    spans = _active(run, run.ended_at or far)
    finished = run.ended_at is not None  # overdue only if it took longer than its limit
    if finished and sum(hours.minutes_between(a, b) for a, b in spans) <= limit:
        return None
    for n, (a, b) in enumerate(spans):
        used = hours.minutes_between(a, b)
        last_open = n == len(spans) - 1 and run.ended_at is None and not run.suspended
        if used >= left or last_open:
            return hours.add(a, left)
        left -= used
    if run.ended_at is None and not run.suspended and not spans:
        return hours.add(run.started_at, left)
    return None


def facts_of(
    events: Sequence[TimelineEvent], limits: Mapping[Stage, int], rules: ClockRules,
    now: datetime,
) -> Facts:  # fmt: skip
    """The facts of a case with ``events`` (oldest first); ``limits`` in working minutes."""
    hours = rules.hours
    runs = stage_runs(events)
    overdue: list[datetime] = []
    handle_minutes = 0
    handle_limit: int | None = None
    on_time = True
    for run in runs:
        if run.stage not in limits:
            continue
        limit = limits[run.stage] + run.extended_minutes
        if (moment := _overdue_at(run, limit, hours, now)) is not None:
            overdue.append(moment)
        if run.stage == Stage.HANDLE:
            handle_limit = limit
            if run.ended_at is not None:
                spent = sum(hours.minutes_between(a, b) for a, b in _active(run, run.ended_at))
                handle_minutes += spent
                on_time = on_time and spent <= limit
    resolved = any(e.to_status == CaseStatus.RESOLVED for e in events)
    kinds = [e.event_type for e in events]
    return Facts(
        handle_minutes=handle_minutes if resolved else None,
        handle_limit_minutes=handle_limit,
        handled_on_time=on_time if resolved else None,
        overdue_at=min(overdue) if overdue else None,
        reopened=kinds.count(E.REOPENED),
        transferred=kinds.count(E.TRANSFERRED),
        returned=kinds.count(E.RETURN_ACCEPTED),
    )


# --- the table ---------------------------------------------------------------------------------

_CASES = """
SELECT c.id, c.category, c.department_id, c.district_id, c.street_id, c.community_id,
       c.grid_cell_id, g.worker_id, c.status, c.reported_at, c.resolved_at, c.closed_at,
       r.score, r.created_at
FROM cases c JOIN grid_cells g ON g.id = c.grid_cell_id
LEFT JOIN LATERAL (
  SELECT s.satisfaction IN ('satisfied', 'basically_satisfied') AS score, s.at AS created_at
  FROM case_satisfaction s WHERE s.case_id = c.id ORDER BY s.at DESC LIMIT 1
) r ON TRUE
WHERE c.id = ANY(%(ids)s)
"""
_EVENTS = """
SELECT case_id, event_type, to_status, at, extended_minutes FROM case_events
WHERE case_id = ANY(%(ids)s) ORDER BY case_id, at, id
"""
COLUMNS = (
    "case_id", "category", "department_id", "district_id", "street_id", "community_id",
    "grid_cell_id", "grid_worker_id", "status", "reported_at", "resolved_at", "closed_at",
    "handle_minutes", "handle_limit_minutes", "handled_on_time", "closed_on_time", "overdue_at",
    "reopened", "transferred", "returned", "satisfied", "rated_at",
)  # fmt: skip
_SET = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
#: Rows a statement writes at most: one statement fires the daily figures' statement triggers
#: (migration 0017) once, so many cases are written in few statements, not one each.
UPSERT_ROWS = 2_000
_ROW = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"


def _upsert(rows: int) -> str:
    values = ", ".join([_ROW] * rows)
    return (f"INSERT INTO case_facts ({', '.join(COLUMNS)}) VALUES {values} "  # noqa: S608
            f"ON CONFLICT (case_id) DO UPDATE SET {_SET}")  # fmt: skip


#: Events besides status changes that the facts read (stage runs: suspensions and extensions;
#: counts: reopened, transferred, returned). The rest — supervision, escalation, comments,
#: tasks, clock requests, callbacks — leave a case's facts as they are.
FACT_EVENTS = frozenset(
    {E.SUSPENDED, E.RESUMED, E.EXTENDED, E.REOPENED, E.TRANSFERRED, E.RETURN_ACCEPTED}
)


def changes_facts(event_type: str, to_status: str | None) -> bool:
    """Whether an event can change its case's facts (else no refresh is needed)."""
    return to_status is not None or event_type in FACT_EVENTS


def _rows(
    cases: Iterable[tuple[Any, ...]], events: Iterable[tuple[Any, ...]],
    limits: Mapping[str, Limits], now: datetime,
) -> list[tuple[Any, ...]]:  # fmt: skip
    by_case: dict[int, list[TimelineEvent]] = {}
    for case_id, kind, to_status, at, minutes in events:
        by_case.setdefault(case_id, []).append(TimelineEvent(kind, to_status, at, minutes))
    hours = _RULES.hours
    out = []
    for (case_id, category, dept, district, street, community, cell, worker, status, reported,
         resolved, closed, score, rated) in cases:  # fmt: skip
        minutes = {stage: limit.minutes(hours) for stage, limit in limits[category].items()}
        f = facts_of(by_case.get(case_id, []), minutes, _RULES, now)
        closed_on_time = None
        if status == CaseStatus.CLOSED and closed is not None:
            closed_on_time = f.overdue_at is None or f.overdue_at > closed
        satisfied = score  # the latest answer: a callback's, or the app rating's
        out.append((
            case_id, category, dept, district, street, community, cell, worker, status, reported,
            resolved, closed, f.handle_minutes, f.handle_limit_minutes, f.handled_on_time,
            closed_on_time, f.overdue_at, f.reopened, f.transferred, f.returned, satisfied, rated,
        ))  # fmt: skip
    return out


async def refresh(conn: AsyncConnection[Any], case_ids: Sequence[int]) -> None:
    """Rewrite the facts of ``case_ids`` from what is in the database now (call it inside the
    transaction that changed them)."""
    ids = list(case_ids)
    cases = await (await conn.execute(_CASES, {"ids": ids})).fetchall()
    if not cases:
        return
    events = await (await conn.execute(_EVENTS, {"ids": ids})).fetchall()
    codes = sorted({row[1] for row in cases})
    limits = dict(zip(codes, await fetch(conn, stage_limits(codes)), strict=True))
    now = (await (await conn.execute("SELECT now()")).fetchone() or [None])[0]
    rows = _rows(cases, events, limits, now)
    for start in range(0, len(rows), UPSERT_ROWS):
        chunk = rows[start : start + UPSERT_ROWS]
        await conn.execute(_upsert(len(chunk)), [v for row in chunk for v in row])


def rebuild(
    conn: Connection[Any], *, missing_only: bool = False, batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> int:  # fmt: skip
    """Recompute the facts of every case (``missing_only``: of the cases without a row yet),
    ``batch`` cases a transaction; returns how many. ``progress(done, total)`` after each batch.
    ``conn`` in autocommit mode."""
    missing = "NOT EXISTS (SELECT 1 FROM case_facts f WHERE f.case_id = c.id)"
    where = missing if missing_only else "TRUE"
    count = f"SELECT count(*) FROM cases c WHERE {where}"  # noqa: S608 - constant text
    total = int(conn.execute(count).fetchone()[0])  # type: ignore[index]
    if total == 0:
        return 0
    codes = [r[0] for r in conn.execute("SELECT code FROM case_categories ORDER BY code")]
    limits = dict(zip(codes, fetch_sync(conn, stage_limits(codes)), strict=True))
    page = f"SELECT c.id FROM cases c WHERE c.id > %s AND {where} ORDER BY c.id LIMIT %s"  # noqa: S608
    columns = ", ".join(COLUMNS)
    done, last = 0, 0
    while True:
        with conn.transaction():
            ids = [r[0] for r in conn.execute(page, (last, batch))]
            if not ids:
                break
            now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            cases = conn.execute(_CASES, {"ids": ids}).fetchall()
            events = conn.execute(_EVENTS, {"ids": ids}).fetchall()
            rows = _rows(cases, events, limits, now)
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS case_facts_load "
                "(LIKE case_facts) ON COMMIT DELETE ROWS"
            )
            with conn.cursor().copy(f"COPY case_facts_load ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.execute(
                f"INSERT INTO case_facts ({columns}) SELECT {columns} FROM case_facts_load "  # noqa: S608
                f"ON CONFLICT (case_id) DO UPDATE SET {_SET}"
            )
        done += len(ids)
        last = ids[-1]
        if progress is not None:
            progress(done, total)
    return done


def fill_missing(conn: Connection[Any]) -> int:
    """The facts of the cases without any (after ``onemap migrate``); 0 when the database has
    no facts table (a revision before it)."""
    if conn.execute("SELECT to_regclass('case_facts')").fetchone() == (None,):
        return 0
    return rebuild(conn, missing_only=True)
