"""GraphQL object types of the one map. Rows come from geo.queries; related objects from the
request's DataLoaders. Fields that carry internal or personal data check the caller."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from geo import access
from geo.access import Capability
from geo.enums import (
    INTERNAL_CASE_EVENTS,
    AdminLevel,
    CameraStatus,
    CaseEventType,
    CasePriority,
    CaseSource,
    CaseStatus,
    EscalationLevel,
    FacilityCategory,
    HealthRisk,
)
from geo.errors import Forbidden
from geo.services import cases as workflow
from geo.services import collaboration, loop_steps
from geo.services.clocks import current_stage
from server.gql.clocks import CaseClock, case_clock, timeline
from server.gql.compiled import PreRendered
from server.gql.context import Info
from server.gql.loop import PendingSupervision, loop_state, pending_supervision
from server.gql.scalars import GeoJSON
from server.gql.tasks import (
    CaseReturn,
    CaseTask,
    case_return,
    case_tasks,
    collaboration_state,
    handles,
)

if TYPE_CHECKING:
    from server.gql.hotline import HotlineCaller

# strawberry.enum registers the class itself, so annotations can use geo's enums directly.
for _enum in (AdminLevel, CameraStatus, CaseEventType, CasePriority, CaseSource, CaseStatus,
              EscalationLevel, FacilityCategory, HealthRisk):  # fmt: skip
    strawberry.enum(_enum)


def point(row: dict[str, Any]) -> Any:
    return {"type": "Point", "coordinates": [row["lon"], row["lat"]]}


async def _polygon(info: Info, loader: str, key: int, geojson: str | None) -> GeoJSON:
    """Polygons are read only when asked for: a page of cases names its cells without them."""
    if geojson is None:
        geojson = await info.context.loader(loader).load(key)
    return GeoJSON(json.loads(geojson) if geojson else None)


@strawberry.type(description="A staff member as other staff see them (no phone, no ID).")
class StaffUser:
    id: strawberry.ID
    display_name: str
    roles: list[str]
    department_id: strawberry.Private[int | None]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await load_department(info, self.department_id)

    @classmethod
    def from_row(cls, r: Any) -> StaffUser:
        return cls(id=strawberry.ID(str(r[0])), display_name=r[1], roles=r[2], department_id=r[3])


@strawberry.type
class Department:
    id: strawberry.ID
    code: str
    name_zh: str
    name_en: str


async def load_department(info: Info, dept_id: int | None) -> Department | None:
    if dept_id is None:
        return None
    r = await info.context.loader("department").load(dept_id)
    return Department(id=strawberry.ID(str(r[0])), code=r[1], name_zh=r[2], name_en=r[3])


@strawberry.type(
    description="An administrative area: district (区), street (街道), community (社区)."
)
class AdminArea:
    id: strawberry.ID
    code: str
    name_zh: str
    name_en: str
    level: AdminLevel
    population: int | None
    parent_id: strawberry.Private[int | None]
    geojson: strawberry.Private[str | None] = None

    @strawberry.field(description="MultiPolygon.")
    async def geometry(self, info: Info) -> GeoJSON:
        return await _polygon(info, "admin_area_geometry", int(self.id), self.geojson)

    @strawberry.field
    async def parent(self, info: Info) -> AdminArea | None:
        return await load_admin_area(info, self.parent_id)

    @classmethod
    def from_row(cls, r: Any) -> AdminArea:
        return cls(id=strawberry.ID(str(r[0])), code=r[1], name_zh=r[2], name_en=r[3],
                   level=AdminLevel(r[4]), parent_id=r[5], population=r[6],
                   geojson=r[7] if len(r) > 7 else None)  # fmt: skip


async def load_admin_area(info: Info, area_id: int | None) -> AdminArea | None:
    if area_id is None:
        return None
    row = await info.context.loader("admin_area").load(area_id)
    return AdminArea.from_row(row) if row else None


@strawberry.type(description="A management grid cell (网格) and its responsible grid worker.")
class GridCell:
    id: strawberry.ID
    code: str
    name: str
    population: int
    health_risk: HealthRisk
    community_id: strawberry.Private[int]
    worker_id: strawberry.Private[int | None]
    geojson: strawberry.Private[str | None] = None

    @strawberry.field(description="MultiPolygon.")
    async def geometry(self, info: Info) -> GeoJSON:
        return await _polygon(info, "grid_cell_geometry", int(self.id), self.geojson)

    @strawberry.field
    async def community(self, info: Info) -> AdminArea | None:
        return await load_admin_area(info, self.community_id)

    @strawberry.field(description="The responsible grid worker (staff only).")
    async def worker(self, info: Info) -> StaffUser | None:
        access.require_staff(info.context.principal)
        if self.worker_id is None:
            return None
        row = await info.context.loader("user").load(self.worker_id)
        return StaffUser.from_row(row) if row else None

    @classmethod
    def from_row(cls, r: Any) -> GridCell:
        return cls(id=strawberry.ID(str(r[0])), code=r[1], name=r[2], community_id=r[3],
                   worker_id=r[4], population=r[5], health_risk=HealthRisk(r[6]),
                   geojson=r[7] if len(r) > 7 else None)  # fmt: skip


def joined_cell(r: dict[str, Any]) -> GridCell | None:
    """The grid cell a row brought along (search rows with ``with_cell``), if any."""
    if r.get("cell_code") is None:
        return None
    return GridCell.from_row([r["grid_cell_id"], r["cell_code"], r["cell_name"],
                              r["cell_community_id"], r["cell_worker_id"],
                              r["cell_population"], r["cell_health_risk"]])  # fmt: skip


def cell_or_load(info: Info, cell: GridCell | None, cell_id: int | None) -> Any:
    """The joined cell as is (no coroutine, no loader: the hot path for big pages), or an
    awaitable that loads it."""
    return cell if cell is not None else load_grid_cell(info, cell_id)


async def load_grid_cell(info: Info, cell_id: int | None) -> GridCell | None:
    if cell_id is None:
        return None
    row = await info.context.loader("grid_cell").load(cell_id)
    return GridCell.from_row(row) if row else None


@strawberry.type
class Facility:
    id: strawberry.ID
    code: str
    category: FacilityCategory
    name_zh: str
    name_en: str
    address: str | None
    capacity: int | None
    geometry: GeoJSON
    distance_m: float | None = strawberry.field(
        default=None, description="Metres from the search point, when searching near one."
    )
    grid_cell_id: strawberry.Private[int]
    _attributes: strawberry.Private[Any] = None
    _cell: strawberry.Private[GridCell | None] = None

    @strawberry.field(description="Category-specific attributes (READ_INTERNAL).")
    def attributes(self, info: Info) -> JSON | None:
        info.context.require(Capability.READ_INTERNAL)
        return self._attributes  # type: ignore[no-any-return]

    @strawberry.field
    def grid_cell(self, info: Info) -> GridCell | None:
        return cell_or_load(info, self._cell, self.grid_cell_id)  # type: ignore[no-any-return]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Facility:
        return cls(id=strawberry.ID(str(r["id"])), code=r["code"],
                   category=FacilityCategory(r["category"]), name_zh=r["name_zh"],
                   name_en=r["name_en"], address=r["address"], capacity=r["capacity"],
                   geometry=point(r), distance_m=r.get("distance_m"),
                   grid_cell_id=r["grid_cell_id"], _attributes=r.get("attributes"),
                   _cell=joined_cell(r))  # fmt: skip


@strawberry.type(description="A camera (READ_CAMERAS, within the caller's jurisdiction). Its "
                 "source URL never leaves the server.")  # fmt: skip
class Camera:
    id: strawberry.ID
    code: str
    name: str
    heading: int
    fov: int
    status: CameraStatus
    last_seen_at: datetime | None
    geometry: GeoJSON
    distance_m: float | None = None
    grid_cell_id: strawberry.Private[int]
    _cell: strawberry.Private[GridCell | None] = None

    @strawberry.field
    def grid_cell(self, info: Info) -> GridCell | None:
        return cell_or_load(info, self._cell, self.grid_cell_id)  # type: ignore[no-any-return]

    @strawberry.field(description="The WHEP endpoint for live video (WATCH_VIDEO).")
    def stream_url(self, info: Info) -> str | None:
        # Cameras are read only through the caller's scoped view: in jurisdiction already.
        info.context.require(Capability.WATCH_VIDEO)
        return f"/streams/cameras/{self.id}/whep"

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Camera:
        return cls(id=strawberry.ID(str(r["id"])), code=r["code"], name=r["name"],
                   heading=r["heading"], fov=r["fov"], status=CameraStatus(r["status"]),
                   last_seen_at=r["last_seen_at"], geometry=point(r),
                   distance_m=r.get("distance_m"), grid_cell_id=r["grid_cell_id"],
                   _cell=joined_cell(r))  # fmt: skip


@strawberry.type(description="One step of a case's timeline.")
class CaseEvent:
    id: strawberry.ID
    event_type: CaseEventType
    from_status: CaseStatus | None
    to_status: CaseStatus | None
    note: str | None
    at: datetime
    extended_working_minutes: int | None = strawberry.field(
        description="What an extension (延期) added to the stage's limit."
    )
    task_id: strawberry.ID | None = strawberry.field(
        description="The co-handling or joint task a task event is about."
    )
    supervision_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The supervision (督办) a SUPERVISED, SUPERVISION_ANSWERED or "
        "SUPERVISION_MISSED event is about (query supervision(id)).",
    )
    escalation_level: EscalationLevel | None = strawberry.field(
        default=None, description="The level an ESCALATED event brought the case to."
    )
    case_id: strawberry.Private[int]
    actor_id: strawberry.Private[int | None]
    department_id: strawberry.Private[int | None]
    from_department_id: strawberry.Private[int | None] = None

    @strawberry.field(description="Who acted, if staff (citizens are never named).")
    async def actor(self, info: Info) -> StaffUser | None:
        if self.actor_id is None:
            return None
        row = await info.context.loader("user").load(self.actor_id)
        if row is None or not access.Principal(row[0], frozenset(row[2])).is_staff:
            return None
        return StaffUser.from_row(row)

    @strawberry.field(description="The department the step concerns: dispatched or "
                      "transferred to, returning the case, or whose task it is.")  # fmt: skip
    async def department(self, info: Info) -> Department | None:
        return await load_department(info, self.department_id)

    @strawberry.field(description="The department a transfer (转办) took the case from.")
    async def from_department(self, info: Info) -> Department | None:
        return await load_department(info, self.from_department_id)

    @classmethod
    def from_row(cls, case_id: int, r: Any) -> CaseEvent:
        return cls(id=strawberry.ID(str(r[0])), event_type=CaseEventType(r[1]),
                   from_status=CaseStatus(r[2]) if r[2] else None,
                   to_status=CaseStatus(r[3]) if r[3] else None, actor_id=r[4],
                   department_id=r[5], note=r[6], at=r[7], extended_working_minutes=r[8],
                   from_department_id=r[9], task_id=strawberry.ID(str(r[10])) if r[10] else None,
                   supervision_id=strawberry.ID(str(r[11])) if r[11] is not None else None,
                   escalation_level=EscalationLevel(r[12]) if r[12] else None,
                   case_id=case_id)  # fmt: skip


@strawberry.type(description="The citizen who reported a case (READ_PERSONAL, within the "
                 "caller's jurisdiction); every read is written to the audit log.")  # fmt: skip
class Reporter:
    id: strawberry.ID
    display_name: str
    phone: str


@strawberry.enum(
    description="A step of the case workflow (geo.services.cases.TRANSITIONS, "
    "geo.services.collaboration.ACTIONS), each one mutation: dispatchCase, startCase, "
    "resolveCase, closeCase, rejectCase, markDuplicate, reopenCase; transferCase, "
    "requestReturn, acceptReturn, refuseReturn, addCoHandlers, blowWhistle, commentCase; "
    "(geo.services.loop_steps.ACTIONS) superviseCase, answerSupervision (Case."
    "pendingSupervision's id), checkCase, recordCallback; (geo.services.cases.CLOCK_ACTIONS) "
    "requestSuspension, requestExtension, resumeCase, approveClockRequest, refuseClockRequest."
)
class CaseAction(Enum):
    DISPATCH = "dispatch"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"
    REJECT = "reject"
    MARK_DUPLICATE = "mark_duplicate"
    REOPEN = "reopen"
    TRANSFER = "transfer"
    REQUEST_RETURN = "request_return"
    ACCEPT_RETURN = "accept_return"
    REFUSE_RETURN = "refuse_return"
    ADD_CO_HANDLERS = "add_co_handlers"
    BLOW_WHISTLE = "blow_whistle"
    COMMENT = "comment"
    SUPERVISE = "supervise"
    ANSWER_SUPERVISION = "answer_supervision"
    CHECK = "check"
    CALLBACK = "callback"
    REQUEST_SUSPENSION = "request_suspension"
    REQUEST_EXTENSION = "request_extension"
    RESUME = "resume"
    APPROVE_CLOCK_REQUEST = "approve"
    REFUSE_CLOCK_REQUEST = "refuse"


@strawberry.type(description="A city-management case. Staff who read cases see those of "
                 "their jurisdiction in full; everyone else only its public record: position "
                 "on a 0.001° grid, times to the hour, no text, department or due "
                 "time.")  # fmt: skip
class Case:
    id: strawberry.ID
    public_id: str
    category: str
    status: CaseStatus
    priority: CasePriority
    reported_at: datetime
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    geometry: GeoJSON
    distance_m: float | None = None
    row: strawberry.Private[dict[str, Any]]
    # Read through the caller's full, jurisdiction-scoped view (SQL decided), or the public one.
    full: strawberry.Private[bool] = False

    async def _full(self, info: Info, what: str) -> dict[str, Any]:
        if not self.full:
            raise Forbidden(
                f"The case's {what} is shown only to staff whose jurisdiction holds it "
                "(READ_CASES), and to its reporter."
            )
        return self.row

    @strawberry.field(description="The reporter's words (staff of its jurisdiction, or the "
                      "reporter).")  # fmt: skip
    async def description(self, info: Info) -> str:
        return str((await self._full(info, "description"))["description"])

    @strawberry.field
    async def address(self, info: Info) -> str | None:
        address: str | None = (await self._full(info, "address"))["address"]
        return address

    @strawberry.field
    async def source(self, info: Info) -> CaseSource:
        return CaseSource((await self._full(info, "source"))["source"])

    @strawberry.field
    def grid_cell(self, info: Info) -> GridCell | None:
        cell = joined_cell(self.row)
        return cell_or_load(info, cell, self.row["grid_cell_id"])  # type: ignore[no-any-return]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await load_department(info, self.row.get("department_id"))

    @strawberry.field
    async def assignee(self, info: Info) -> StaffUser | None:
        row = await self._full(info, "assignee")
        if row.get("assignee_id") is None:
            return None
        user = await info.context.loader("user").load(row["assignee_id"])
        return StaffUser.from_row(user) if user else None

    @strawberry.field(description="The reporter (READ_PERSONAL; audited).")
    async def reporter(self, info: Info) -> Reporter | None:
        info.context.require(Capability.READ_PERSONAL)
        await self._full(info, "reporter")
        reporter_id = self.row.get("reporter_id")
        if reporter_id is None:
            return None
        user, _ = await asyncio.gather(
            info.context.loader("user").load(reporter_id),
            info.context.loader("audit_personal_data").load((int(self.id), reporter_id)),
        )
        return Reporter(id=strawberry.ID(str(user[0])), display_name=user[1], phone=user[4])

    @strawberry.field(description="Who called the hotline about the case (READ_PERSONAL, "
                      "cases of the caller's jurisdiction; every read audited).")  # fmt: skip
    async def callers(
        self, info: Info
    ) -> list[Annotated[HotlineCaller, strawberry.lazy("server.gql.hotline")]]:
        from server.gql.hotline import case_callers

        await self._full(info, "callers")
        return await case_callers(info, int(self.id))

    @strawberry.field(description="The timeline, oldest first. Its reporter sees it without "
                      "the notes between staff (comments, returns, tasks).")  # fmt: skip
    async def events(self, info: Info) -> list[CaseEvent]:
        await self._full(info, "timeline")
        rows = await info.context.loader("case_events").load(int(self.id))
        staff = info.context.principal.can(Capability.READ_CASES)
        return [CaseEvent.from_row(int(self.id), r) for r in rows
                if staff or r[1] not in INTERNAL_CASE_EVENTS]  # fmt: skip

    @strawberry.field(description="The co-handling (协办) and joint (吹哨报到) tasks of other "
                      "departments, oldest first (staff of its jurisdiction).")  # fmt: skip
    async def tasks(self, info: Info) -> list[CaseTask]:
        await self._full(info, "tasks")
        info.context.require(Capability.READ_CASES)
        return await case_tasks(info, int(self.id))

    @strawberry.field(description="A return (退单) waiting for a dispatcher's decision, if any "
                      "(staff of its jurisdiction).")  # fmt: skip
    async def pending_return(self, info: Info) -> CaseReturn | None:
        await self._full(info, "return")
        info.context.require(Capability.READ_CASES)
        return await case_return(info, int(self.id))

    @strawberry.field(
        description="The workflow steps the caller may take on this case now: those its status "
        "allows whose capability the caller holds, for a case of their jurisdiction (CLOSE only "
        "once the on-site check its category requires has passed; CHECK only then; CALLBACK "
        "while a callback is due; ANSWER_SUPERVISION while a supervision aimed at the caller's "
        "department waits). Empty on the public record. "
        "Front ends show these, and decide nothing from roles."
    )
    async def allowed_actions(self, info: Info) -> list[CaseAction]:
        # ``full`` means the row was read through geo.access.case_scope, the scope the
        # workflow acts in: the jurisdiction holds; status and capabilities decide the rest,
        # for the handling steps whether the caller's department leads the case, and a close
        # waits for the on-site check (核查) its category requires.
        principal = info.context.principal
        if not self.full or not principal.can(Capability.READ_CASES):
            return []
        lead = handles(info, self.row.get("department_id"))
        waiting, tasks_open = await collaboration_state(info, int(self.id))
        steps = [s for s in workflow.allowed_actions(principal, self.status, handles=lead)
                 if not (s == "resolve" and tasks_open)]  # fmt: skip
        if "close" in steps:
            waits = await info.context.loader("close_waits_for_check").load(int(self.id))
            if waits is not None and waits[1]:
                steps.remove("close")
        steps += collaboration.allowed_actions(principal, self.status, handles=lead,
                                               waiting=waiting)  # fmt: skip
        run = current_stage(timeline(await info.context.loader("case_events").load(int(self.id))))
        steps += workflow.clock_actions(principal, self.status, run, handles=lead)
        state = await loop_state(info, int(self.id), self.status)
        steps += loop_steps.allowed_actions(principal, self.status,
                                            self.row.get("department_id"), state)  # fmt: skip
        return [CaseAction(a) for a in steps]

    @strawberry.field(description="The oldest supervision (督办) over this case that is not "
                      "answered yet and that the caller answers (HANDLE, aimed at their "
                      "department), if any (staff of its jurisdiction).")  # fmt: skip
    async def pending_supervision(self, info: Info) -> PendingSupervision | None:
        await self._full(info, "supervision")
        return await pending_supervision(info, int(self.id))

    @strawberry.field(
        description="The current stage's clock: deadline, working time spent, on time, warning "
        "or overdue (staff of its jurisdiction). Null once the case is closed, rejected or a "
        "duplicate."
    )
    async def clock(self, info: Info) -> CaseClock | None:
        await self._full(info, "clock")
        return await case_clock(info, int(self.id), self.category, self.status.value)

    @strawberry.field(description="The case this one duplicates, if any.")
    def duplicate_of_id(self) -> strawberry.ID | None:
        dup = self.row.get("duplicate_of")
        return strawberry.ID(str(dup)) if dup is not None else None

    @classmethod
    def from_row(cls, r: dict[str, Any], *, full: bool = False) -> Case:
        return cls(id=strawberry.ID(str(r["id"])), public_id=r["public_id"],
                   category=r["category"], status=CaseStatus(r["status"]),
                   priority=CasePriority(r["priority"]), reported_at=r["reported_at"],
                   due_at=r.get("due_at"), resolved_at=r.get("resolved_at"),
                   closed_at=r.get("closed_at"), geometry=point(r),
                   distance_m=r.get("distance_m"), row=r, full=full)  # fmt: skip


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):  # noqa: UP046 - strawberry resolves typing.Generic, not PEP 695
    cursor: str
    node: T


@strawberry.type(description="A page of results. Cursors are keyset positions: paging never "
                 "skips or repeats a row while rows are added or leave the filter; `first` is "
                 "capped.")  # fmt: skip
class Connection(Generic[T]):  # noqa: UP046
    page_info: PageInfo
    typed_edges: strawberry.Private[list[Edge[T]]]
    # Set when SQL rendered the page (server/gql/compiled.py): response key → rendered list.
    rendered: strawberry.Private[dict[str, Any] | None] = None
    # Counts the rows the filters match (run only when totalCount is asked for).
    count: strawberry.Private[Callable[[], Awaitable[int | None]] | None] = None

    @strawberry.field(description="How many rows the filters match, over all pages: exact, or "
                      "null when more than the server's cap (GraphQL settings, default "
                      "100,000) match.")  # fmt: skip
    async def total_count(self) -> int | None:
        return None if self.count is None else await self.count()

    @strawberry.field
    def edges(self, info: Info) -> list[Edge[T]]:
        if self.rendered is not None:
            return PreRendered(self.rendered[str(info.path.key)])  # type: ignore[return-value]
        return self.typed_edges

    @strawberry.field(description="The nodes of the edges, for convenience.")
    def nodes(self, info: Info) -> list[T]:
        if self.rendered is not None:
            return PreRendered(self.rendered[str(info.path.key)])  # type: ignore[return-value]
        return [e.node for e in self.typed_edges]


class CaseStatsDimension(Enum):
    GRID_CELL = "grid_cell_id"
    CATEGORY = "category"
    STATUS = "status"
    DAY = "day"


CaseStatsDimensionEnum = strawberry.enum(CaseStatsDimension)


@strawberry.type(description="Case counts for one combination of the grouped dimensions.")
class CaseStatsBucket:
    grid_cell_id: strawberry.ID | None
    category: str | None
    status: CaseStatus | None
    day: str | None
    count: int
