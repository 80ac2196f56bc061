"""Case clocks (时限): where an open case stands against its stage's time limit, computed from
its timeline every time it is asked — never stored, so never stale.

A stage is the part of the workflow one party owns: dispatch (受理/派遣: a reported case
waiting for the dispatcher), handle (处置: dispatched or in progress, the department's) and check
(核查/结案: resolved, waiting for the check and close). A stage starts at the event that entered
it (a transfer to another department starts the handle stage afresh); a suspension (挂起)
stops its clock until resumed; an extension (延期) adds working time
to its limit. Both belong to the stage: the next stage starts afresh. Pure: the events, the
limits and ``now`` come in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from geo.enums import CaseEventType, CaseStatus, ClockState, LimitUnit, Stage
from geo.services.worktime import WorkingTime

E = CaseEventType


STAGE_OF_STATUS: Mapping[CaseStatus, Stage] = {
    CaseStatus.REPORTED: Stage.DISPATCH,
    CaseStatus.DISPATCHED: Stage.HANDLE,
    CaseStatus.IN_PROGRESS: Stage.HANDLE,
    CaseStatus.RESOLVED: Stage.CHECK,
}


@dataclass(frozen=True)
class StageLimit:
    amount: int
    unit: LimitUnit

    def minutes(self, hours: WorkingTime) -> int:
        per = 60 if self.unit == LimitUnit.WORKING_HOURS else hours.day_minutes
        return self.amount * per


@dataclass(frozen=True)
class TimelineEvent:
    """What a clock reads of a case event."""

    event_type: str
    to_status: str | None
    at: datetime
    extended_minutes: int | None = None


@dataclass(frozen=True)
class ClockRules:
    hours: WorkingTime = field(default_factory=WorkingTime)
    warning_share: float = 0.8


@dataclass(frozen=True)
class ClockRequest:
    """A suspension or extension the handler asked for, waiting for a dispatcher's decision."""

    event_type: CaseEventType  # SUSPENSION_REQUESTED or EXTENSION_REQUESTED
    at: datetime
    extended_minutes: int | None


#: Events that start their stage afresh though the stage stays the same: a transfer (转办)
#: gives the new department the whole handling limit, without the old one's suspensions,
#: extensions or waiting request.
RESTARTS = frozenset({E.TRANSFERRED})

#: A request, and the decision that grants it.
GRANTS = {E.SUSPENSION_REQUESTED: E.SUSPENDED, E.EXTENSION_REQUESTED: E.EXTENDED}


@dataclass
class StageRun:
    """The current stage as its events tell it (no calendar needed)."""

    stage: Stage
    started_at: datetime
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    extended_minutes: int = 0
    pending: ClockRequest | None = None
    #: When the stage ended (the event that left it); None while it runs.
    ended_at: datetime | None = None

    @property
    def suspended(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None


@dataclass(frozen=True)
class Clock:
    stage: Stage
    started_at: datetime
    #: When the stage's limit runs out; None while suspended (the clock stands still).
    deadline: datetime | None
    state: ClockState
    elapsed_minutes: int
    limit_minutes: int
    extended_minutes: int
    suspended: bool
    pending: ClockRequest | None = None


def stage_runs(events: Iterable[TimelineEvent]) -> list[StageRun]:
    """Every stage the case went through, in order, as ``events`` (oldest first) tell it: the
    finished ones with their ``ended_at``, the last one still running unless the case left the
    workflow (closed, rejected, duplicate). A reopen starts a new run."""
    runs: list[StageRun] = []
    run: StageRun | None = None
    for event in events:
        if event.to_status is not None:
            stage = STAGE_OF_STATUS.get(CaseStatus(event.to_status))
            restart = event.event_type in RESTARTS
            if run is not None and (stage is None or run.stage != stage or restart):
                if run.suspended:  # leaving a suspended stage ends its pause too
                    run.pauses[-1] = (run.pauses[-1][0], event.at)
                run.ended_at = event.at
                run = None
            if stage is not None and run is None:
                run = StageRun(stage, event.at)
                runs.append(run)
            continue
        if run is None:
            continue
        kind = event.event_type
        if kind == E.SUSPENDED and not run.suspended:
            run.pauses.append((event.at, None))
        elif kind == E.RESUMED and run.suspended:
            run.pauses[-1] = (run.pauses[-1][0], event.at)
        elif kind == E.EXTENDED:
            run.extended_minutes += event.extended_minutes or 0
        if kind in GRANTS:
            run.pending = ClockRequest(E(kind), event.at, event.extended_minutes)
        elif run.pending is not None and kind in (GRANTS[run.pending.event_type],
                                                  E.REQUEST_REFUSED):  # fmt: skip
            run.pending = None
    return runs


def current_stage(events: Iterable[TimelineEvent]) -> StageRun | None:
    """The stage the case is in after ``events`` (oldest first); None once it left the
    workflow (closed, rejected, duplicate)."""
    runs = stage_runs(events)
    return runs[-1] if runs and runs[-1].ended_at is None else None


def clock_of(
    events: Iterable[TimelineEvent],
    limits: Mapping[Stage, int],
    rules: ClockRules,
    now: datetime,
) -> Clock | None:
    """The clock of a case with ``events`` at ``now``; ``limits`` in working minutes per stage.
    None for a case out of the workflow or in a stage without a limit."""
    run = current_stage(events)
    if run is None or run.stage not in limits:
        return None
    hours = rules.hours
    paused = sum(hours.minutes_between(a, b or now) for a, b in run.pauses)
    limit = limits[run.stage] + run.extended_minutes
    elapsed = max(0, hours.minutes_between(run.started_at, now) - paused)
    deadline = None if run.suspended else hours.add(run.started_at, limit + paused)
    if elapsed >= limit:
        state = ClockState.OVERDUE
    elif elapsed >= rules.warning_share * limit:
        state = ClockState.WARNING
    else:
        state = ClockState.ON_TIME
    return Clock(
        run.stage,
        run.started_at,
        deadline,
        state,
        elapsed,
        limit,
        run.extended_minutes,
        run.suspended,
        run.pending,
    )
