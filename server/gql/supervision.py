"""Supervision (督办) in GraphQL: the warning and overdue lists, supervising a case or a
department, answering, supervisions, and the staff inbox with its live subscription.

Mutations answer ``SupervisionResult = SupervisionPayload | CaseError`` (the typed domain
errors of the case workflow). Reads carry the caller's jurisdiction in SQL (geo.access).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from geo import errors
from geo.access import Capability, require_staff
from geo.enums import ClockState, EscalationLevel, NotificationKind, Stage, SupervisionStatus
from geo.queries import supervision as q
from geo.queries.filters import AttributeFilter
from geo.queries.search import rows
from geo.services import staff_notifications
from geo.services import supervision as service
from geo.services.supervision import SupervisionRecord
from server.gql.context import Info
from server.gql.errors import coded_errors
from server.gql.inputs import page_size, to_id
from server.gql.mutations import CaseError, _error
from server.gql.types import Case, Connection, Department, Edge, PageInfo, StaffUser
from server.gql.types import load_department as _department

strawberry.enum(
    SupervisionStatus,
    name="SupervisionStatus",
    description="OPEN until answered or its deadline; ANSWERED by the deadline (met); MISSED "
    "when the deadline passed unanswered (a late answer is kept).",
)
strawberry.enum(NotificationKind, name="NotificationKind", description="What a staff notice tells.")


def _now() -> datetime:
    return datetime.now(UTC)


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode()


def _uncursor(cursor: str, n: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        parts = []
    if len(parts) != n:
        raise errors.InvalidInput("after is not a cursor this list gave.", field="after")
    return parts


def _id_cursor(after: str | None) -> int | None:
    if after is None:
        return None
    try:
        return int(_uncursor(after, 1)[0])
    except ValueError:
        raise errors.InvalidInput("after is not a cursor this list gave.", field="after") from None


@strawberry.type(description="A supervision (督办) of one case, or of a department's overdue "
                 "cases, with its own deadline.")  # fmt: skip
class Supervision:
    id: strawberry.ID
    kind: str = strawberry.field(description="case or department.")
    status: SupervisionStatus
    note: str
    deadline: datetime
    created_at: datetime
    answered_at: datetime | None
    answer: str | None
    missed_at: datetime | None
    case_ids: list[strawberry.ID] = strawberry.field(description="The cases it covers.")
    supervisor_id: strawberry.Private[int]
    department_id: strawberry.Private[int]
    answered_by_id: strawberry.Private[int | None]

    @strawberry.field(description="The department that answers it.")
    async def department(self, info: Info) -> Department | None:
        return await _department(info, self.department_id)

    @strawberry.field
    async def supervisor(self, info: Info) -> StaffUser | None:
        row = await info.context.loader("user").load(self.supervisor_id)
        return StaffUser.from_row(row) if row else None

    @strawberry.field
    async def answered_by(self, info: Info) -> StaffUser | None:
        if self.answered_by_id is None:
            return None
        row = await info.context.loader("user").load(self.answered_by_id)
        return StaffUser.from_row(row) if row else None

    @classmethod
    def of(cls, r: SupervisionRecord) -> Supervision:
        return cls(id=strawberry.ID(str(r.id)), kind=r.kind, status=SupervisionStatus(r.status),
                   note=r.note, deadline=r.deadline, created_at=r.created_at,
                   answered_at=r.answered_at, answer=r.answer, missed_at=r.missed_at,
                   case_ids=[strawberry.ID(str(i)) for i in r.case_ids],
                   supervisor_id=r.supervisor_id, department_id=r.department_id,
                   answered_by_id=r.answered_by)  # fmt: skip


@strawberry.type
class SupervisionPayload:
    supervision: Supervision


SupervisionResult = Annotated[SupervisionPayload | CaseError, strawberry.union("SupervisionResult")]


@strawberry.type(description="A notice to staff: a clock warning or overdue, a supervision, "
                 "an escalation, a request waiting for a decision, a supervision answered or "
                 "missed.")  # fmt: skip
class StaffNotification:
    id: strawberry.ID
    kind: NotificationKind
    created_at: datetime
    read: bool
    case_id: strawberry.ID | None
    case_public_id: str | None
    supervision_id: strawberry.ID | None
    stage: Stage | None
    level: EscalationLevel | None
    deadline: datetime | None = strawberry.field(
        description="The stage's deadline (warning, overdue, escalated) or the supervision's."
    )
    note: str | None

    @classmethod
    def of(cls, r: q.NotificationRow) -> StaffNotification:
        def opt(v: int | None) -> strawberry.ID | None:
            return strawberry.ID(str(v)) if v is not None else None

        return cls(id=strawberry.ID(str(r.id)), kind=NotificationKind(r.kind),
                   created_at=r.created_at, read=r.read, case_id=opt(r.case_id),
                   case_public_id=r.case_public_id, supervision_id=opt(r.supervision_id),
                   stage=Stage(r.stage) if r.stage else None,
                   level=EscalationLevel(r.level) if r.level else None, deadline=r.deadline,
                   note=r.note)  # fmt: skip


@strawberry.type
class StaffNotificationPage:
    nodes: list[StaffNotification] = strawberry.field(description="Newest first.")
    page_info: PageInfo
    unread_count: int = strawberry.field(description="Unread notifications (counted to 1,000).")


@strawberry.type
class SupervisionPage:
    nodes: list[Supervision] = strawberry.field(description="Newest first.")
    page_info: PageInfo


@strawberry.type
class SupervisionQuery:
    @strawberry.field(
        description="Cases of the caller's jurisdiction whose current stage clock is in "
        "`state` (WARNING or OVERDUE) now, soonest deadline first (suspended clocks last), with "
        "their clock (READ_CASES). From the clocks the sweep and each case step store: a case "
        "changed outside GraphQL joins or leaves the list at the next sweep."
    )
    async def cases_by_clock(
        self, info: Info, state: ClockState, department_id: strawberry.ID | None = None,
        first: int | None = None, after: str | None = None,
    ) -> Connection[Case]:  # fmt: skip
        principal = info.context.require(Capability.READ_CASES)
        if state is ClockState.ON_TIME:
            raise errors.InvalidInput("state is WARNING or OVERDUE.", field="state")
        settings = info.context.settings
        limit = page_size(first, settings.default_first, settings.max_first)
        position = None
        if after is not None:
            k, i = _uncursor(after, 2)
            try:
                position = (datetime.fromisoformat(k) if k else None, int(i))
            except ValueError:
                raise errors.InvalidInput("after is not a cursor this list gave.",
                                          field="after") from None  # fmt: skip
        dept = to_id(department_id, "departmentId") if department_id else None
        found = await info.context.fetch(
            q.clock_page(principal, state, _now(), limit + 1, position, dept)
        )
        page = found[:limit]
        view = info.context.view("cases")
        by_id = {}
        if page:
            attrs = AttributeFilter(equals={"id": [i for i, _ in page]})
            by_id = {r["id"]: r for r in await info.context.fetch(
                rows(view, None, attrs, limit=len(page)))}  # fmt: skip
        edges = [
            Edge(cursor=_cursor(k.isoformat() if k else "", i),
                 node=Case.from_row(by_id[i], full=view.internal))
            for i, k in page if i in by_id
        ]  # fmt: skip
        return Connection(
            typed_edges=edges,
            page_info=PageInfo(
                has_next_page=len(found) > limit, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(description="The caller's staff notifications, newest first: their own, "
                      "their department's, and those of the dispatchers or supervisors whose "
                      "jurisdiction holds the case.")  # fmt: skip
    async def my_notifications(
        self, info: Info, first: int | None = None, after: str | None = None,
        unread_only: bool = False,
    ) -> StaffNotificationPage:  # fmt: skip
        principal = require_staff(info.context.principal)
        settings = info.context.settings
        limit = page_size(first, settings.default_first, settings.max_first)
        found, unread = await asyncio.gather(
            info.context.fetch(q.inbox(principal, limit=limit + 1, before=_id_cursor(after),
                                       unread_only=unread_only)),
            info.context.fetch(q.unread_count(principal)),
        )  # fmt: skip
        nodes = [StaffNotification.of(r) for r in found[:limit]]
        return StaffNotificationPage(
            nodes=nodes,
            page_info=PageInfo(has_next_page=len(found) > limit,
                               end_cursor=_cursor(nodes[-1].id) if nodes else None),
            unread_count=unread,
        )  # fmt: skip

    @strawberry.field(description="Supervisions the caller sees — their own, and those over "
                      "cases of their jurisdiction — newest first.")  # fmt: skip
    async def supervisions(
        self, info: Info, statuses: list[SupervisionStatus] | None = None,
        first: int | None = None, after: str | None = None,
    ) -> SupervisionPage:  # fmt: skip
        principal = require_staff(info.context.principal)
        settings = info.context.settings
        limit = page_size(first, settings.default_first, settings.max_first)
        found = await info.context.fetch(q.supervisions(
            principal, statuses=[s.value for s in statuses] if statuses else None,
            limit=limit + 1, before=_id_cursor(after)))  # fmt: skip
        nodes = [Supervision.of(r) for r in found[:limit]]
        return SupervisionPage(
            nodes=nodes,
            page_info=PageInfo(has_next_page=len(found) > limit,
                               end_cursor=_cursor(nodes[-1].id) if nodes else None),
        )  # fmt: skip

    @strawberry.field(description="One supervision the caller sees; NOT_FOUND otherwise.")
    async def supervision(self, info: Info, id: strawberry.ID) -> Supervision:
        principal = require_staff(info.context.principal)
        found = await info.context.fetch(
            q.supervisions(principal, statuses=None, limit=1, before=None, ids=[to_id(id)])
        )
        if not found:
            raise errors.NotFound(f"No supervision with id {id}.")
        return Supervision.of(found[0])


async def _step(info: Info, run: str, **kwargs: object) -> SupervisionPayload | CaseError:
    try:
        principal = info.context.require()
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            step = getattr(service, run)
            record = await step(conn, actor=principal, now=_now(), **kwargs)
        return SupervisionPayload(supervision=Supervision.of(record))
    except errors.OneMapError as exc:
        return _error(exc)


@strawberry.type
class SupervisionMutation:
    @strawberry.mutation(
        description="督办: put an open case of the caller's jurisdiction under supervision "
        "(SUPERVISE) until `deadline` (in the future, at most 90 days ahead), with what is "
        "expected; the handling department (the dispatchers, before dispatch or at the check) "
        "is notified. ILLEGAL_TRANSITION when the case is closed or already supervised."
    )
    async def supervise_case(
        self, info: Info, id: strawberry.ID, deadline: datetime, note: str
    ) -> SupervisionResult:
        try:
            case_id = to_id(id)
        except errors.OneMapError as exc:
            return _error(exc)
        return await _step(info, "supervise_case", case_id=case_id, deadline=deadline, note=note)

    @strawberry.mutation(
        description="督办 a department: one supervision over its cases of the caller's "
        "jurisdiction that are overdue in the handle stage now (SUPERVISE). ILLEGAL_TRANSITION "
        "when there are none."
    )
    async def supervise_department(
        self, info: Info, department_id: strawberry.ID, deadline: datetime, note: str
    ) -> SupervisionResult:
        try:
            dept = to_id(department_id, "departmentId")
        except errors.OneMapError as exc:
            return _error(exc)
        return await _step(info, "supervise_department", department_id=dept,
                           deadline=deadline, note=note)  # fmt: skip

    @strawberry.mutation(
        description="Answer a supervision (HANDLE, for a case of the caller's jurisdiction): "
        "ANSWERED by its deadline, else MISSED with the answer kept; the supervisor is notified."
    )
    async def answer_supervision(
        self, info: Info, id: strawberry.ID, note: str
    ) -> SupervisionResult:
        try:
            supervision_id = to_id(id)
        except errors.OneMapError as exc:
            return _error(exc)
        return await _step(info, "answer", supervision_id=supervision_id, note=note)

    @strawberry.mutation(description="Mark the caller's notifications read up to and including "
                         "`through` (a notification id); the mark only moves forward. Answers "
                         "how many stay unread.")  # fmt: skip
    async def mark_notifications_read(self, info: Info, through: strawberry.ID) -> int:
        principal = require_staff(info.context.principal)
        last = to_id(through, "through")
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            assert principal.user_id is not None
            await staff_notifications.mark_read(conn, principal.user_id, last)
        return await info.context.fetch(q.unread_count(principal))


@strawberry.type
class SupervisionSubscription:
    @strawberry.subscription(description="The caller's staff notifications as they are made "
                             "(the same ones myNotifications lists).")  # fmt: skip
    async def notifications(self, info: Info) -> AsyncGenerator[StaffNotification, None]:
        from server.gql.subscriptions import while_signed_in

        ctx = info.context
        with coded_errors():
            principal = require_staff(ctx.principal)
        async for note in while_signed_in(ctx, staff_notifications.CHANNEL):
            ids = [int(i) for i in note.get("ids", [])]
            if not ids:
                continue
            found = await ctx.fetch(q.inbox(principal, ids=ids, limit=len(ids)))
            for row in reversed(found):  # oldest first
                yield StaffNotification.of(row)
