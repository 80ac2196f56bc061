"""Collaboration mutations (geo.services.collaboration): transfer (转办), return (退单),
co-handling (主办/协办), the joint task (吹哨报到), the tasks' steps and comments.

Each returns ``CaseResult`` like the workflow mutations: the case as the caller now reads it,
or a typed ``CaseError`` (INVALID_INPUT, NOT_FOUND, FORBIDDEN, ILLEGAL_TRANSITION …).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from psycopg import AsyncConnection

from geo import errors
from geo.access import Principal
from geo.services import cases, collaboration
from geo.services.cases import CaseRecord
from server.gql.context import Info
from server.gql.inputs import to_id
from server.gql.mutations import CaseError, CasePayload, CaseResult, _after_step, _error, _payload

Step = Callable[[AsyncConnection[Any], Principal], Awaitable[CaseRecord]]


async def _run(info: Info, step: Step) -> CasePayload | CaseError:
    """One service step (its own transaction), then the case as the caller now reads it.
    The step reads its arguments (``to_id``) when run: bad ids come back as typed errors."""
    try:
        principal = info.context.require()
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            record = await step(conn, principal)
            await _after_step(info, conn, record.id)  # a transfer restarts the handle clock
        return await _payload(info, record.id)
    except errors.OneMapError as exc:
        return _error(exc)


def _ids(values: list[strawberry.ID], field: str) -> list[int]:
    return [to_id(v, field) for v in values]


@strawberry.type
class CollaborationMutation:
    @strawberry.mutation(
        description="转办: move a dispatched or in-progress case to another department, with "
        "the reason (DISPATCH). The assignee is cleared, the case is DISPATCHED again and the "
        "handling clock starts afresh for the new department."
    )
    async def transfer_case(
        self, info: Info, id: strawberry.ID, department_id: strawberry.ID, reason: str
    ) -> CaseResult:
        return await _run(info, lambda conn, who: collaboration.transfer(
            conn, to_id(id), who, department_id=to_id(department_id, "departmentId"),
            reason=reason))  # fmt: skip

    @strawberry.mutation(
        description="退单: the handling department sends a misrouted case back to dispatch, "
        "with the reason (HANDLE, the lead department); a dispatcher accepts or refuses."
    )
    async def request_return(self, info: Info, id: strawberry.ID, reason: str) -> CaseResult:
        return await _run(info, lambda conn, who: collaboration.request_return(
            conn, to_id(id), who, reason=reason))  # fmt: skip

    @strawberry.mutation(
        description="Accept the waiting return (DISPATCH): the case is REPORTED again, without "
        "a department, for a new dispatch."
    )
    async def accept_return(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> CaseResult:
        return await _run(info, lambda conn, who: collaboration.decide_return(
            conn, to_id(id), who, accept=True, note=note))  # fmt: skip

    @strawberry.mutation(
        description="Refuse the waiting return, with the reason (DISPATCH): the department "
        "keeps the case."
    )
    async def refuse_return(self, info: Info, id: strawberry.ID, reason: str) -> CaseResult:
        return await _run(info, lambda conn, who: collaboration.decide_return(
            conn, to_id(id), who, accept=False, note=reason))  # fmt: skip

    @strawberry.mutation(
        description="主办/协办: give co-handling tasks to other departments on a dispatched or "
        "in-progress case (DISPATCH); its department stays the lead and resolves once every "
        "task is done or declined."
    )
    async def add_co_handlers(
        self, info: Info, id: strawberry.ID, department_ids: list[strawberry.ID],
        note: str | None = None,
    ) -> CaseResult:  # fmt: skip
        return await _run(info, lambda conn, who: collaboration.add_co_handlers(
            conn, to_id(id), who, department_ids=_ids(department_ids, "departmentIds"),
            note=note))  # fmt: skip

    @strawberry.mutation(
        description="吹哨报到: a street (a dispatcher of its jurisdiction, DISPATCH) calls "
        "departments to a case as a joint task, with the reason. A reported case is dispatched "
        "to its lead in the same step (leadDepartmentId, else its category's department); each "
        "other department called gets a joint task to report for and finish."
    )
    async def blow_whistle(
        self, info: Info, id: strawberry.ID, department_ids: list[strawberry.ID], reason: str,
        lead_department_id: strawberry.ID | None = None,
    ) -> CaseResult:  # fmt: skip
        return await _run(info, lambda conn, who: collaboration.blow_whistle(
            conn, to_id(id), who, department_ids=_ids(department_ids, "departmentIds"),
            reason=reason, lead_department_id=to_id(lead_department_id, "leadDepartmentId")
            if lead_department_id else None))  # fmt: skip

    @strawberry.mutation(
        description="Start one's own co-handling task, or report (报到) for a joint task "
        "(HANDLE, the task's department)."
    )
    async def start_task(
        self, info: Info, task_id: strawberry.ID, note: str | None = None
    ) -> CaseResult:
        return await _task(info, task_id, "start", note)

    @strawberry.mutation(description="Finish one's own task, with a note of what was done.")
    async def finish_task(self, info: Info, task_id: strawberry.ID, note: str) -> CaseResult:
        return await _task(info, task_id, "finish", note)

    @strawberry.mutation(
        description="Decline one's own open task, with the reason (not this department's part)."
    )
    async def decline_task(self, info: Info, task_id: strawberry.ID, reason: str) -> CaseResult:
        return await _task(info, task_id, "decline", reason)

    @strawberry.mutation(
        description="A comment on the case's timeline (COMMENT, a case of the caller's "
        "jurisdiction); staff only read it, never the reporter or the public record."
    )
    async def comment_case(self, info: Info, id: strawberry.ID, note: str) -> CaseResult:
        async def step(conn: AsyncConnection[Any], who: Principal) -> CaseRecord:
            case_id = to_id(id)
            await cases.comment(conn, case_id, who, note)
            return await cases.get_case(conn, case_id, who)

        return await _run(info, step)


async def _task(info: Info, task_id: strawberry.ID, name: str, note: str | None) -> CaseResult:
    return await _run(info, lambda conn, who: collaboration.task_step(
        conn, to_id(task_id, "taskId"), name, who, note=note))  # fmt: skip
