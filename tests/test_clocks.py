"""Working time and case clocks on constructed dates around Chinese holidays and adjusted
working days (chinese-calendar), 09:00–17:00 Asia/Shanghai. Pure: no database, no waiting."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from geo.enums import CaseEventType as E
from geo.enums import ClockState, LimitUnit, Stage
from geo.services.clocks import ClockRules, StageLimit, TimelineEvent, clock_of
from geo.services.workdays import Calendar
from geo.services.worktime import WorkingTime
from server.kernel.settings import ClockSettings

SH = ZoneInfo("Asia/Shanghai")
HOURS = WorkingTime()
RULES = ClockRules(HOURS, 0.8)
EIGHT_HOURS = {Stage.HANDLE: 480, Stage.DISPATCH: 120, Stage.CHECK: 480}


def sh(day: str, clock: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), SH)


def test_friday_evening_plus_eight_working_hours_is_monday_evening() -> None:
    assert HOURS.add(sh("2026-11-27", "17:00"), 480) == sh("2026-11-30", "17:00")
    assert HOURS.add(sh("2026-11-27", "16:00"), 120) == sh("2026-11-30", "10:00")


def test_a_monday_holiday_moves_the_deadline_to_tuesday() -> None:
    # 清明: Saturday 4 April to Monday 6 April 2026.
    assert HOURS.add(sh("2026-04-03", "17:00"), 480) == sh("2026-04-07", "17:00")


def test_an_adjusted_working_saturday_counts() -> None:
    # National Day 2026: 1–7 October off, Saturday 10 October worked (调休).
    assert HOURS.add(sh("2026-10-09", "17:00"), 480) == sh("2026-10-10", "17:00")
    assert HOURS.add(sh("2026-09-30", "17:00"), 480) == sh("2026-10-08", "17:00")


def test_before_and_after_hours_start_at_the_next_opening() -> None:
    assert HOURS.add(sh("2026-11-30", "06:30"), 60) == sh("2026-11-30", "10:00")
    assert HOURS.add(sh("2026-11-30", "22:00"), 60) == sh("2026-12-01", "10:00")


def test_working_time_between_instants() -> None:
    assert HOURS.between(sh("2026-11-27", "16:00"), sh("2026-11-30", "10:00")) == timedelta(hours=2)
    # Wednesday 30 September 12:00 to Thursday 8 October 12:00: 5 + 3 hours over the holiday.
    assert HOURS.minutes_between(sh("2026-09-30", "12:00"), sh("2026-10-08", "12:00")) == 480
    assert HOURS.between(sh("2026-11-30", "12:00"), sh("2026-11-30", "11:00")) == timedelta(0)


def test_settings_correct_the_official_calendar_and_cover_unknown_years() -> None:
    local = WorkingTime(Calendar(frozenset({date(2026, 11, 30)}), frozenset(), True))
    assert local.add(sh("2026-11-27", "17:00"), 480) == sh("2026-12-01", "17:00")
    # 2099 is beyond the package: plain weeks, plus the settings' days.
    extra = Calendar(frozenset({date(2099, 1, 1)}), frozenset({date(2099, 1, 3)}), True)
    assert not extra.is_workday(date(2099, 1, 1))  # a Thursday, declared a holiday
    assert extra.is_workday(date(2099, 1, 2))  # a Friday
    assert extra.is_workday(date(2099, 1, 3))  # a Saturday worked


def test_other_working_hours_and_zones() -> None:
    hours = WorkingTime(Calendar(official=True), time(8, 30), time(17, 30), ZoneInfo("UTC"))
    assert hours.day_minutes == 540
    assert StageLimit(2, LimitUnit.WORKING_DAYS).minutes(hours) == 1080
    with pytest.raises(ValueError, match="end after"):
        WorkingTime(start=time(17), end=time(9))


def _dispatched_friday(*extra: TimelineEvent) -> list[TimelineEvent]:
    return [
        TimelineEvent(E.REPORTED, "reported", sh("2026-11-27", "15:00")),
        TimelineEvent(E.DISPATCHED, "dispatched", sh("2026-11-27", "17:00")),
        *extra,
    ]


@pytest.mark.parametrize(
    ("now", "elapsed", "state"),
    [
        ("2026-11-30 15:00", 360, ClockState.ON_TIME),  # 75 %
        ("2026-11-30 16:00", 420, ClockState.WARNING),  # past 80 %
        ("2026-11-30 17:00", 480, ClockState.OVERDUE),
        ("2026-12-01 09:30", 510, ClockState.OVERDUE),
    ],
)
def test_handle_clock_states(now: str, elapsed: int, state: ClockState) -> None:
    clock = clock_of(_dispatched_friday(), EIGHT_HOURS, RULES, sh(*now.split()))
    assert clock is not None
    assert (clock.stage, clock.started_at) == (Stage.HANDLE, sh("2026-11-27", "17:00"))
    assert clock.deadline == sh("2026-11-30", "17:00")
    assert (clock.elapsed_minutes, clock.limit_minutes, clock.state) == (elapsed, 480, state)


def test_starting_work_keeps_the_handle_stage_running() -> None:
    events = _dispatched_friday(TimelineEvent(E.STARTED, "in_progress", sh("2026-11-30", "11:00")))
    clock = clock_of(events, EIGHT_HOURS, RULES, sh("2026-11-30", "12:00"))
    assert clock is not None and clock.elapsed_minutes == 180


def test_a_suspension_stops_the_clock_and_moves_the_deadline() -> None:
    suspended = TimelineEvent(E.SUSPENDED, None, sh("2026-11-30", "10:00"))
    resumed = TimelineEvent(E.RESUMED, None, sh("2026-11-30", "12:00"))
    during = clock_of(_dispatched_friday(suspended), EIGHT_HOURS, RULES, sh("2026-12-03", "12:00"))
    assert during is not None
    assert (during.suspended, during.deadline, during.elapsed_minutes) == (True, None, 60)
    assert during.state == ClockState.ON_TIME
    after = clock_of(_dispatched_friday(suspended, resumed), EIGHT_HOURS, RULES,
                     sh("2026-11-30", "17:00"))  # fmt: skip
    assert after is not None and not after.suspended
    assert after.deadline == sh("2026-12-01", "11:00")
    assert (after.elapsed_minutes, after.state) == (360, ClockState.ON_TIME)


def test_an_extension_adds_working_time_to_the_limit() -> None:
    extended = TimelineEvent(E.EXTENDED, None, sh("2026-11-30", "16:00"), 480)
    clock = clock_of(_dispatched_friday(extended), EIGHT_HOURS, RULES, sh("2026-11-30", "17:30"))
    assert clock is not None
    assert (clock.limit_minutes, clock.extended_minutes) == (960, 480)
    assert clock.deadline == sh("2026-12-01", "17:00")
    assert clock.state == ClockState.ON_TIME  # 480 of 960 minutes


def test_the_next_stage_starts_afresh_and_a_closed_case_has_no_clock() -> None:
    events = _dispatched_friday(
        TimelineEvent(E.EXTENDED, None, sh("2026-11-30", "10:00"), 60),
        TimelineEvent(E.RESOLVED, "resolved", sh("2026-11-30", "14:00")),
    )
    clock = clock_of(events, EIGHT_HOURS, RULES, sh("2026-11-30", "15:00"))
    assert clock is not None
    assert (clock.stage, clock.limit_minutes, clock.elapsed_minutes) == (Stage.CHECK, 480, 60)
    closed = [*events, TimelineEvent(E.CLOSED, "closed", sh("2026-11-30", "16:00"))]
    assert clock_of(closed, EIGHT_HOURS, RULES, sh("2026-11-30", "17:00")) is None
    assert clock_of(events, {Stage.HANDLE: 480}, RULES, sh("2026-11-30", "15:00")) is None


def test_a_request_waits_until_granted_or_refused() -> None:
    asked = TimelineEvent(E.EXTENSION_REQUESTED, None, sh("2026-11-30", "10:00"), 120)
    pending = clock_of(_dispatched_friday(asked), EIGHT_HOURS, RULES, sh("2026-11-30", "11:00"))
    assert pending is not None and pending.pending is not None
    assert (pending.pending.event_type, pending.pending.extended_minutes) == (
        E.EXTENSION_REQUESTED, 120)  # fmt: skip
    assert pending.limit_minutes == 480  # asking is not getting
    granted = TimelineEvent(E.EXTENDED, None, sh("2026-11-30", "10:30"), 120)
    clock = clock_of(_dispatched_friday(asked, granted), EIGHT_HOURS, RULES,
                     sh("2026-11-30", "11:00"))  # fmt: skip
    assert clock is not None and clock.pending is None and clock.limit_minutes == 600
    refused = TimelineEvent(E.REQUEST_REFUSED, None, sh("2026-11-30", "10:30"))
    clock = clock_of(_dispatched_friday(asked, refused), EIGHT_HOURS, RULES,
                     sh("2026-11-30", "11:00"))  # fmt: skip
    assert clock is not None and clock.pending is None and clock.limit_minutes == 480
    # A new stage forgets the request.
    resolved = TimelineEvent(E.RESOLVED, "resolved", sh("2026-11-30", "10:30"))
    clock = clock_of(_dispatched_friday(asked, resolved), EIGHT_HOURS, RULES,
                     sh("2026-11-30", "11:00"))  # fmt: skip
    assert clock is not None and clock.stage == Stage.CHECK and clock.pending is None


def test_clock_settings_build_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEMAP_CLOCK_HOLIDAYS", '["2026-11-30"]')
    monkeypatch.setenv("ONEMAP_CLOCK_WARNING_SHARE", "0.5")
    rules = ClockSettings().rules()
    assert rules.warning_share == 0.5
    # Monday 30 November declared a day off: Friday 17:00 + 8 working hours → Tuesday 17:00.
    assert rules.hours.add(sh("2026-11-27", "17:00"), 480) == sh("2026-12-01", "17:00")
    with pytest.raises(ValidationError, match="WORKDAY_END"):
        ClockSettings(workday_start=time(17), workday_end=time(9))
    with pytest.raises(ValidationError, match="time zone"):
        ClockSettings(timezone="Mars/Olympus")
