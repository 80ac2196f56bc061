"""Evaluation (考核) and the supervision sweep on the scale-10 city (issue 14, item 9).

    .venv/bin/python bench/evaluation/run.py --database-url postgresql://…/onemap_bench \
        --month 2026-10 --runs 30 --out bench/results/evaluation-<date>.md

Rows, in one run on one database:

- **month table**: ``geo.queries.evaluation.evaluation_table`` — a month's figures by department,
  by grid worker (city-wide) and by street (one district's dispatcher), as GraphQL
  ``evaluation`` runs it: past days summed from ``case_figures_daily``; checked equal to the
  same table counted on ``case_facts`` (also timed), and the median (asked for separately);
- **plain GROUP BY**: the same figures computed straight from ``cases`` and ``case_events``
  (timeline counts aggregated per case, satisfaction from ``case_satisfaction``), on calendar
  time since the working calendar is not SQL — the query a system without facts would run;
- **drill-down**: the ids behind one department's overdue figure (first 100) and their rows;
- **sweep**: ``geo.services.sweep.sweep`` over every open case — the first after the seed (its
  notices and escalations of the seeded late cases), the usual sweep with nothing new and after
  100 case steps (the notification and escalation statements run over every open case's stored
  clock), and the hourly full reconciliation (every open case and stored clock looked at). The
  stored clocks themselves are built by ``onemap seed`` (``onemap sweep --rebuild``).

Each statement runs ``--runs`` times after two warm-ups on one connection; p50 and p90 in ms.
Needs a database migrated to head and seeded (``onemap seed --scale 10``), facts built.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from geo.queries import fetch_sync
from geo.queries.evaluation import evaluation_cases, evaluation_medians, evaluation_table
from geo.services.clock_states import SupervisionRules
from geo.services.clocks import ClockRules
from geo.services.sweep import sweep

SH = ZoneInfo("Asia/Shanghai")
SILENT = ("ran", "full", "seconds")

PLAIN = """
WITH ev AS (
  SELECT case_id, count(*) FILTER (WHERE event_type = 'reopened') AS reopened,
         count(*) FILTER (WHERE event_type = 'transferred') AS transferred,
         count(*) FILTER (WHERE event_type = 'return_accepted') AS returned
  FROM case_events GROUP BY case_id
), s AS (
  SELECT DISTINCT ON (case_id) case_id, satisfaction, at FROM case_satisfaction
  ORDER BY case_id, at DESC
)
SELECT c.department_id,
  count(*) FILTER (WHERE c.reported_at >= %(a)s AND c.reported_at < %(b)s) AS received,
  count(*) FILTER (WHERE c.resolved_at >= %(a)s AND c.resolved_at < %(b)s) AS resolved,
  count(*) FILTER (WHERE c.resolved_at >= %(a)s AND c.resolved_at < %(b)s
                   AND c.resolved_at <= c.due_at) AS handled_on_time,
  count(*) FILTER (WHERE c.closed_at >= %(a)s AND c.closed_at < %(b)s
                   AND c.status = 'closed') AS closed,
  count(*) FILTER (WHERE c.closed_at >= %(a)s AND c.closed_at < %(b)s AND c.status = 'closed'
                   AND c.resolved_at <= c.due_at) AS closed_on_time,
  count(*) FILTER (WHERE c.due_at >= %(a)s AND c.due_at < %(b)s AND c.due_at <= now()
                   AND coalesce(c.resolved_at, now()) > c.due_at) AS overdue,
  count(*) FILTER (WHERE c.reported_at >= %(a)s AND c.reported_at < %(b)s
                   AND ev.reopened > 0) AS reopened,
  count(*) FILTER (WHERE c.reported_at >= %(a)s AND c.reported_at < %(b)s
                   AND ev.transferred > 0) AS transferred,
  count(*) FILTER (WHERE c.reported_at >= %(a)s AND c.reported_at < %(b)s
                   AND ev.returned > 0) AS returned,
  count(s.*) FILTER (WHERE s.at >= %(a)s AND s.at < %(b)s) AS rated,
  count(s.*) FILTER (WHERE s.at >= %(a)s AND s.at < %(b)s
                     AND s.satisfaction IN ('satisfied', 'basically_satisfied')) AS satisfied,
  avg(extract(epoch FROM c.resolved_at - c.dispatched_at) / 60)
    FILTER (WHERE c.resolved_at >= %(a)s AND c.resolved_at < %(b)s) AS mean_minutes,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.resolved_at - c.dispatched_at))
    FILTER (WHERE c.resolved_at >= %(a)s AND c.resolved_at < %(b)s) AS median_seconds
FROM cases c LEFT JOIN ev ON ev.case_id = c.id LEFT JOIN s ON s.case_id = c.id
WHERE (c.reported_at >= %(a)s AND c.reported_at < %(b)s)
   OR (c.resolved_at >= %(a)s AND c.resolved_at < %(b)s)
   OR (c.closed_at >= %(a)s AND c.closed_at < %(b)s)
   OR (c.due_at >= %(a)s AND c.due_at < %(b)s)
   OR (s.at >= %(a)s AND s.at < %(b)s)
GROUP BY GROUPING SETS ((c.department_id), ())
"""


def timed(call: Callable[[], Any], runs: int) -> dict[str, float]:
    for _ in range(2):
        call()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"p50": statistics.median(samples), "p90": samples[int(0.9 * (len(samples) - 1))],
            "runs": runs}  # fmt: skip


def month_range(month: str) -> tuple[datetime, datetime]:
    first = date.fromisoformat(month + "-01")
    nxt = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, datetime.min.time(), SH), datetime.combine(
        nxt, datetime.min.time(), SH
    )


async def sweeps(url: str, runs: int) -> dict[str, dict[str, Any]]:
    """The sweep rows. The stored clocks are built by ``onemap seed`` (clock_states.rebuild);
    the first sweep after it tells and escalates the seeded warning and overdue cases."""
    rules, supervision = ClockRules(), SupervisionRules()
    out: dict[str, dict[str, Any]] = {}

    async def timed_sweeps(full: bool, before: Callable[[], Any] | None = None) -> dict[str, Any]:
        samples, report = [], None
        for _ in range(runs):
            if before is not None:
                await before()
            t0 = time.perf_counter()
            report = await sweep(conn, datetime.now(UTC), rules, supervision, full=full)
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        assert report is not None
        assert report.ran
        assert not report.backlog
        return {"p50": statistics.median(samples), "p90": samples[-1], "runs": runs,
                "report": report}  # fmt: skip

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        first = await sweep(conn, datetime.now(UTC), rules, supervision, full=True)
        out["first sweep of the run (a full one, cold)"] = {
            "p50": (time.perf_counter() - t0) * 1000, "p90": float("nan"), "runs": 1,
            "report": first}  # fmt: skip
        out["usual sweep, nothing new"] = await timed_sweeps(False)

        async def steps() -> None:  # 100 case steps since the last sweep (their stamps move)
            await conn.execute(
                "UPDATE cases SET updated_at = clock_timestamp() WHERE id IN (SELECT id FROM "
                "cases WHERE status IN ('dispatched', 'in_progress') ORDER BY random() "
                "LIMIT 100)"
            )

        out["usual sweep after 100 case steps"] = await timed_sweeps(False, steps)
        out["full reconciliation (every open case and stored clock looked at)"] = (
            await timed_sweeps(True))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/onemap_bench")
    ap.add_argument("--month", default="2026-10", help="YYYY-MM")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--sweep-runs", type=int, default=5)
    ap.add_argument("--no-sweep", action="store_true", help="Skip the sweep rows.")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    since, until = month_range(args.month)
    rows: dict[str, dict[str, Any]] = {}
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]  # type: ignore[index]
        open_ = conn.execute("SELECT count(*) FROM cases WHERE status IN "
                             "('reported', 'dispatched', 'in_progress', 'resolved')").fetchone()[0]  # type: ignore[index]  # fmt: skip
        today = datetime.combine(datetime.now(SH).date(), datetime.min.time(), SH)
        dept = evaluation_table("department", "TRUE", since, until, districts=(), today=today)
        worker = evaluation_table("worker", "TRUE", since, until, districts=(), today=today)
        district = conn.execute("SELECT id FROM admin_areas WHERE level = 'district' "
                                "ORDER BY code LIMIT 1").fetchone()[0]  # type: ignore[index]  # fmt: skip
        mine = evaluation_table("street", f"f.district_id = ANY(ARRAY[{int(district)}])", since,
                                until, districts=(int(district),), today=today)  # fmt: skip
        counted = evaluation_table("department", "TRUE", since, until)
        medians = evaluation_medians("department", "TRUE", since, until)
        table = fetch_sync(conn, dept)
        assert table == fetch_sync(conn, counted), "daily figures differ from the facts"
        top = max((r for r in table if not r["total"]), key=lambda r: r["overdue"])
        rows["month table by department (daily figures)"] = timed(
            lambda: fetch_sync(conn, dept), args.runs)  # fmt: skip
        rows["month table by grid worker (daily figures)"] = timed(
            lambda: fetch_sync(conn, worker), args.runs)  # fmt: skip
        rows[f"month table by street, one district's dispatcher (district {district})"] = timed(
            lambda: fetch_sync(conn, mine), args.runs)  # fmt: skip
        rows["month table by department counted on case_facts (no daily figures)"] = timed(
            lambda: fetch_sync(conn, counted), max(3, args.runs // 5))  # fmt: skip
        rows["median handling minutes by department (asked for separately)"] = timed(
            lambda: fetch_sync(conn, medians), max(3, args.runs // 5))  # fmt: skip
        plain = {"a": since, "b": until}
        rows["plain GROUP BY over cases and case_events"] = timed(
            lambda: conn.execute(PLAIN, plain).fetchall(), max(3, args.runs // 10))  # fmt: skip
        drill = evaluation_cases("department", str(top["key"]), "overdue", "TRUE", since, until,
                                 None, 100)  # fmt: skip

        def drill_down() -> None:
            ids = fetch_sync(conn, drill)
            conn.execute("SELECT * FROM cases WHERE id = ANY(%s)", (ids,)).fetchall()

        rows[f"drill-down: department {top['key']} overdue, first 100"] = timed(
            drill_down, args.runs)  # fmt: skip
        total = next(r for r in table if r["total"])
    if not args.no_sweep:
        rows.update(asyncio.run(sweeps(args.database_url, args.sweep_runs)))
    ratio = rows["plain GROUP BY over cases and case_events"]["p50"] / rows[
        "month table by department (daily figures)"]["p50"]  # fmt: skip
    lines = [
        f"# Evaluation benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"Command: `python bench/evaluation/run.py --database-url {args.database_url} --month "
        f"{args.month} --runs {args.runs} --sweep-runs {args.sweep_runs}"
        + (" --no-sweep" if args.no_sweep else "") + (f" --out {args.out}`" if args.out else "`"),
        "",
        f"{cases:,} cases ({open_:,} open); month {args.month}: {total['received']:,} received, "
        f"{total['resolved']:,} resolved, {total['overdue']:,} went overdue. One connection, "
        "2 cores shared with PostgreSQL.", "",
        "| row | p50 ms | p90 ms | runs |", "|---|---:|---:|---:|",
    ]  # fmt: skip
    for name, r in rows.items():
        lines.append(f"| {name} | {r['p50']:.1f} | {r['p90']:.1f} | {r['runs']} |")
    lines += ["", f"Month table vs the plain GROUP BY: **{ratio:.0f}×** (p50 ÷ p50, same run)."]
    told = [(name, r["report"]) for name, r in rows.items() if "report" in r]
    if told:
        lines += ["", "What the sweeps did (the last run of each row):", ""]
        for name, rep in told:
            done = [f"{k} {v:,}" for k, v in rep.counts().items() if k not in SILENT and v]
            lines.append(f"- {name}: " + (", ".join(done) or "nothing"))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
