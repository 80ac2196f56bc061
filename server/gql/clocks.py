"""A case's clock in GraphQL (geo.services.clocks): computed when asked, from the case's
timeline (the request's ``case_events`` loader) and its category's stage limits (the
``stage_limits`` loader), on the city's working calendar (``Context.clocks``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import strawberry

from geo.enums import OPEN_CASE_STATUSES, CaseEventType, CaseStatus, ClockState, Stage
from geo.services.clocks import Clock, ClockRequest, TimelineEvent, clock_of
from server.gql.context import Info

strawberry.enum(
    Stage,
    name="CaseStage",
    description="The part of the workflow a time limit "
    "covers: dispatch (受理/派遣), handle (处置), check (核查/结案).",
)
strawberry.enum(
    ClockState,
    name="ClockState",
    description="ON_TIME; WARNING past the warning "
    "share of the limit (ONEMAP_CLOCK_WARNING_SHARE); OVERDUE past the limit.",
)


@strawberry.type(
    description="A suspension or extension the handling department asked for, waiting for "
    "a dispatcher to approve or refuse it."
)
class PendingClockRequest:
    kind: CaseEventType = strawberry.field(
        description="SUSPENSION_REQUESTED or EXTENSION_REQUESTED."
    )
    requested_at: datetime
    working_minutes: int | None = strawberry.field(description="The extension asked for.")

    @classmethod
    def of(cls, request: ClockRequest) -> PendingClockRequest:
        return cls(
            kind=request.event_type,
            requested_at=request.at,
            working_minutes=request.extended_minutes,
        )


@strawberry.type(
    description="Where an open case stands against its current stage's time "
    "limit, in working time on the city's calendar. Computed when read, from the "
    "timeline: a suspension (挂起) stops it, an extension (延期) adds to the limit."
)
class CaseClock:
    stage: Stage
    started_at: datetime = strawberry.field(description="When the case entered the stage.")
    deadline: datetime | None = strawberry.field(
        description="When the stage's limit runs out; null while the clock is suspended."
    )
    state: ClockState
    elapsed_working_minutes: int = strawberry.field(
        description="Working minutes spent in the stage, suspensions left out."
    )
    limit_working_minutes: int = strawberry.field(
        description="The stage's limit in working minutes, extensions included."
    )
    extended_working_minutes: int = strawberry.field(
        description="Working minutes extensions added to the stage's limit."
    )
    suspended: bool
    pending_request: PendingClockRequest | None

    @classmethod
    def of(cls, clock: Clock) -> CaseClock:
        return cls(
            stage=clock.stage,
            started_at=clock.started_at,
            deadline=clock.deadline,
            state=clock.state,
            elapsed_working_minutes=clock.elapsed_minutes,
            limit_working_minutes=clock.limit_minutes,
            extended_working_minutes=clock.extended_minutes,
            suspended=clock.suspended,
            pending_request=PendingClockRequest.of(clock.pending) if clock.pending else None,
        )


def timeline(rows: Sequence[Any]) -> list[TimelineEvent]:
    """The clock's view of ``case_events`` look-up rows (id, event_type, from_status,
    to_status, actor_id, department_id, note, at, extended_minutes)."""
    return [TimelineEvent(r[1], r[3], r[7], r[8]) for r in rows]


async def case_clock(info: Info, case_id: int, category: str, status: str) -> CaseClock | None:
    if CaseStatus(status) not in OPEN_CASE_STATUSES:
        return None
    events, limits = await asyncio.gather(
        info.context.loader("case_events").load(case_id),
        info.context.loader("stage_limits").load(category),
    )
    rules = info.context.clocks
    minutes = {stage: limit.minutes(rules.hours) for stage, limit in limits.items()}
    clock = clock_of(timeline(events), minutes, rules, datetime.now(UTC))
    return CaseClock.of(clock) if clock is not None else None
