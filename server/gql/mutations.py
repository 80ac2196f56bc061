"""Case workflow mutations: each one transition of geo.services.cases' state machine.

Each returns ``CaseResult = CasePayload | CaseError``: domain failures (an illegal transition,
a missing case, a forbidden action, bad input) come back as typed errors in the data, not as
GraphQL errors, so front ends can switch on ``code``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any

import psycopg
import strawberry
from psycopg import AsyncConnection

from geo import errors
from geo.access import Capability, Principal
from geo.enums import CasePriority, CaseSource
from geo.enums import CasePriority as Priority
from geo.enums import CaseSource as Source
from geo.params import LonLat
from geo.services import cases as service
from geo.services import idempotency, sweep
from server.gql.context import Info
from server.gql.geocode import AddressCandidate
from server.gql.inputs import to_id
from server.gql.types import Case

log = logging.getLogger("onemap.gql")


class CaseErrorCode(Enum):
    INVALID_INPUT = "invalid_input"
    OUTSIDE_CITY = "outside_city"
    ADDRESS_UNCERTAIN = "address_uncertain"  # an address without coordinates, not sure enough
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "unauthorized"
    FORBIDDEN = "forbidden"
    ILLEGAL_TRANSITION = "conflict"
    IN_PROGRESS = "request_in_flight"  # the same idempotency key is still being processed
    KEY_REUSED = "idempotency_key_reused"  # the same idempotency key with other input


CaseErrorCodeEnum = strawberry.enum(CaseErrorCode)


@strawberry.type
class CaseError:
    code: CaseErrorCode
    message: str
    candidates: list[AddressCandidate] = strawberry.field(
        default_factory=list,
        description="ADDRESS_UNCERTAIN: the addresses the caller may confirm (send lon/lat).",
    )


@strawberry.type
class CasePayload:
    case: Case


CaseResult = Annotated[CasePayload | CaseError, strawberry.union("CaseResult")]


@strawberry.input
class CreateCaseInput:
    category: str
    lon: float
    lat: float
    description: str = ""
    address: str | None = None
    priority: CasePriority = CasePriority.NORMAL
    source: CaseSource = CaseSource.GRID_WORKER
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A key the client makes once per case it means to create (a UUID, at most "
        "200 characters): a retry with the same key and input answers the case made the first "
        "time instead of making another; the same key with other input is KEY_REUSED.",
    )


def _error(exc: errors.OneMapError) -> CaseError:
    code = {c.value: c for c in CaseErrorCode}.get(exc.code, CaseErrorCode.INVALID_INPUT)
    if isinstance(exc, errors.OutsideCity):
        code = CaseErrorCode.OUTSIDE_CITY
    if isinstance(exc, errors.AddressUncertain):
        return CaseError(code=code, message=exc.message, candidates=[
            AddressCandidate.from_detail(c) for c in exc.detail.get("candidates", [])])  # fmt: skip
    return CaseError(code=code, message=exc.message)


async def _payload(info: Info, case_id: int) -> CasePayload:
    """The case as the caller now reads it (their full, jurisdiction-scoped view)."""
    from geo.queries.filters import AttributeFilter
    from geo.queries.search import rows

    view = info.context.view("cases")
    found = await info.context.fetch(
        rows(view, None, AttributeFilter(equals={"id": [case_id]}), limit=1)
    )
    if not found:
        raise errors.NotFound(f"No case with id {case_id}.")
    return CasePayload(case=Case.from_row(found[0], full=view.internal))


async def _transition(
    info: Info, id: strawberry.ID, action: str, **kwargs: object
) -> CasePayload | CaseError:
    try:
        # The service checks the action's capability and loads the case with the caller's
        # jurisdiction in SQL (NOT_FOUND outside it).
        principal = info.context.require()
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            record = await service.transition(conn, to_id(id), action, principal, **kwargs)  # type: ignore[arg-type]
            await _after_step(info, conn, record.id)
        return await _payload(info, record.id)
    except errors.OneMapError as exc:
        return _error(exc)


async def _clock_step(
    info: Info, id: strawberry.ID, step: str, reason: str, extended_minutes: int | None = None
) -> CasePayload | CaseError:
    try:
        principal = info.context.require()
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            record = await service.clock_step(conn, to_id(id), step, principal, reason=reason,
                                              extended_minutes=extended_minutes)  # fmt: skip
            await _after_step(info, conn, record.id)
        return await _payload(info, record.id)
    except errors.OneMapError as exc:
        return _error(exc)


async def _after_step(info: Info, conn: AsyncConnection[Any], case_id: int) -> None:
    """The step is committed: the case's stored clock anew, so the warning and overdue lists
    have it now, and a request it made told to the dispatchers (geo.services.sweep). A failure
    here is not the step's: the next sweep does the same."""
    try:
        info.context.statements += 1
        await sweep.after_step(conn, case_id, info.context.clocks, info.context.supervision,
                               datetime.now(UTC))  # fmt: skip
    except psycopg.Error:
        log.exception("refreshing the stored clock of case %s failed", case_id)


async def _create_once(
    conn: AsyncConnection[Any], principal: Principal, key: str, fields: dict[str, Any]
) -> int:
    """The case made for ``key`` by this principal: created now, or the one made before."""
    if not key.strip() or len(key) > 200:
        raise errors.InvalidInput("idempotencyKey must be 1 to 200 characters.",
                                  field="idempotencyKey")  # fmt: skip

    async def create() -> tuple[int, dict[str, Any]]:
        record = await service.create_case(conn, actor=principal, **fields)
        return 201, {"id": record.id}

    wanted = {**fields, "point": [fields["point"].lon, fields["point"].lat]}
    outcome = await idempotency.run_once(
        conn, owner=f"user:{principal.user_id}", operation="graphql.createCase", key=key,
        print_=idempotency.fingerprint(wanted), create=create,
    )  # fmt: skip
    return int(outcome.body["id"])


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Report a case (CREATE_CASES: grid patrol, hotline), at a "
                         "place inside the caller's jurisdiction.")  # fmt: skip
    async def create_case(self, info: Info, input: CreateCaseInput) -> CaseResult:
        try:
            principal = info.context.require(Capability.CREATE_CASES)
            fields: dict[str, Any] = {
                "category": input.category, "point": LonLat(input.lon, input.lat),
                "description": input.description, "source": Source(input.source.value),
                "priority": Priority(input.priority.value), "address": input.address,
            }  # fmt: skip
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                if input.idempotency_key is None:
                    case_id = (await service.create_case(conn, actor=principal, **fields)).id
                else:
                    case_id = await _create_once(conn, principal, input.idempotency_key, fields)
        except errors.OneMapError as exc:
            return _error(exc)
        # Committed: what follows only reads (and stores the new case's clock for the lists). A
        # failure here is not the creation's failure, and a retry with the same idempotency key
        # answers this case rather than making another.
        try:
            async with info.context.pool.connection() as conn:
                await _after_step(info, conn, case_id)
            return await _payload(info, case_id)
        except errors.OneMapError as exc:
            return _error(exc)

    @strawberry.mutation(
        description="派遣: send to a department (default: by category), optionally to one of "
        "its staff; the due time follows the category's time limit."
    )
    async def dispatch_case(
        self, info: Info, id: strawberry.ID, department_id: strawberry.ID | None = None,
        assignee_id: strawberry.ID | None = None, note: str | None = None,
    ) -> CaseResult:  # fmt: skip
        return await _transition(
            info, id, "dispatch", note=note,
            department_id=to_id(department_id, "departmentId") if department_id else None,
            assignee_id=to_id(assignee_id, "assigneeId") if assignee_id else None,
        )  # fmt: skip

    @strawberry.mutation(description="处置: the handling department starts work.")
    async def start_case(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> CaseResult:
        return await _transition(info, id, "start", note=note)

    @strawberry.mutation(description="处置完毕: done, awaiting the dispatcher's check.")
    async def resolve_case(
        self, info: Info, id: strawberry.ID, note: str, photo_refs: list[str] | None = None
    ) -> CaseResult:
        full_note = note if not photo_refs else f"{note}\n照片: {', '.join(photo_refs)}"
        return await _transition(info, id, "resolve", note=full_note)

    @strawberry.mutation(description="核查 passed → 结案 (close).")
    async def close_case(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> CaseResult:
        return await _transition(info, id, "close", note=note)

    @strawberry.mutation(description="不予受理: reject a reported case, with the reason.")
    async def reject_case(self, info: Info, id: strawberry.ID, reason: str) -> CaseResult:
        return await _transition(info, id, "reject", note=reason)

    @strawberry.mutation(description="Mark as a duplicate of another case.")
    async def mark_duplicate(
        self, info: Info, id: strawberry.ID, original_id: strawberry.ID
    ) -> CaseResult:
        try:
            original = to_id(original_id, "originalId")
        except errors.OneMapError as exc:
            return _error(exc)
        return await _transition(info, id, "mark_duplicate", duplicate_of=original)

    @strawberry.mutation(
        description="Reopen: a failed check sends it back to the handler; a closed case goes "
        "back to its department; a rejected or duplicate one back to reported."
    )
    async def reopen_case(self, info: Info, id: strawberry.ID, note: str) -> CaseResult:
        return await _transition(info, id, "reopen", note=note)

    @strawberry.mutation(
        description="挂起: stop the clock of the case's current stage (PAUSE_CLOCKS, approved "
        "in this one step), with the reason; ILLEGAL_TRANSITION when already suspended or the "
        "case is out of the workflow."
    )
    async def suspend_case(self, info: Info, id: strawberry.ID, reason: str) -> CaseResult:
        return await _clock_step(info, id, "suspend", reason)

    @strawberry.mutation(description="Run a suspended clock again (PAUSE_CLOCKS), with a note.")
    async def resume_case(self, info: Info, id: strawberry.ID, reason: str) -> CaseResult:
        return await _clock_step(info, id, "resume", reason)

    @strawberry.mutation(
        description="延期: extend the current stage's limit by workingMinutes of working time "
        "(PAUSE_CLOCKS, approved in this one step; at most 30 working days at once)."
    )
    async def extend_case(
        self, info: Info, id: strawberry.ID, working_minutes: int, reason: str
    ) -> CaseResult:
        return await _clock_step(info, id, "extend", reason, working_minutes)

    @strawberry.mutation(
        description="The handling department asks to suspend the clock (HANDLE); a dispatcher "
        "approves or refuses (approveClockRequest, refuseClockRequest)."
    )
    async def request_suspension(self, info: Info, id: strawberry.ID, reason: str) -> CaseResult:
        return await _clock_step(info, id, "request_suspension", reason)

    @strawberry.mutation(
        description="The handling department asks for workingMinutes more (HANDLE); a "
        "dispatcher approves or refuses."
    )
    async def request_extension(
        self, info: Info, id: strawberry.ID, working_minutes: int, reason: str
    ) -> CaseResult:
        return await _clock_step(info, id, "request_extension", reason, working_minutes)

    @strawberry.mutation(
        description="Approve the pending suspension or extension request (PAUSE_CLOCKS): "
        "the clock is suspended, or the limit extended by the minutes asked for."
    )
    async def approve_clock_request(self, info: Info, id: strawberry.ID, note: str) -> CaseResult:
        return await _clock_step(info, id, "approve", note)

    @strawberry.mutation(description="Refuse the pending request, with the reason (PAUSE_CLOCKS).")
    async def refuse_clock_request(self, info: Info, id: strawberry.ID, reason: str) -> CaseResult:
        return await _clock_step(info, id, "refuse", reason)
