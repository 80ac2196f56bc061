"""The demo city's history (seed.history): stage times on the working calendar, open cases
warning and overdue at the reference instant, transfers, returns, tasks, callers, callbacks
and ratings, every timeline consistent with its case row; deterministic."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg
import pytest

from geo.enums import ClockState, LimitUnit, Stage
from geo.services.clocks import ClockRules, StageLimit, TimelineEvent, clock_of
from seed.generate import REFERENCE_TIME, case_rows
from seed.geography import build_city
from seed.load import _refs

Conn = psycopg.Connection[Any]
#: Seeded cases as the seed left them: other tests of the session move some of them on (their
#: steps, comments and callbacks come after the seed's reference instant).
_AFTER = f"'{REFERENCE_TIME.isoformat()}'::timestamptz + interval '1 hour'"
SEEDED_ID = "c.public_id ~ '^[0-9]{8}-[0-9]{7}$'"
SEEDED = (
    SEEDED_ID + " AND c.updated_at <= " + _AFTER
    + " AND NOT EXISTS (SELECT 1 FROM case_events x WHERE x.case_id = c.id AND x.at > "
    + _AFTER + ")"
)  # fmt: skip


def _one(conn: Conn, query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_handling_times_are_realistic(db: Conn) -> None:
    on_time, late, zero = db.execute(
        "SELECT count(*) FILTER (WHERE f.handled_on_time), "
        "count(*) FILTER (WHERE NOT f.handled_on_time), "
        f"count(*) FILTER (WHERE f.handle_minutes < 10) FROM case_facts f JOIN cases c "
        f"ON c.id = f.case_id WHERE {SEEDED} AND f.resolved_at IS NOT NULL"
    ).fetchone() or (0, 0, 0)
    assert 0.84 <= on_time / (on_time + late) <= 0.93  # ~88% on time, some run over
    assert zero == 0  # no case "handled in 0 working minutes"
    closed_on_time = _one(db, f"SELECT avg(f.closed_on_time::int) FROM case_facts f "
                              f"JOIN cases c ON c.id = f.case_id WHERE {SEEDED} "
                              "AND c.status = 'closed'")  # fmt: skip
    assert 0.7 <= closed_on_time <= 0.92


def test_reports_follow_the_daily_profile(db: Conn) -> None:
    by_hour = dict(db.execute(
        "SELECT extract(hour FROM c.reported_at AT TIME ZONE 'Asia/Shanghai')::int, count(*) "
        f"FROM cases c WHERE {SEEDED} GROUP BY 1"
    ).fetchall())  # fmt: skip
    total = sum(by_hour.values())
    day = sum(v for h, v in by_hour.items() if 8 <= h < 20)
    night = sum(v for h, v in by_hour.items() if 0 <= h < 6)
    assert day / total > 0.7
    assert night / total < 0.08


# Each query counts the seeded cases whose timeline disagrees with their row: none may.
CONSISTENCY = {
    "last status": """
        SELECT count(*) FROM cases c JOIN LATERAL (
          SELECT (array_agg(e.to_status ORDER BY e.at, e.id)
                  FILTER (WHERE e.to_status IS NOT NULL))[1:] AS statuses,
                 min(e.at) AS first_at, max(e.at) AS last_at,
                 (array_agg(e.event_type ORDER BY e.at, e.id))[1] AS first_type
          FROM case_events e WHERE e.case_id = c.id) e ON true
        WHERE {seeded} AND (e.first_type <> 'reported' OR e.first_at <> c.reported_at
           OR e.statuses[cardinality(e.statuses)] <> c.status OR e.last_at <> c.updated_at)""",
    "dispatched_at is the last dispatch": """
        SELECT count(*) FROM cases c WHERE {seeded} AND c.dispatched_at IS DISTINCT FROM (
          SELECT max(e.at) FROM case_events e WHERE e.case_id = c.id
          AND e.event_type = 'dispatched' AND c.status NOT IN ('reported', 'rejected',
          'duplicate'))""",
    "department is the last dispatch or transfer": """
        SELECT count(*) FROM cases c WHERE {seeded} AND c.status NOT IN ('reported',
          'rejected', 'duplicate') AND c.department_id IS DISTINCT FROM (
          SELECT e.department_id FROM case_events e WHERE e.case_id = c.id
          AND e.event_type IN ('dispatched', 'transferred') ORDER BY e.at DESC, e.id DESC
          LIMIT 1)""",
    "resolved_at and closed_at are their events": """
        SELECT count(*) FROM cases c WHERE {seeded} AND (
          c.resolved_at IS DISTINCT FROM (SELECT max(e.at) FROM case_events e
            WHERE e.case_id = c.id AND e.event_type = 'resolved')
          OR (c.status = 'closed' AND c.closed_at IS DISTINCT FROM (SELECT max(e.at)
            FROM case_events e WHERE e.case_id = c.id AND e.event_type = 'closed')))""",
    "steps run forward": """
        SELECT count(*) FROM cases c WHERE {seeded} AND NOT (
          c.reported_at <= coalesce(c.dispatched_at, c.reported_at)
          AND coalesce(c.dispatched_at, c.reported_at) < coalesce(c.resolved_at, 'infinity')
          AND coalesce(c.resolved_at, c.reported_at) <= coalesce(c.closed_at, 'infinity')
          AND c.updated_at <= %(ref)s::timestamptz + interval '1 hour')""",
    "a transfer leaves the department it was dispatched to": """
        SELECT count(*) FROM case_events t JOIN cases c ON c.id = t.case_id
        WHERE {seeded} AND t.event_type = 'transferred' AND (
          t.from_department_id IS NULL OR t.from_department_id = t.department_id
          OR t.from_department_id IS DISTINCT FROM (SELECT d.department_id FROM case_events d
             WHERE d.case_id = t.case_id AND d.event_type = 'dispatched' AND d.at < t.at
             ORDER BY d.at DESC LIMIT 1))""",
    "a return is requested, accepted, then dispatched again": """
        SELECT count(*) FROM case_events a JOIN cases c ON c.id = a.case_id
        WHERE {seeded} AND a.event_type = 'return_accepted' AND NOT (
          EXISTS (SELECT 1 FROM case_events r WHERE r.case_id = a.case_id
                  AND r.event_type = 'return_requested' AND r.at < a.at
                  AND r.department_id = a.department_id)
          AND EXISTS (SELECT 1 FROM case_events d WHERE d.case_id = a.case_id
                  AND d.event_type = 'dispatched' AND d.at > a.at
                  AND d.department_id <> a.department_id))""",
    "a task's events name it and its department": """
        SELECT count(*) FROM case_tasks k JOIN cases c ON c.id = k.case_id
        WHERE {seeded} AND (k.department_id = c.department_id
          OR NOT EXISTS (SELECT 1 FROM case_events e WHERE e.task_id = k.id
                         AND e.event_type = 'task_assigned' AND e.at = k.created_at
                         AND e.department_id = k.department_id)
          OR (k.status = 'done') <> EXISTS (SELECT 1 FROM case_events e WHERE e.task_id = k.id
                         AND e.event_type = 'task_done' AND e.at = k.finished_at)
          OR k.created_at < c.dispatched_at
          OR k.finished_at > coalesce(c.resolved_at, 'infinity'))""",
    "a callback follows its case's close": """
        SELECT count(*) FROM case_callbacks b JOIN cases c ON c.id = b.case_id
        JOIN case_events e ON e.id = b.close_event_id JOIN case_callers k ON k.id = b.caller_id
        WHERE {seeded} AND (e.case_id <> c.id OR e.event_type <> 'closed' OR k.case_id <> c.id
          OR c.status <> 'closed' OR NOT k.consent_callback
          OR (b.status = 'done') <> EXISTS (SELECT 1 FROM case_events r WHERE r.case_id = c.id
             AND r.event_type = 'callback_recorded' AND r.at = b.done_at AND r.at > e.at))""",
    "callers are the hotline's, ratings the reporters'": """
        SELECT (SELECT count(*) FROM case_callers k JOIN cases c ON c.id = k.case_id
                WHERE {seeded} AND (c.source <> 'hotline' OR k.name NOT LIKE '%%（演示）'))
             + (SELECT count(*) FROM ratings r JOIN cases c ON c.id = r.object_id
                WHERE r.object_type = 'case' AND {seeded} AND (c.status <> 'closed'
                  OR r.rater_id IS DISTINCT FROM c.reporter_id OR r.created_at <= c.closed_at))""",
}


@pytest.mark.parametrize("name", list(CONSISTENCY))
def test_timelines_agree_with_the_case_rows(db: Conn, name: str) -> None:
    query = CONSISTENCY[name].format(seeded=SEEDED)
    assert _one_params(db, query) == 0


def _one_params(conn: Conn, query: str) -> Any:
    row = conn.execute(query, {"ref": REFERENCE_TIME}).fetchone()
    assert row is not None
    return row[0]


def test_collaboration_and_callbacks_are_present(db: Conn) -> None:
    handled = _one(db, f"SELECT count(*) FROM cases c WHERE {SEEDED} "
                       "AND c.status IN ('in_progress', 'resolved', 'closed')")  # fmt: skip
    kinds = dict(db.execute(
        f"SELECT e.event_type, count(DISTINCT e.case_id) FROM case_events e JOIN cases c "
        f"ON c.id = e.case_id WHERE {SEEDED} GROUP BY 1"
    ).fetchall())  # fmt: skip
    assert 0.02 <= kinds["transferred"] / handled <= 0.08
    assert 1 <= kinds["return_accepted"] <= 0.03 * handled
    assert kinds["whistle_blown"] >= 1
    tasks = dict(db.execute("SELECT k.kind || '/' || k.status, count(*) FROM case_tasks k "
                            f"JOIN cases c ON c.id = k.case_id WHERE {SEEDED} "
                            "GROUP BY 1").fetchall())  # fmt: skip
    assert tasks.keys() >= {"co_handle/done", "joint/done"}
    assert sum(tasks.values()) <= 0.03 * handled
    hotline = _one(db, f"SELECT count(*) FROM cases c WHERE {SEEDED} AND c.source = 'hotline'")
    callers = _one(db, "SELECT count(*) FROM case_callers")
    assert callers >= hotline > 0  # every seeded hotline case has its caller
    said = dict(db.execute("SELECT coalesce(b.satisfaction, b.status), count(*) "
                           f"FROM case_callbacks b JOIN cases c ON c.id = b.case_id "
                           f"WHERE {SEEDED} GROUP BY 1").fetchall())  # fmt: skip
    done = said["satisfied"] + said["basically_satisfied"] + said.get("not_satisfied", 0)
    assert said["satisfied"] / done >= 0.65
    assert said.get("not_satisfied", 0) / done <= 0.15
    after_hours = _one(db, "SELECT count(*) FROM case_callbacks b JOIN cases c ON c.id = "
                           f"b.case_id WHERE {SEEDED} AND (b.done_at AT TIME ZONE "
                           "'Asia/Shanghai')::time NOT BETWEEN '09:00' AND '17:00'")  # fmt: skip
    assert after_hours == 0  # callbacks are made in working hours
    rated = _one(db, f"SELECT count(*) FROM ratings r JOIN cases c ON c.id = r.object_id "
                     f"WHERE r.object_type = 'case' AND {SEEDED}")  # fmt: skip
    app_closed = _one(db, f"SELECT count(*) FROM cases c WHERE {SEEDED} "
                          "AND c.source = 'citizen_report' AND c.status = 'closed'")  # fmt: skip
    assert 0.2 <= rated / app_closed <= 0.5


def test_open_cases_warn_and_run_over_by_the_clock_code(db: Conn) -> None:
    """At the reference instant, the clocks (geo.services.clocks) find open seeded cases in
    every state: most on time, some warning, some overdue."""
    rules = ClockRules()
    limits: dict[str, dict[Stage, int]] = defaultdict(dict)
    for category, stage, amount, unit in db.execute(
        "SELECT category, stage, amount, unit FROM case_stage_limits"
    ):
        limits[category][Stage(stage)] = StageLimit(amount, LimitUnit(unit)).minutes(rules.hours)
    events: dict[int, list[TimelineEvent]] = defaultdict(list)
    category: dict[int, str] = {}
    for case_id, cat, kind, to_status, at, extended in db.execute(
        # The seeded timelines as the seed wrote them (other tests of the session add steps,
        # escalations and comments later): the events up to the reference instant.
        "SELECT c.id, c.category, e.event_type, e.to_status, e.at, e.extended_minutes "
        "FROM cases c JOIN case_events e ON e.case_id = c.id "
        f"WHERE {SEEDED_ID} AND e.at <= {_AFTER} "
        "ORDER BY c.id, e.at, e.id"
    ):
        category[case_id] = cat
        events[case_id].append(TimelineEvent(kind, to_status, at, extended))
    states: dict[ClockState, int] = defaultdict(int)
    for case_id, timeline in events.items():
        clock = clock_of(timeline, limits[category[case_id]], rules, REFERENCE_TIME)
        if clock is not None:  # open at the reference instant
            states[clock.state] += 1
    total = sum(states.values())
    assert total > 0
    assert 0.5 <= states[ClockState.ON_TIME] / total <= 0.75
    assert 0.08 <= states[ClockState.WARNING] / total <= 0.3
    assert 0.1 <= states[ClockState.OVERDUE] / total <= 0.35


def test_the_history_is_deterministic(db: Conn) -> None:
    """The same chunk drawn twice gives the same rows, timelines and history."""
    city = build_city()
    refs = _refs(db, city)
    ids = list(range(1, 25_001))
    first, again = case_rows(city, refs, 1, ids), case_rows(city, refs, 1, ids)
    assert first == again
    assert first.tasks and first.callers and first.callbacks and first.ratings
