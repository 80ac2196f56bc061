"""A case's place in the daily loop beyond its workflow and collaboration, in GraphQL
(geo.services.loop_steps): the supervision (督办) waiting for the caller's answer, and what the
offer of the supervise, answer, check and callback steps depends on. Read for a case already
read through the caller's full, jurisdiction-scoped view; each from the request's DataLoaders
(one statement per page)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import strawberry

from geo.enums import CaseStatus
from geo.services import loop_steps
from geo.services.loop_steps import LoopState, Unanswered
from server.gql.context import Info


@strawberry.type(description="A supervision (督办) over a case that is not answered yet.")
class PendingSupervision:
    id: strawberry.ID = strawberry.field(description="Answer it with answerSupervision(id).")
    kind: str = strawberry.field(description="case, or department (its overdue cases).")
    deadline: datetime
    note: str = strawberry.field(description="What the supervisor expects.")
    missed: bool = strawberry.field(description="Its deadline passed unanswered.")

    @classmethod
    def of(cls, s: Unanswered) -> PendingSupervision:
        return cls(id=strawberry.ID(str(s.id)), kind=s.kind, deadline=s.deadline, note=s.note,
                   missed=s.status == "missed")  # fmt: skip


async def loop_state(info: Info, case_id: int, status: CaseStatus) -> LoopState:
    loader = info.context.loader
    supervisions, callbacks, waits = await asyncio.gather(
        loader("case_supervisions").load(case_id),
        loader("pending_callbacks").load(case_id),
        loader("close_waits_for_check").load(case_id),
    )
    return LoopState(
        supervisions=[Unanswered.of(r) for r in supervisions],
        check_due=status is CaseStatus.RESOLVED and waits is not None and bool(waits[1]),
        callback_pending=bool(callbacks),
    )


async def pending_supervision(info: Info, case_id: int) -> PendingSupervision | None:
    """The oldest unanswered supervision over the case that the caller answers, if any."""
    rows = await info.context.loader("case_supervisions").load(case_id)
    mine = loop_steps.answerable(info.context.principal, [Unanswered.of(r) for r in rows])
    return PendingSupervision.of(mine[0]) if mine else None
