"""Emergency plans (预案) in GraphQL: ``plans``, ``plan(id)`` with every version and its
measures by level, and ``createPlan`` / ``revisePlan`` (MANAGE_PLANS). Reading needs
READ_PLANS. Mutations answer ``PlanResult = PlanPayload | CaseError`` (the typed domain errors
of the other mutations). The writer is geo.services.plans.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader

from geo import errors
from geo.access import Capability
from geo.enums import FacilityCategory
from geo.plan_enums import HazardType, ResponseLevel
from geo.queries import plans as q
from geo.services import plans as service
from geo.services.plan_drafts import MeasureDraft, PlanDraft, Resource
from server.gql.context import Info
from server.gql.inputs import to_id
from server.gql.mutations import CaseError, _error
from server.gql.scalars import GeoJSON
from server.gql.types import Department, load_department

strawberry.enum(HazardType, name="HazardType", description="What a plan is for.")
strawberry.enum(ResponseLevel, name="ResponseLevel",
                description="Response levels: I (特别重大, the gravest) to IV (一般).")  # fmt: skip


def loader(info: Info, name: str, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]) -> Any:
    """The request's DataLoader ``name`` for the emergency types (one statement per batch)."""
    cache = info.context._cache
    key = f"emergency:{name}"
    if key not in cache:
        cache[key] = DataLoader(load_fn=load)
    return cache[key]


@strawberry.type(description="A resource a measure needs: a kind of facility, how many.")
class ResourceNeed:
    category: FacilityCategory
    count: int

    @classmethod
    def of(cls, items: list[dict[str, Any]]) -> list[ResourceNeed]:
        return [cls(category=FacilityCategory(r["category"]), count=int(r["count"]))
                for r in items]  # fmt: skip


@strawberry.type(description="One measure of a response level, for a department.")
class PlanMeasure:
    id: strawberry.ID
    position: int
    text_zh: str
    text_en: str
    resources: list[ResourceNeed]
    due_minutes: int = strawberry.field(description="Its task is due this long after assigned.")
    department_id: strawberry.Private[int]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await load_department(info, self.department_id)


@strawberry.type
class PlanLevel:
    level: ResponseLevel
    measures: list[PlanMeasure] = strawberry.field(description="In order.")


async def _measures(info: Info, version_id: int) -> list[q.MeasureRow]:
    async def load(ids: list[int]) -> list[list[q.MeasureRow]]:
        rows = await info.context.fetch(q.measures(ids))
        return [[r for r in rows if r.version_id == i] for i in ids]

    found: list[q.MeasureRow] = await loader(info, "measures", load).load(version_id)
    return found


@strawberry.type(description="One version of a plan (a revision is a new version).")
class PlanVersion:
    id: strawberry.ID
    version: int
    title_zh: str
    title_en: str
    issuing_body: str
    valid_from: date
    valid_to: date | None
    scope_text: str
    scope_area: GeoJSON | None = strawberry.field(description="MultiPolygon, or null: the city.")
    change_note: str
    created_at: datetime

    @strawberry.field(description="Levels I to IV with their measures.")
    async def levels(self, info: Info) -> list[PlanLevel]:
        rows = await _measures(info, int(self.id))
        return [
            PlanLevel(level=level, measures=[
                PlanMeasure(id=strawberry.ID(str(m.id)), position=m.position, text_zh=m.text_zh,
                            text_en=m.text_en, resources=ResourceNeed.of(m.resources),
                            due_minutes=m.due_minutes, department_id=m.department_id)
                for m in rows if m.level == level.value])
            for level in ResponseLevel
        ]  # fmt: skip

    @classmethod
    def of(cls, r: q.VersionRow) -> PlanVersion:
        return cls(id=strawberry.ID(str(r.id)), version=r.version, title_zh=r.title_zh,
                   title_en=r.title_en, issuing_body=r.issuing_body, valid_from=r.valid_from,
                   valid_to=r.valid_to, scope_text=r.scope_text,
                   scope_area=GeoJSON(json.loads(r.scope_area)) if r.scope_area else None,
                   change_note=r.change_note, created_at=r.created_at)  # fmt: skip


@strawberry.type(description="An emergency plan (预案) in the registry.")
class Plan:
    id: strawberry.ID
    number: str = strawberry.field(description="The document number (文号).")
    hazard_type: HazardType
    current_version: int
    created_at: datetime
    updated_at: datetime
    current: PlanVersion = strawberry.field(description="The version activation uses.")

    @strawberry.field(description="Every version, the newest first.")
    async def versions(self, info: Info) -> list[PlanVersion]:
        return [PlanVersion.of(v) for v in await info.context.fetch(q.versions(int(self.id)))]

    @classmethod
    def of(cls, r: q.PlanRow) -> Plan:
        return cls(id=strawberry.ID(str(r.id)), number=r.number,
                   hazard_type=HazardType(r.hazard_type), current_version=r.current_version,
                   created_at=r.created_at, updated_at=r.updated_at,
                   current=PlanVersion.of(r.current))  # fmt: skip


async def load_plan(info: Info, plan_id: int) -> Plan | None:
    async def load(ids: list[int]) -> list[Plan | None]:
        rows = {r.id: r for r in await info.context.fetch(q.plans(ids=ids, limit=len(ids)))}
        return [Plan.of(rows[i]) if i in rows else None for i in ids]

    found: Plan | None = await loader(info, "plan", load).load(plan_id)
    return found


async def load_version(info: Info, version_id: int) -> PlanVersion | None:
    row = await info.context.fetch(q.version_by_id(version_id))
    return PlanVersion.of(row) if row else None


@strawberry.input
class ResourceInput:
    category: FacilityCategory
    count: int


@strawberry.input
class MeasureInput:
    text_zh: str
    text_en: str
    department_id: strawberry.ID
    resources: list[ResourceInput] = strawberry.field(default_factory=list)
    due_minutes: int = 60


@strawberry.input
class LevelInput:
    level: ResponseLevel
    measures: list[MeasureInput]


@strawberry.input(description="What a plan's version says; every level I–IV needs measures.")
class PlanInput:
    title_zh: str
    title_en: str
    issuing_body: str
    valid_from: date
    scope_text: str
    levels: list[LevelInput]
    valid_to: date | None = None
    scope_area: GeoJSON | None = strawberry.field(
        default=None, description="A Polygon or MultiPolygon; none: the whole city."
    )
    change_note: str = strawberry.field(default="", description="Required on a revision.")


def draft_of(value: PlanInput) -> PlanDraft:
    levels: dict[ResponseLevel, tuple[MeasureDraft, ...]] = {}
    for entry in value.levels:
        if entry.level in levels:
            raise errors.InvalidInput(f"Level {entry.level.value} is given twice.",
                                      field="levels")  # fmt: skip
        levels[entry.level] = tuple(
            MeasureDraft(m.text_zh, m.text_en, to_id(m.department_id, "departmentId"),
                         tuple(Resource(r.category, r.count) for r in m.resources),
                         m.due_minutes)
            for m in entry.measures
        )  # fmt: skip
    return PlanDraft(
        title_zh=value.title_zh, title_en=value.title_en, issuing_body=value.issuing_body,
        valid_from=value.valid_from, valid_to=value.valid_to, scope_text=value.scope_text,
        levels=levels, change_note=value.change_note,
        scope_area=json.dumps(value.scope_area) if value.scope_area is not None else None,
    )  # fmt: skip


@strawberry.type
class PlanPayload:
    plan: Plan


PlanResult = Annotated[PlanPayload | CaseError, strawberry.union("PlanResult")]


@strawberry.type
class PlanQuery:
    @strawberry.field(description="The plan registry, by number, each with its current version "
                      "(READ_PLANS).")  # fmt: skip
    async def plans(self, info: Info, hazard_type: HazardType | None = None) -> list[Plan]:
        info.context.require(Capability.READ_PLANS)
        found = await info.context.fetch(
            q.plans(hazard_type=hazard_type.value if hazard_type else None)
        )
        return [Plan.of(r) for r in found]

    @strawberry.field(description="One plan with its versions (READ_PLANS); NOT_FOUND otherwise.")
    async def plan(self, info: Info, id: strawberry.ID) -> Plan:
        info.context.require(Capability.READ_PLANS)
        found = await load_plan(info, to_id(id))
        if found is None:
            raise errors.NotFound(f"No plan with id {id}.")
        return found


async def _answer(info: Info, plan_id: int) -> PlanPayload:
    found = await info.context.fetch(q.plans(ids=[plan_id], limit=1))
    return PlanPayload(plan=Plan.of(found[0]))


@strawberry.type
class PlanMutation:
    @strawberry.mutation(description="Register a plan with its first version (MANAGE_PLANS). "
                         "ILLEGAL_TRANSITION when the number is taken.")  # fmt: skip
    async def create_plan(
        self, info: Info, number: str, hazard_type: HazardType, input: PlanInput
    ) -> PlanResult:
        try:
            principal = info.context.require(Capability.MANAGE_PLANS)
            draft = draft_of(input)
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                plan_id = await service.create_plan(conn, principal, number=number,
                                                    hazard_type=hazard_type, draft=draft,
                                                    now=datetime.now(UTC))  # fmt: skip
            return await _answer(info, plan_id)
        except errors.OneMapError as exc:
            return _error(exc)

    @strawberry.mutation(description="Revise a plan (MANAGE_PLANS): a new version, with what "
                         "changed (changeNote), becomes the current one; earlier versions stay "
                         "readable and incidents keep theirs.")  # fmt: skip
    async def revise_plan(self, info: Info, id: strawberry.ID, input: PlanInput) -> PlanResult:
        try:
            principal = info.context.require(Capability.MANAGE_PLANS)
            plan_id = to_id(id)
            draft = draft_of(input)
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                await service.revise_plan(conn, principal, plan_id, draft=draft,
                                          now=datetime.now(UTC))  # fmt: skip
            return await _answer(info, plan_id)
        except errors.OneMapError as exc:
            return _error(exc)
