"""The stored clock of a case (geo.services.clock_states.clock_row): known answers on the
official calendar for the instants the lists and the sweep read — warning, deadline, the two
escalation levels — and what a suspension, an extension, a request and a new stage do."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from geo.enums import ClockState, EscalationLevel, Stage
from geo.services.clock_states import ClockRow, SupervisionRules, Timeline, clock_row
from geo.services.clocks import ClockRules, TimelineEvent

SH = ZoneInfo("Asia/Shanghai")
RULES = ClockRules()
LIMITS = {Stage.DISPATCH: 120, Stage.HANDLE: 480, Stage.CHECK: 480}


def sh(day: str, at: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), clock.fromisoformat(at), SH)


def dispatched(at: datetime) -> list[TimelineEvent]:
    return [TimelineEvent("reported", "reported", at - timedelta(minutes=30)),
            TimelineEvent("dispatched", "dispatched", at)]  # fmt: skip


def row(
    events: list[TimelineEvent],
    now: datetime,
    escalations: list[tuple[datetime, str]] | None = None,
    after: int = 240,
) -> ClockRow | None:
    line = Timeline(events, escalations or [])
    return clock_row(7, line, LIMITS, RULES, SupervisionRules(after), now, now)


def test_the_instants_of_a_running_clock() -> None:
    # Monday 9 November 2026 09:00 + 8 working hours: warns at 80% (15:24), due 17:00; the
    # district 240 working minutes after (Tuesday 13:00), the city 480 after (Tuesday 17:00).
    found = row(dispatched(sh("2026-11-09", "09:00")), sh("2026-11-09", "16:00"))
    assert found is not None
    assert (found.stage, found.state, found.suspended) == (Stage.HANDLE, ClockState.WARNING, False)
    assert found.warning_at == sh("2026-11-09", "15:24")
    assert found.due_at == sh("2026-11-09", "17:00")
    assert found.district_at == sh("2026-11-10", "13:00")
    assert found.city_at == sh("2026-11-10", "17:00")
    assert found.escalation_level is None and found.pending_at is None


def test_escalation_runs_on_the_calendar_over_a_holiday() -> None:
    # Due Wednesday 30 September 2026 17:00; 1 October to 7 October are the National Day
    # holiday: the district level comes on Thursday 8 October at 13:00.
    found = row(dispatched(sh("2026-09-30", "09:00")), sh("2026-10-08", "12:00"))
    assert found is not None
    assert found.due_at == sh("2026-09-30", "17:00")
    assert found.district_at == sh("2026-10-08", "13:00")
    assert found.state is ClockState.OVERDUE


def test_a_suspended_clock_has_no_instants_and_keeps_its_state() -> None:
    events = [*dispatched(sh("2026-11-09", "09:00")),
              TimelineEvent("suspended", None, sh("2026-11-09", "16:00"))]  # fmt: skip
    found = row(events, sh("2026-11-20", "10:00"))
    assert found is not None
    assert found.suspended and found.state is ClockState.WARNING
    assert (found.warning_at, found.due_at, found.district_at, found.city_at) == (None,) * 4


def test_an_extension_and_a_resumed_suspension_move_the_instants() -> None:
    events = [*dispatched(sh("2026-11-09", "09:00")),
              TimelineEvent("suspended", None, sh("2026-11-09", "10:00")),
              TimelineEvent("resumed", None, sh("2026-11-09", "11:00")),
              TimelineEvent("extended", None, sh("2026-11-09", "12:00"), 480)]  # fmt: skip
    found = row(events, sh("2026-11-09", "12:00"))
    assert found is not None
    # 960 working minutes plus the hour suspended: Tuesday 18:00 → Wednesday 10:00.
    assert found.due_at == sh("2026-11-11", "10:00")
    assert found.limit_minutes == 960


def test_a_waiting_request_and_escalations_of_this_stage_only() -> None:
    events = [
        *dispatched(sh("2026-11-09", "09:00")),
        TimelineEvent("extension_requested", None, sh("2026-11-09", "11:00"), 240),
    ]
    earlier = [(sh("2026-11-01", "10:00"), "city")]  # before the stage began: not this stage's
    found = row(events, sh("2026-11-10", "14:00"), earlier)
    assert found is not None
    assert found.pending_at == sh("2026-11-09", "11:00")
    assert found.escalation_level is None
    mine = [(sh("2026-11-10", "13:00"), "district")]
    found = row(events, sh("2026-11-10", "14:00"), mine)
    assert found is not None and found.escalation_level is EscalationLevel.DISTRICT


def test_a_case_out_of_the_workflow_has_no_row() -> None:
    events = [*dispatched(sh("2026-11-09", "09:00")),
              TimelineEvent("started", "in_progress", sh("2026-11-09", "10:00")),
              TimelineEvent("resolved", "resolved", sh("2026-11-09", "11:00")),
              TimelineEvent("closed", "closed", sh("2026-11-09", "12:00"))]  # fmt: skip
    assert row(events, sh("2026-11-09", "13:00")) is None
