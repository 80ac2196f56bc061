"""Evaluation facts of constructed timelines with known answers (geo.services.case_facts):
working minutes on the official calendar, suspensions, extensions, overdue instants."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from geo.enums import CaseEventType, Stage
from geo.services.case_facts import FACT_EVENTS, changes_facts, facts_of
from geo.services.clocks import ClockRules, TimelineEvent

SH = ZoneInfo("Asia/Shanghai")
RULES = ClockRules()
LIMITS = {Stage.DISPATCH: 120, Stage.HANDLE: 480, Stage.CHECK: 480}


def at(day: str, clock: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time.fromisoformat(clock), SH)


def ev(kind: str, to: str | None, when: datetime, minutes: int | None = None) -> TimelineEvent:
    return TimelineEvent(kind, to, when, minutes)


def flow(*steps: tuple[str, str | None, datetime]) -> list[TimelineEvent]:
    return [ev(kind, to, when) for kind, to, when in steps]


NOW = at("2026-12-31", "12:00")


def test_a_case_handled_within_its_limit_over_a_weekend() -> None:
    # Dispatched Friday 27 Nov 16:00, resolved Monday 30 Nov 14:00: 1 h Friday + 5 h Monday.
    events = flow(("reported", "reported", at("2026-11-27", "15:00")),
                  ("dispatched", "dispatched", at("2026-11-27", "16:00")),
                  ("started", "in_progress", at("2026-11-30", "09:30")),
                  ("resolved", "resolved", at("2026-11-30", "14:00")),
                  ("closed", "closed", at("2026-11-30", "15:00")))  # fmt: skip
    f = facts_of(events, LIMITS, RULES, NOW)
    assert (f.handle_minutes, f.handle_limit_minutes, f.handled_on_time) == (360, 480, True)
    # dispatch took 1 h of 2; check 1 h of 8: nothing overran.
    assert f.overdue_at is None
    assert (f.reopened, f.transferred, f.returned) == (0, 0, 0)


def test_a_late_resolution_is_overdue_at_the_deadline_on_the_official_calendar() -> None:
    # Dispatched Friday 3 April 17:00 before 清明 (Monday 6 April off): 8 working hours run out
    # Tuesday 7 April 17:00; resolved Wednesday 10:00.
    events = flow(("reported", "reported", at("2026-04-03", "15:00")),
                  ("dispatched", "dispatched", at("2026-04-03", "17:00")),
                  ("started", "in_progress", at("2026-04-07", "09:00")),
                  ("resolved", "resolved", at("2026-04-08", "10:00")))  # fmt: skip
    f = facts_of(events, LIMITS, RULES, NOW)
    assert f.handled_on_time is False
    assert f.handle_minutes == 480 + 60
    assert f.overdue_at == at("2026-04-07", "17:00")


def test_a_suspension_stops_and_an_extension_moves_the_deadline() -> None:
    events = [ev("reported", "reported", at("2026-11-23", "09:00")),
              ev("dispatched", "dispatched", at("2026-11-23", "10:00")),
              ev("suspended", None, at("2026-11-23", "12:00")),   # 2 h used
              ev("resumed", None, at("2026-11-24", "12:00")),     # a working day stood still
              ev("extended", None, at("2026-11-24", "13:00"), 240),
              ev("started", "in_progress", at("2026-11-24", "14:00")),
              ev("resolved", "resolved", at("2026-11-25", "11:00")),
              ev("closed", "closed", at("2026-11-25", "12:00"))]  # fmt: skip
    f = facts_of(events, LIMITS, RULES, NOW)
    # Active: Mon 10–12 (2 h), Tue 12–17 (5 h), Wed 9–11 (2 h) = 9 h against 8 + 4 h.
    assert (f.handle_minutes, f.handle_limit_minutes, f.handled_on_time) == (540, 720, True)
    assert f.overdue_at is None


def test_a_running_stage_is_overdue_from_its_deadline_even_in_the_future() -> None:
    events = flow(("reported", "reported", at("2026-12-30", "09:00")),
                  ("dispatched", "dispatched", at("2026-12-30", "10:00")))  # fmt: skip
    now = at("2026-12-30", "12:00")
    f = facts_of(events, LIMITS, RULES, now)
    # 8 working hours from Wednesday 30 Dec 10:00: 7 h that day, the last one on Thursday.
    assert f.overdue_at == at("2026-12-31", "10:00")
    assert (f.handle_minutes, f.handled_on_time) == (None, None)


def test_a_suspended_running_stage_has_no_overdue_instant() -> None:
    events = flow(("reported", "reported", at("2026-12-30", "09:00")),
                  ("dispatched", "dispatched", at("2026-12-30", "10:00")),
                  ("suspended", None, at("2026-12-30", "11:00")))  # fmt: skip
    assert facts_of(events, LIMITS, RULES, NOW).overdue_at is None


def test_reopened_transfers_and_returns_are_counted() -> None:
    events = flow(("reported", "reported", at("2026-11-23", "09:00")),
                  ("dispatched", "dispatched", at("2026-11-23", "09:10")),
                  ("transferred", None, at("2026-11-23", "09:20")),
                  ("return_accepted", "reported", at("2026-11-23", "09:30")),
                  ("dispatched", "dispatched", at("2026-11-23", "09:40")),
                  ("started", "in_progress", at("2026-11-23", "09:50")),
                  ("resolved", "resolved", at("2026-11-23", "10:00")),
                  ("reopened", "in_progress", at("2026-11-23", "11:00")),
                  ("resolved", "resolved", at("2026-11-23", "12:00")))  # fmt: skip
    f = facts_of(events, LIMITS, RULES, NOW)
    assert (f.reopened, f.transferred, f.returned) == (1, 1, 1)
    # handle runs: 09:10–09:30 (20 min), 09:40–10:00 (20), 11:00–12:00 (60)
    assert (f.handle_minutes, f.handled_on_time) == (100, True)


def test_only_the_events_that_change_facts_are_refreshed_for() -> None:
    """``changes_facts`` lets the sweep skip the facts of escalations and the like: every other
    event, slipped into a timeline with suspensions, extensions and a reopen, changes nothing."""
    base = flow(("reported", "reported", at("2026-11-23", "09:00")),
                ("dispatched", "dispatched", at("2026-11-23", "09:10")),
                ("suspended", None, at("2026-11-23", "10:00")),
                ("resumed", None, at("2026-11-24", "10:00")),
                ("resolved", "resolved", at("2026-11-25", "16:00")),
                ("reopened", "in_progress", at("2026-11-26", "09:00")))  # fmt: skip
    base.insert(4, ev("extended", None, at("2026-11-24", "11:00"), 60))
    expected = facts_of(base, LIMITS, RULES, NOW)
    others = [k for k in CaseEventType if not changes_facts(k.value, None)]
    assert "escalated" in others
    assert "supervised" in others
    for kind in others:
        for i in range(1, len(base) + 1):
            timeline = [*base[:i], ev(kind.value, None, base[i - 1].at), *base[i:]]
            assert facts_of(timeline, LIMITS, RULES, NOW) == expected, (kind, i)
    for kind in FACT_EVENTS:  # and each of these does change something somewhere
        changed = False
        for i in range(1, len(base) + 1):
            timeline = [*base[:i], ev(kind.value, None, base[i - 1].at, 30), *base[i:]]
            changed |= facts_of(timeline, LIMITS, RULES, NOW) != expected
        assert changed, kind
