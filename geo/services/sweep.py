"""The supervision sweep: once for the whole city, every ONEMAP_SUPERVISION_SWEEP_SECONDS.

One transaction under a PostgreSQL advisory lock (``pg_try_advisory_xact_lock``): with several
server processes (and ``onemap sweep``) one sweeps at a time, the others skip. Idempotent: a
second sweep at the same ``now`` finds nothing to do, so every notification and escalation is
made once. Set-based: the stored clocks (geo.services.clock_states) are recomputed only for the
cases that changed since; the rest is a handful of statements over ``case_clock_states``:

1. recompute the rows of the cases changed since the last sweep (an index range on
   ``cases.updated_at``, from the last sweep's start less ``MARGIN``), dropping those of cases
   that left the workflow; every ``RECONCILE`` instead look at every open case and row (a
   safety net for cases written with an old ``updated_at``); at most ``CATCH_UP`` a sweep, so a
   city whose stored clocks were never built (``onemap seed`` and ``onemap migrate`` build them,
   ``onemap sweep --rebuild`` too) is worked off over several sweeps, none of them long;
2. tell the dispatchers of suspension and extension requests waiting for them;
3. notify the first time a stage warns or is overdue (the handling department in the handle
   stage, the dispatchers in dispatch and check): partial indexes hold just the clocks not yet
   notified of the line they are before;
4. escalate cases overdue by ``escalate_after`` working minutes to the district, by twice that
   to the city: an ``escalated`` event per level (once per level and stage), notified to that
   level and to the department;
5. mark open supervisions past their deadline missed (``supervision_missed`` on their cases),
   notified to the supervisor and the department.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo.access import system
from geo.enums import Audience, CaseEventType, EscalationLevel, NotificationKind
from geo.services import clock_states, staff_notifications
from geo.services.clock_states import OPEN_SQL, RANK, SupervisionRules
from geo.services.clocks import ClockRules
from geo.services.staff_notifications import Notice
from geo.services.timeline_writes import NewEvent, append

log = logging.getLogger("onemap.sweep")
E = CaseEventType
#: The advisory lock's key: "onemap sweep" (any fixed bigint; no other lock uses it).
LOCK_KEY = 0x6F6E_656D_6170_5357
SYSTEM = system()
LEVEL_NAME = {EscalationLevel.DISTRICT: "区级", EscalationLevel.CITY: "市级"}
#: How far before the last sweep's start changed cases are looked for: a step's transaction
#: stamps ``updated_at`` when it runs and may commit a little later.
MARGIN = timedelta(minutes=10)
#: How often a sweep looks at every open case instead of the changed ones.
RECONCILE = timedelta(hours=1)
#: At most this many stored clocks are rebuilt by one sweep (a few seconds' work); a larger
#: backlog (a bulk load written around the services) is worked off over the next sweeps, or at
#: once, outside the sweep's lock, by ``onemap sweep --rebuild`` (clock_states.rebuild).
CATCH_UP = 10_000


@dataclass(frozen=True)
class SweepReport:
    ran: bool
    full: bool = False
    dropped: int = 0
    refreshed: int = 0
    #: Stale stored clocks left for the next sweeps (more than CATCH_UP were found).
    backlog: int = 0
    requests: int = 0
    warnings: int = 0
    overdue: int = 0
    escalations: int = 0
    missed: int = 0
    notifications: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, Any]:
        return asdict(self)


async def sweep(
    conn: AsyncConnection[Any], now: datetime, rules: ClockRules, supervision: SupervisionRules,
    *, full: bool | None = None,
) -> SweepReport:  # fmt: skip
    """Sweep the city at ``now``; ``ran`` is False when another process holds the lock.
    ``full``: look at every open case (default: when the last reconciliation is ``RECONCILE``
    old), else at the cases changed since the last sweep."""
    started = time.perf_counter()
    async with conn.transaction():
        cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,))
        locked = await cur.fetchone()
        if not (locked and locked[0]):
            return SweepReport(ran=False)
        cur = await conn.execute(
            "SELECT clock_timestamp(), m.started_at, m.reconciled_at FROM (SELECT 1) AS one "
            "LEFT JOIN supervision_sweeps m ON m.id = 1"
        )
        mark = await cur.fetchone()
        assert mark is not None
        begun, last, reconciled = mark
        if full is None:
            full = last is None or reconciled is None or begun - reconciled >= RECONCILE
        dropped = 0
        if full:
            dropped = await clock_states.drop_closed(conn)
            stale = await clock_states.stale_ids(conn)
        else:
            stale = await clock_states.changed_ids(conn, last - MARGIN)
        backlog = max(0, len(stale) - CATCH_UP)
        refreshed, gone = await clock_states.refresh(conn, stale[:CATCH_UP], rules, supervision,
                                                     now)  # fmt: skip
        requests = await notify_requests(conn, now)
        warnings, overdue = await _crossings(conn, now)
        escalations, escalation_notes = await _escalations(conn, now, rules)
        missed, missed_notes = await _missed(conn, now)
        report = SweepReport(
            True, full, dropped + gone, refreshed, backlog, requests, warnings, overdue,
            escalations, missed, requests + warnings + overdue + escalation_notes + missed_notes,
            round(time.perf_counter() - started, 3),
        )  # fmt: skip
        # The reconciliation mark of a full sweep with a backlog is set an interval back, so
        # the next sweep looks at every case again; a usual one's starting mark stays.
        reconciled = begun if backlog == 0 else begun - RECONCILE
        await conn.execute(
            "INSERT INTO supervision_sweeps (id, started_at, reconciled_at, report) "
            "VALUES (1, %(begun)s, %(reconciled)s, %(report)s) "
            "ON CONFLICT (id) DO UPDATE SET report = excluded.report, "
            "started_at = CASE WHEN %(done)s THEN excluded.started_at "
            "ELSE supervision_sweeps.started_at END, reconciled_at = "
            "CASE WHEN %(full)s THEN excluded.reconciled_at "
            "ELSE supervision_sweeps.reconciled_at END",
            {"begun": begun, "reconciled": reconciled, "full": full, "done": backlog == 0,
             "report": Jsonb(report.counts())},
        )  # fmt: skip
    changed = report.notifications or report.refreshed or report.dropped
    if report.backlog:
        log.warning("supervision sweep: %d stale stored clocks left for the next sweeps "
                    "(`onemap sweep --rebuild` builds them at once)", report.backlog,
                    extra=report.counts())  # fmt: skip
    else:
        log.log(logging.INFO if changed else logging.DEBUG, "supervision sweep",
                extra=report.counts())  # fmt: skip
    return report


_REQUESTS = """
WITH due AS (
  UPDATE case_clock_states s SET pending_notified_at = s.pending_at
  WHERE s.pending_at IS NOT NULL AND s.pending_notified_at IS DISTINCT FROM s.pending_at
    {only}
  RETURNING s.case_id, s.stage)
INSERT INTO staff_notifications (kind, audience, case_id, stage, created_at)
SELECT 'clock_request', 'dispatchers', due.case_id, due.stage, %(now)s FROM due
RETURNING id
"""


async def notify_requests(
    conn: AsyncConnection[Any], now: datetime, case_ids: list[int] | None = None
) -> int:
    """Notify the dispatchers, once each, of suspension and extension requests waiting for
    them (of ``case_ids`` only, when given); how many."""
    only = "" if case_ids is None else "AND s.case_id = ANY(%(ids)s)"
    cur = await conn.execute(_REQUESTS.format(only=only), {"now": now, "ids": case_ids})
    ids = [int(r[0]) for r in await cur.fetchall()]
    await staff_notifications.announce(conn, ids)
    return len(ids)


#: Only the clocks past a line they were not notified of (each branch a partial index).
_CROSSINGS = f"""
WITH at_now AS (
  SELECT s.case_id, s.notified,
         CASE WHEN s.suspended THEN s.state
              WHEN s.due_at <= %(now)s THEN 'overdue'
              WHEN s.warning_at <= %(now)s THEN 'warning' ELSE 'on_time' END AS state
  FROM case_clock_states s
  WHERE (s.notified <> 'overdue' AND s.due_at <= %(now)s)
     OR (s.notified = 'on_time' AND s.warning_at <= %(now)s)
     OR (s.suspended AND s.state <> s.notified)),
moved AS (
  UPDATE case_clock_states s SET state = n.state, notified = n.state
  FROM at_now n
  WHERE n.case_id = s.case_id AND {RANK.format("n.state")} > {RANK.format("n.notified")}
  RETURNING s.case_id, s.stage, s.due_at, n.state, TRUE AS tell)
INSERT INTO staff_notifications (kind, audience, case_id, department_id, stage, deadline,
  created_at)
SELECT m.state,
       CASE WHEN m.stage = 'handle' AND c.department_id IS NOT NULL
            THEN 'department' ELSE 'dispatchers' END,
       m.case_id,
       CASE WHEN m.stage = 'handle' THEN c.department_id END,
       m.stage, m.due_at, %(now)s
FROM moved m JOIN cases c ON c.id = m.case_id
WHERE m.tell AND c.status IN {OPEN_SQL}
RETURNING id, kind
"""  # noqa: S608 - constants and geo.access predicates


async def _crossings(conn: AsyncConnection[Any], now: datetime) -> tuple[int, int]:
    """The first warning and overdue of a stage notified (the stored state follows); how many
    warnings, how many overdue."""
    cur = await conn.execute(_CROSSINGS, {"now": now})
    rows = await cur.fetchall()
    await staff_notifications.announce(conn, [int(r[0]) for r in rows])
    warnings = sum(1 for r in rows if r[1] == "warning")
    return warnings, len(rows) - warnings


_ESCALATE = f"""
SELECT s.case_id, s.stage, s.due_at, s.escalation_level, s.district_at, s.city_at,
       c.department_id
FROM case_clock_states s JOIN cases c ON c.id = s.case_id
WHERE NOT s.suspended AND s.case_updated_at = c.updated_at AND c.status IN {OPEN_SQL}
  AND ((s.escalation_level IS NULL AND s.district_at <= %(now)s)
       OR (s.escalation_level = 'district' AND s.city_at <= %(now)s))
ORDER BY s.case_id
FOR UPDATE OF s
"""  # noqa: S608 - constants and geo.access predicates


async def _escalations(
    conn: AsyncConnection[Any], now: datetime, rules: ClockRules
) -> tuple[int, int]:
    """Escalate what is overdue long enough, once per level; (escalations, notifications)."""
    cur = await conn.execute(_ESCALATE, {"now": now})
    found = await cur.fetchall()
    events: list[NewEvent] = []
    notices: list[Notice] = []
    reached: dict[int, str] = {}
    for case_id, stage, due_at, level, _district_at, city_at, department in found:
        levels = []
        if level is None:
            levels.append(EscalationLevel.DISTRICT)
        if city_at <= now:
            levels.append(EscalationLevel.CITY)
        late = rules.hours.minutes_between(due_at, now)
        for lv in levels:
            note = f"超时 {late} 工作分钟，升级至{LEVEL_NAME[lv]}督办 (overdue {late} working " \
                   f"minutes: escalated to the {lv.value} level)"  # fmt: skip
            events.append(NewEvent(case_id, E.ESCALATED, note, escalation_level=lv.value))
            audience = Audience.DISTRICT if lv is EscalationLevel.DISTRICT else Audience.CITY
            notices.append(Notice(NotificationKind.ESCALATED, audience, case_id, stage=stage,
                                  level=lv.value, deadline=due_at, note=note))  # fmt: skip
        top = levels[-1]
        reached[case_id] = top.value
        if stage == "handle" and department is not None:
            notices.append(Notice(NotificationKind.ESCALATED, Audience.DEPARTMENT, case_id,
                                  department_id=department, stage=stage, level=top.value,
                                  deadline=due_at))  # fmt: skip
    if not events:
        return 0, 0
    await conn.execute(
        "UPDATE case_clock_states s SET escalation_level = r.level "
        "FROM unnest(%s::bigint[], %s::text[]) AS r(case_id, level) WHERE s.case_id = r.case_id",
        (list(reached), list(reached.values())),
    )
    await append(conn, events, SYSTEM, now)
    await staff_notifications.send(conn, notices, now)
    return len(events), len(notices)


async def _missed(conn: AsyncConnection[Any], now: datetime) -> tuple[int, int]:
    """Open supervisions past their deadline → missed; (supervisions, notifications)."""
    cur = await conn.execute(
        "UPDATE supervisions SET status = 'missed', missed_at = %(now)s "
        "WHERE status = 'open' AND deadline <= %(now)s "
        "RETURNING id, supervisor_id, department_id, deadline",
        {"now": now},
    )
    missed = await cur.fetchall()
    if not missed:
        return 0, 0
    cur = await conn.execute(
        "SELECT supervision_id, case_id FROM supervision_cases WHERE supervision_id = ANY(%s) "
        "ORDER BY supervision_id, case_id",
        ([r[0] for r in missed],),
    )
    note = "督办期限已过，未答复 (the supervision's deadline passed unanswered)"
    events = [NewEvent(case_id, E.SUPERVISION_MISSED, note, sid)
              for sid, case_id in await cur.fetchall()]  # fmt: skip
    await append(conn, events, SYSTEM, now)
    notices: list[Notice] = []
    for sid, supervisor, department, deadline in missed:
        notices.append(
            Notice(
                NotificationKind.SUPERVISION_MISSED,
                Audience.USER,
                user_id=supervisor,
                supervision_id=sid,
                deadline=deadline,
            )
        )
        notices.append(
            Notice(
                NotificationKind.SUPERVISION_MISSED,
                Audience.DEPARTMENT,
                department_id=department,
                supervision_id=sid,
                deadline=deadline,
            )
        )
    await staff_notifications.send(conn, notices, now)  # fmt: skip
    return len(missed), len(notices)


async def after_step(
    conn: AsyncConnection[Any], case_id: int, rules: ClockRules, supervision: SupervisionRules,
    now: datetime,
) -> None:  # fmt: skip
    """Right after a case step commits: its stored clock anew, and a waiting request told to
    the dispatchers now rather than at the next sweep."""
    async with conn.transaction():
        await clock_states.refresh(conn, [case_id], rules, supervision, now)
        await notify_requests(conn, now, [case_id])
