"""Building the stored clocks of a whole city without one long sweep: ``onemap sweep
--rebuild`` (and ``onemap seed``/``migrate``) build them in committed batches with progress; a
sweep that finds more stale clocks than ``CATCH_UP`` rebuilds that many, reports the rest as
its backlog and leaves its marks so that the next sweeps find them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest

from geo.services import sweep as sweep_module
from geo.services.clock_states import OPEN_SQL, SupervisionRules
from geo.services.clocks import ClockRules
from geo.services.sweep import SweepReport, sweep
from tests.case_helpers import constructed_case, sh
from tests.test_cli import _run


def _sweep(database_url: str, full: bool | None = None) -> SweepReport:
    async def go() -> SweepReport:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await sweep(conn, datetime.now(UTC), ClockRules(), SupervisionRules(),
                               full=full)  # fmt: skip

    return asyncio.run(go())


def _make_stale(database_url: str, count: int) -> list[int]:
    """``count`` open cases whose stored clock no longer matches the case (a write around the
    services): their rows' stamps moved back (after a sweep built every row)."""
    assert _sweep(database_url, full=True).backlog == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "UPDATE case_clock_states SET case_updated_at = case_updated_at - interval '1 s' "
            "WHERE case_id IN (SELECT case_id FROM case_clock_states ORDER BY case_id DESC "
            "LIMIT %s) RETURNING case_id",
            (count,),
        ).fetchall()
    assert len(rows) == count
    return sorted(r[0] for r in rows)


def _stale(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM cases c LEFT JOIN case_clock_states s ON s.case_id = c.id "
            f"WHERE c.status IN {OPEN_SQL} AND (s.case_id IS NULL "
            f"OR s.case_updated_at IS DISTINCT FROM c.updated_at)"
        ).fetchone()
    assert row is not None
    return int(row[0])


def _marks(database_url: str) -> tuple[datetime, datetime]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT started_at, reconciled_at FROM supervision_sweeps WHERE id = 1"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_a_backlog_is_worked_off_over_several_sweeps(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_stale(database_url, 12)
    monkeypatch.setattr(sweep_module, "CATCH_UP", 5)
    before = _marks(database_url)

    first = _sweep(database_url, full=True)
    assert (first.ran, first.refreshed, first.backlog) == (True, 5, 7)
    # Not reconciled: the next sweep looks at every open case again.
    started, reconciled = _marks(database_url)
    assert started == before[0]
    assert reconciled <= datetime.now(UTC) - sweep_module.RECONCILE
    assert _stale(database_url) == 7
    second = _sweep(database_url)
    assert (second.full, second.refreshed, second.backlog) == (True, 5, 2)
    third = _sweep(database_url)
    assert (third.refreshed, third.backlog) == (2, 0)
    assert _stale(database_url) == 0
    started, reconciled = _marks(database_url)
    assert started > before[0] and reconciled == started
    assert _sweep(database_url).full is False  # reconciled: back to the changed cases


def test_onemap_sweep_rebuild_builds_every_stale_clock_with_progress(database_url: str) -> None:
    stale = _make_stale(database_url, 30)
    done = _run("sweep", "--rebuild", env={"ONEMAP_DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    assert "clocks" in done.stderr  # the progress bar's label
    assert f"stored clocks of {len(stale)} open cases built" in done.stderr
    assert _stale(database_url) == 0

    again = _run("sweep", "--rebuild", "--every", env={"ONEMAP_DATABASE_URL": database_url})
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM cases WHERE status IN {OPEN_SQL}").fetchone()
    assert row is not None
    assert f"stored clocks of {row[0]:,} open cases built" in again.stderr


def _imported_late_cases(database_url: str, count: int) -> list[int]:
    """``count`` cases imported around the services, dispatched a month ago: long overdue,
    never swept (their clocks not built yet)."""
    assert _sweep(database_url, full=True).backlog == 0  # everything else built
    return [constructed_case(database_url, "road_damage", sh("2026-10-26", "09:00"),
                             sh("2026-10-26", "09:30")) for _ in range(count)]  # fmt: skip


def _told_after(database_url: str, ids: list[int], build: list[str]) -> tuple[int, int]:
    """Build the clocks (``onemap sweep`` with ``build``), sweep, and count the notifications
    and events the sweep made for ``ids``."""
    done = _run("sweep", *build, env={"ONEMAP_DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    with psycopg.connect(database_url) as conn:
        marks = conn.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM staff_notifications), "
            "(SELECT coalesce(max(id), 0) FROM case_events)"
        ).fetchone()
    assert marks is not None
    assert _sweep(database_url).ran
    with psycopg.connect(database_url) as conn:
        told = conn.execute(
            "SELECT (SELECT count(*) FROM staff_notifications WHERE case_id = ANY(%(ids)s) "
            "AND id > %(n)s), (SELECT count(*) FROM case_events WHERE case_id = ANY(%(ids)s) "
            "AND id > %(e)s)",
            {"ids": ids, "n": marks[0], "e": marks[1]},
        ).fetchone()
    assert told is not None
    return int(told[0]), int(told[1])


def test_a_loaded_past_is_not_told_of_again(database_url: str) -> None:
    """``--told`` (what ``onemap seed`` does): the late clocks it builds count as notified and
    escalated as far as they are now, so the next sweep tells and escalates nothing of them;
    built without it, the same kind of cases are told of and escalated to both levels."""
    past = _imported_late_cases(database_url, 3)
    assert _told_after(database_url, past, ["--rebuild", "--told"]) == (0, 0)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT state, notified, escalation_level FROM case_clock_states "
            "WHERE case_id = ANY(%s)",
            (past,),
        ).fetchall()
    assert rows == [("overdue", "overdue", "city")] * 3
    # A later step on them (their clocks refreshed) keeps the level the past reached.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE cases SET updated_at = clock_timestamp() WHERE id = ANY(%s)", (past,))
    assert _told_after(database_url, past, ["--rebuild"]) == (0, 0)

    fresh = _imported_late_cases(database_url, 3)
    notices, events = _told_after(database_url, fresh, ["--rebuild"])
    assert events == 3 * 2  # escalated to the district and the city
    assert notices > 0


def test_the_reconciliation_drops_the_clock_of_a_case_closed_behind_its_back(
    database_url: str,
) -> None:
    (case_id,) = _make_stale(database_url, 1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        status = conn.execute("SELECT status FROM cases WHERE id = %s", (case_id,)).fetchone()
        # Closed with its old stamp (an import): the usual sweep does not see it change.
        conn.execute("UPDATE cases SET status = 'closed', closed_at = now() WHERE id = %s",
                     (case_id,))  # fmt: skip
    try:
        report = _sweep(database_url, full=True)
        assert report.dropped >= 1
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM case_clock_states WHERE case_id = %s", (case_id,)
            ).fetchone()
        assert row == (0,)
    finally:  # the session's other tests read a consistent city
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE cases SET status = %s, closed_at = NULL WHERE id = %s",
                         (status[0] if status else "dispatched", case_id))  # fmt: skip
