"""A case's collaboration in GraphQL (geo.services.collaboration): its co-handling and joint
tasks, its waiting return (退单) and the collaboration steps the caller may take. Read for a
case already read through the caller's full, jurisdiction-scoped view; the tasks and the
timeline come from the request's DataLoaders (one statement per page each)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from geo import access
from geo.enums import OPEN_TASK_STATUSES, TaskKind, TaskStatus
from geo.services import collaboration
from geo.services.collaboration import PendingReturn
from server.gql.context import Info

if TYPE_CHECKING:
    from server.gql.types import Department

strawberry.enum(TaskKind, description="CO_HANDLE (协办), named by a dispatcher; JOINT "
                "(吹哨报到), called by a street.")  # fmt: skip
strawberry.enum(TaskStatus, description="OPEN, IN_PROGRESS (started, or reported for), DONE, "
                "DECLINED.")  # fmt: skip

DepartmentRef = Annotated["Department", strawberry.lazy("server.gql.types")]


@strawberry.enum(description="A step a department may take on its own task: startTask (a joint "
                 "task: 报到), finishTask, declineTask.")  # fmt: skip
class TaskAction(Enum):
    START = "start"
    FINISH = "finish"
    DECLINE = "decline"


async def _department(info: Info, department_id: int | None) -> Any:
    from server.gql.types import load_department

    return await load_department(info, department_id)


@strawberry.type(description="A department's part in a case it does not lead: co-handling "
                 "(协办) or a joint task (吹哨报到), with its own status. The lead (主办) is the "
                 "case's department.")  # fmt: skip
class CaseTask:
    id: strawberry.ID
    kind: TaskKind
    status: TaskStatus
    note: str | None = strawberry.field(description="The department's note when it finished or "
                                        "declined the task.")  # fmt: skip
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    department_id: strawberry.Private[int]
    created_by: strawberry.Private[int | None]

    @strawberry.field
    async def department(self, info: Info) -> DepartmentRef | None:
        return await _department(info, self.department_id)  # type: ignore[no-any-return]

    @strawberry.field(description="The steps the caller may take on this task now (their own "
                      "department's task, or any of their area's as a dispatcher).")  # fmt: skip
    def allowed_actions(self, info: Info) -> list[TaskAction]:
        steps = collaboration.task_actions(info.context.principal, self.status.value,
                                           self.department_id)  # fmt: skip
        return [TaskAction(s) for s in steps]

    @classmethod
    def from_row(cls, r: Any) -> CaseTask:
        # r: id, case_id, department_id, kind, status, note, created_by, created_at,
        # started_at, finished_at, updated_at
        return cls(id=strawberry.ID(str(r[0])), department_id=r[2], kind=TaskKind(r[3]),
                   status=TaskStatus(r[4]), note=r[5], created_by=r[6], created_at=r[7],
                   started_at=r[8], finished_at=r[9])  # fmt: skip


@strawberry.type(description="A return (退单) the handling department asked for, waiting for "
                 "a dispatcher to accept or refuse it.")  # fmt: skip
class CaseReturn:
    requested_at: datetime
    reason: str | None
    department_id: strawberry.Private[int | None]

    @strawberry.field(description="The department that returns the case.")
    async def department(self, info: Info) -> DepartmentRef | None:
        return await _department(info, self.department_id)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, pending: PendingReturn) -> CaseReturn:
        return cls(requested_at=pending.requested_at, reason=pending.reason,
                   department_id=pending.department_id)  # fmt: skip


def _returning(rows: list[Any]) -> PendingReturn | None:
    # case_events look-up rows: id, event_type, from_status, to_status, actor_id,
    # department_id, note, at, …
    return collaboration.pending_return((r[1], r[3], r[7], r[6], r[5], r[4]) for r in rows)


async def case_tasks(info: Info, case_id: int) -> list[CaseTask]:
    rows = await info.context.loader("case_tasks").load(case_id)
    return [CaseTask.from_row(r) for r in rows]


async def case_return(info: Info, case_id: int) -> CaseReturn | None:
    pending = _returning(await info.context.loader("case_events").load(case_id))
    return CaseReturn.of(pending) if pending is not None else None


async def collaboration_state(info: Info, case_id: int) -> tuple[PendingReturn | None, bool]:
    """The case's waiting return, and whether any of its tasks is open."""
    loader = info.context.loader
    events, tasks = await asyncio.gather(loader("case_events").load(case_id),
                                         loader("case_tasks").load(case_id))  # fmt: skip
    return _returning(events), any(TaskStatus(t[4]) in OPEN_TASK_STATUSES for t in tasks)


def handles(info: Info, department_id: int | None) -> bool:
    return access.handles_case(info.context.principal, department_id)
