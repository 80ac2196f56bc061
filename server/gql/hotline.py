"""Hotline intake and callback (市民热线, 回访) and the on-site check (核查) in GraphQL: the
services are geo.services.hotline, callbacks and checks; access decisions are theirs (through
geo.access). Mutations answer ``CaseResult`` like the other workflow steps."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry

from geo import errors, geocoding
from geo.access import Capability
from geo.enums import CasePriority, Satisfaction
from geo.params import LonLat
from geo.queries.filters import AttributeFilter
from geo.queries.search import rows
from geo.services import callbacks, checks, hotline
from server.gql.context import Info
from server.gql.inputs import page_size, to_id
from server.gql.mutations import CaseResult, _error, _payload
from server.gql.types import Case, Connection, Edge, PageInfo

strawberry.enum(
    Satisfaction,
    name="Satisfaction",
    description="A caller's answer at the callback (回访): SATISFIED 满意, BASICALLY_SATISFIED "
    "基本满意, NOT_SATISFIED 不满意 (the case reopens).",
)


@strawberry.type(
    description="Someone who called the hotline about a case: restricted personal data "
    "(READ_PERSONAL, cases of the caller's jurisdiction); every read is audited."
)
class HotlineCaller:
    id: strawberry.ID
    name: str
    phone: str
    callback_time: str | None = strawberry.field(description="When they prefer a callback.")
    consent_callback: bool = strawberry.field(description="They agreed to a callback (回访).")
    taken_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> HotlineCaller:
        return cls(id=strawberry.ID(str(r["id"])), name=r["name"], phone=r["phone"],
                   callback_time=r["callback_time"], consent_callback=r["consent_callback"],
                   taken_at=r["taken_at"])  # fmt: skip


async def case_callers(info: Info, case_id: int) -> list[HotlineCaller]:
    """Case.callers: the service checks READ_PERSONAL and the jurisdiction, and audits."""
    principal = info.context.require(Capability.READ_PERSONAL)
    async with info.context.pool.connection() as conn:
        info.context.statements += 1
        found = await hotline.callers_of(conn, principal, case_id)
    return [HotlineCaller.from_row(r) for r in found]


async def _cases(info: Info, ids: Sequence[int]) -> dict[int, Case]:
    """The cases as the caller reads them (their full, jurisdiction-scoped view), by id."""
    if not ids:
        return {}
    view = info.context.view("cases")
    found = await info.context.fetch(
        rows(view, None, AttributeFilter(equals={"id": list(ids)}), limit=len(ids))
    )
    return {int(r["id"]): Case.from_row(r, full=view.internal) for r in found}


@strawberry.type(description="An open case like the one being called about, with why.")
class SimilarCase:
    case: Case
    distance_m: float = strawberry.field(description="Metres from the call's place.")
    text_similarity: float = strawberry.field(
        description="Trigram similarity (0–1) of the descriptions (pg_trgm)."
    )
    same_category: bool = strawberry.field(
        description="The same category; otherwise a related one (same department)."
    )
    score: float = strawberry.field(
        description="The rank: 0.5 × closeness in the radius + 0.3 × text similarity + "
        "0.2 × same category."
    )


@strawberry.type(description="A callback (回访) due to a caller now that the case closed.")
class CallbackTask:
    id: strawberry.ID
    case: Case
    caller: HotlineCaller
    attempts: int = strawberry.field(description="Attempts that did not reach the caller.")
    created_at: datetime = strawberry.field(description="When the case closed.")
    due_at: datetime = strawberry.field(
        description="When the callback is due: ONEMAP_HOTLINE_CALLBACK_DUE_WORKING_HOURS of "
        "working time after the close."
    )


def _cursor(callback_id: int) -> str:
    return base64.urlsafe_b64encode(f"cb:{callback_id}".encode()).decode()


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith("cb:"):
            return int(text[3:])
    except (ValueError, UnicodeError):
        pass
    raise errors.InvalidInput("after is not a cursor of pendingCallbacks.", field="after")


@strawberry.type
class HotlineQuery:
    @strawberry.field(
        description="Before creating a case from a call: open cases of the caller's "
        "jurisdiction within ONEMAP_HOTLINE_SIMILAR_RADIUS_M of the place, reported since "
        "`since` (default: ONEMAP_HOTLINE_SIMILAR_DAYS ago), of the category or a related one, "
        "best first (READ_CASES). Attach the call to one (attachCall) instead of a duplicate."
    )
    async def similar_cases(
        self, info: Info, lon: float, lat: float, category: str, description: str = "",
        since: datetime | None = None,
    ) -> list[SimilarCase]:  # fmt: skip
        principal = info.context.require(Capability.READ_CASES)
        settings = info.context.hotline
        since = since or datetime.now(UTC) - timedelta(days=settings.similar_days)
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            found = await hotline.similar_cases(
                conn, principal, point=LonLat(lon, lat), category=category,
                description=description, since=since, radius_m=settings.similar_radius_m,
                limit=settings.similar_limit,
            )  # fmt: skip
        loaded = await _cases(info, [s.case["id"] for s in found])
        return [
            SimilarCase(case=loaded[s.case["id"]], distance_m=round(s.distance_m, 1),
                        text_similarity=round(s.text_similarity, 3),
                        same_category=s.same_category, score=round(s.score, 3))
            for s in found if s.case["id"] in loaded
        ]  # fmt: skip

    @strawberry.field(
        description="Callbacks (回访) due, soonest first, of cases in the caller's jurisdiction "
        "(CALLBACK): the callers' contact is shown, and the read audited."
    )
    async def pending_callbacks(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CallbackTask]:
        principal = info.context.require(Capability.CALLBACK)
        settings = info.context.settings
        limit = page_size(first, settings.default_first, settings.max_first)
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            tasks = await callbacks.pending(conn, principal, after_id=_after(after), limit=limit)
        shown = tasks[:limit]
        loaded = await _cases(info, sorted({t.case_id for t in shown}))
        due_in = info.context.hotline.callback_due_working_hours * 60
        hours = info.context.clocks.hours
        edges = [
            Edge(cursor=_cursor(t.id), node=CallbackTask(
                id=strawberry.ID(str(t.id)), case=loaded[t.case_id],
                caller=HotlineCaller(id=strawberry.ID(str(t.caller_id)), name=t.name,
                                     phone=t.phone, callback_time=t.callback_time,
                                     consent_callback=True, taken_at=t.taken_at),
                attempts=t.attempts, created_at=t.created_at,
                due_at=hours.add(t.created_at, due_in),
            ))
            for t in shown if t.case_id in loaded
        ]  # fmt: skip
        return Connection(
            typed_edges=edges,
            page_info=PageInfo(has_next_page=len(tasks) > limit,
                               end_cursor=_cursor(shown[-1].id) if shown else None),
        )  # fmt: skip


@strawberry.input(description="Who called, as the call-taker writes it down.")
class CallerInput:
    name: str = strawberry.field(description="1–50 characters (a surname and 先生/女士 will do).")
    phone: str = strawberry.field(
        description="A mobile (13812345678, +86 allowed) or a landline with its area code "
        "(021-62345678, an extension after a further dash)."
    )
    callback_time: str | None = strawberry.field(
        default=None, description="When they prefer a callback (free text, ≤ 100 characters)."
    )
    consent_callback: bool = strawberry.field(
        default=True, description="They agree to a callback (回访) after the close."
    )

    def caller(self) -> hotline.Caller:
        return hotline.Caller(self.name, self.phone, self.callback_time, self.consent_callback)


@strawberry.input
class HotlineCaseInput:
    category: str
    lon: float | None = strawberry.field(
        default=None,
        description="Where (WGS84). Leave lon and lat out to place the case by "
        "its address: ADDRESS_UNCERTAIN (with the candidates) when the address is not sure.",
    )
    lat: float | None = None
    description: str = strawberry.field(description="What the caller reported.")
    caller: CallerInput
    address: str | None = None
    priority: CasePriority = CasePriority.NORMAL


async def _where(
    info: Info, conn: Any, lon: float | None, lat: float | None, address: str | None
) -> tuple[LonLat, str | None]:
    """The call's point: as given, or its address's best match (the standard label kept)."""
    if lon is not None and lat is not None:
        return LonLat(lon, lat), address
    if lon is not None or lat is not None:
        raise errors.InvalidInput("Give both lon and lat, or neither (and an address).")
    settings = info.context.geocode
    info.context.statements += 1
    point, match = await geocoding.locate(
        conn, address, settings.min_confidence, settings.max_candidates
    )
    return point, match.label_zh


@strawberry.type
class HotlineMutation:
    @strawberry.mutation(
        description="市民热线: a case from a call (source HOTLINE), with the caller's contact "
        "kept for the callback (CREATE_CASES and READ_PERSONAL). Ask similarCases first."
    )
    async def create_hotline_case(self, info: Info, input: HotlineCaseInput) -> CaseResult:
        try:
            principal = info.context.require(Capability.CREATE_CASES)
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                point, address = await _where(info, conn, input.lon, input.lat, input.address)
                record = await hotline.create_hotline_case(
                    conn, actor=principal, caller=input.caller.caller(), category=input.category,
                    point=point, description=input.description,
                    address=address, priority=CasePriority(input.priority.value),
                )  # fmt: skip
            return await _payload(info, record.id)
        except errors.OneMapError as exc:
            return _error(exc)

    @strawberry.mutation(
        description="Another call about an open case: a CALL_ATTACHED event with what the "
        "caller said, the caller kept for the callback — instead of a duplicate case."
    )
    async def attach_call(
        self, info: Info, case_id: strawberry.ID, caller: CallerInput, note: str
    ) -> CaseResult:
        try:
            principal = info.context.require(Capability.CREATE_CASES)
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                record = await hotline.attach_call(
                    conn, to_id(case_id, "caseId"), principal, caller.caller(), note
                )
            return await _payload(info, record.id)
        except errors.OneMapError as exc:
            return _error(exc)

    @strawberry.mutation(
        description="回访: the caller's satisfaction with a closed case (CALLBACK). "
        "NOT_SATISFIED (a note saying why is needed) reopens the case to its department. "
        "callerId: which caller, when several are due."
    )
    async def record_callback(
        self, info: Info, case_id: strawberry.ID, satisfaction: Satisfaction,
        note: str | None = None, caller_id: strawberry.ID | None = None,
    ) -> CaseResult:  # fmt: skip
        try:
            principal = info.context.require(Capability.CALLBACK)
            caller = to_id(caller_id, "callerId") if caller_id is not None else None
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                record = await callbacks.record(conn, to_id(case_id, "caseId"), principal,
                                                satisfaction, note, caller)  # fmt: skip
            return await _payload(info, record.id)
        except errors.OneMapError as exc:
            return _error(exc)

    @strawberry.mutation(
        description="回访 attempt that did not reach the caller (CALLBACK): the task stays due "
        "until ONEMAP_HOTLINE_CALLBACK_ATTEMPTS such attempts, then ends as unreachable."
    )
    async def record_callback_unreachable(
        self, info: Info, case_id: strawberry.ID, note: str | None = None,
        caller_id: strawberry.ID | None = None,
    ) -> CaseResult:  # fmt: skip
        try:
            principal = info.context.require(Capability.CALLBACK)
            caller = to_id(caller_id, "callerId") if caller_id is not None else None
            attempts = info.context.hotline.callback_attempts
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                record, _ = await callbacks.unreachable(
                    conn, to_id(case_id, "caseId"), principal, note, attempts, caller
                )
            return await _payload(info, record.id)
        except errors.OneMapError as exc:
            return _error(exc)

    @strawberry.mutation(
        description="核查: check a resolved case on site (CHECK_ON_SITE, cases of the caller's "
        "jurisdiction): standing within the category's check radius, with photos uploaded for "
        "the case since it was resolved. Passed: CHECKED (it may close). Not passed (a note "
        "saying what is wrong): CHECK_FAILED, back to the handler."
    )
    async def check_case(
        self, info: Info, id: strawberry.ID, passed: bool, lon: float, lat: float,
        photo_ids: list[strawberry.ID], note: str | None = None,
    ) -> CaseResult:  # fmt: skip
        try:
            principal = info.context.require(Capability.CHECK_ON_SITE)
            photos = [to_id(p, "photoIds") for p in photo_ids]
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                record = await checks.check(
                    conn, to_id(id), principal, passed=passed, point=LonLat(lon, lat),
                    photo_ids=photos, note=note,
                )  # fmt: skip
            return await _payload(info, record.id)
        except errors.OneMapError as exc:
            return _error(exc)
