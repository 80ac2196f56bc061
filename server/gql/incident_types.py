"""The GraphQL types of a stored incident: its context as stored at activation (shown through
the reader's own rights), its tasks and its timeline."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry

from geo import access
from geo.access import Capability, visible_categories
from geo.params import LonLat
from geo.plan_enums import IncidentEventType, IncidentStatus, IncidentTaskStatus, ResponseLevel
from geo.queries import incidents as q
from geo.queries import warnings as warning_reads
from geo.queries.filters import AttributeFilter
from geo.queries.routing import Reached
from geo.queries.search import rows
from geo.services import incident_routes
from geo.services.incidents import task_steps
from server.gql.context import Info
from server.gql.plans import Plan, PlanVersion, ResourceNeed, load_plan, load_version, loader
from server.gql.plots import Plot, PlotState, incident_plots
from server.gql.roads import DriveTimeFacility, RouteResult
from server.gql.scalars import GeoJSON
from server.gql.types import Camera, Case, Department, Facility, GridCell, StaffUser
from server.gql.types import load_department as _department
from server.gql.warnings import CapWarning

#: The most warnings an incident lists (its messages, Updates and Cancels included).
INCIDENT_WARNINGS = 50

strawberry.enum(IncidentStatus, name="IncidentStatus")
strawberry.enum(IncidentTaskStatus, name="IncidentTaskStatus",
                description="PENDING → ACCEPTED → DONE, or REFUSED with the reason.")  # fmt: skip
strawberry.enum(IncidentEventType, name="IncidentEventType")


@strawberry.type
class WeatherWarning:
    kind: str = strawberry.field(description="rainstorm, gale.")
    colour: str = strawberry.field(description="blue, yellow, orange, red.")
    text_zh: str
    text_en: str


@strawberry.type(description="The weather at the place when the incident was activated.")
class WeatherReport:
    provider: str
    observed_at: datetime
    rain_mm_h: float
    wind_speed_m_s: float
    wind_direction_deg: float
    temperature_c: float
    warnings: list[WeatherWarning]

    @classmethod
    def of(cls, w: dict[str, Any]) -> WeatherReport:
        return cls(provider=w["provider"], observed_at=datetime.fromisoformat(w["observed_at"]),
                   rain_mm_h=w["rain_mm_h"], wind_speed_m_s=w["wind_speed_m_s"],
                   wind_direction_deg=w["wind_direction_deg"], temperature_c=w["temperature_c"],
                   warnings=[WeatherWarning(**x) for x in w["warnings"]])  # fmt: skip


@strawberry.type(description="A sensor alarm open at activation, of a device within reach.")
class ContextAlarm:
    id: strawberry.ID
    thing: str
    datastream: str
    rule: str
    level: str
    raised_at: datetime
    last_value: float
    case_id: strawberry.ID | None
    distance_m: float
    geometry: GeoJSON


def _camera(r: dict[str, Any]) -> dict[str, Any]:
    seen = r.get("last_seen_at")
    return {**r, "last_seen_at": datetime.fromisoformat(seen) if seen else None}


@strawberry.type(description="A lifeline (生命线): the fastest way from a resource to the site.")
class Lifeline:
    from_facility: str = strawberry.field(description="The resource's name (Chinese).")
    from_facility_en: str
    category: str
    facility_id: strawberry.ID
    route: RouteResult

    @classmethod
    def of(cls, x: dict[str, Any]) -> Lifeline:
        start = x["from"]
        return cls(from_facility=start["name_zh"], from_facility_en=start["name_en"],
                   category=start["category"], facility_id=strawberry.ID(str(start["id"])),
                   route=RouteResult(found=x["found"], duration_s=x["duration_s"],
                                     length_m=x["length_m"],
                                     geometry=GeoJSON(x["geometry"]) if x["geometry"] else None,
                                     road_names_zh=x["road_names_zh"],
                                     road_names_en=x["road_names_en"]))  # fmt: skip


@strawberry.type(description="The context gathered at activation and stored with the incident "
                 "(lists nearest first; distances in metres from the place, 0 inside an area). "
                 "Each list shows what the reader may see.")  # fmt: skip
class IncidentContext:
    gathered_at: datetime
    reach_m: float
    population: int = strawberry.field(description="People living in the grid cells touched.")
    stored: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The grid cells touched, with their population and workers.")
    def grid_cells(self) -> list[GridCell]:
        keys = ("id", "code", "name", "community_id", "worker_id", "population", "health_risk")
        return [GridCell.from_row([c[k] for k in keys]) for c in self.stored["grid_cells"]]

    @strawberry.field(description="Schools, kindergartens, hospitals, clinics, venues, elderly "
                      "care within reach.")  # fmt: skip
    def affected_units(self) -> list[Facility]:
        return [Facility.from_row(r) for r in self.stored["affected_units"]]

    @strawberry.field(description="Hazard sources within reach (READ_INTERNAL; none without).")
    def hazards(self, info: Info) -> list[Facility]:
        if not info.context.can(Capability.READ_INTERNAL):
            return []
        return [Facility.from_row(r) for r in self.stored["hazards"]]

    @strawberry.field(description="The nearest cameras with their stream links (READ_CAMERAS; "
                      "those of the reader's jurisdiction).")  # fmt: skip
    async def cameras(self, info: Info) -> list[Camera]:
        stored = self.stored["cameras"]
        if not stored or not info.context.can(Capability.READ_CAMERAS):
            return []
        if not info.context.principal.city_wide:
            ids = [c["id"] for c in stored]
            view = info.context.view("cameras")  # the reader's jurisdiction in its row filter
            seen = await info.context.fetch(
                rows(view, None, AttributeFilter(equals={"id": ids}), limit=len(ids))
            )
            kept = {r["id"] for r in seen}
            stored = [c for c in stored if c["id"] in kept]
        return [Camera.from_row(_camera(c)) for c in stored]

    @strawberry.field(
        description="Cases open at activation, as the reader's case view shows "
        "them now (full within their jurisdiction, else the public record)."
    )
    async def open_cases(self, info: Info) -> list[Case]:
        distance = {c["id"]: c["distance_m"] for c in self.stored["open_cases"]}
        if not distance:
            return []
        view = info.context.view("cases")
        attrs = AttributeFilter(equals={"id": list(distance)})
        found = await info.context.fetch(rows(view, None, attrs, limit=len(distance)))
        ordered = sorted(found, key=lambda r: (distance[r["id"]], r["id"]))
        return [Case.from_row({**r, "distance_m": distance[r["id"]]}, full=view.internal)
                for r in ordered]  # fmt: skip

    @strawberry.field(description="Sensor alarms open at activation within reach (READ_SENSORS; "
                      "none without).")  # fmt: skip
    def sensor_alarms(self, info: Info) -> list[ContextAlarm]:
        if not info.context.can(Capability.READ_SENSORS):
            return []
        return [
            ContextAlarm(id=strawberry.ID(str(a["id"])), thing=a["thing"],
                         datastream=a["datastream"], rule=a["rule"], level=a["level"],
                         raised_at=datetime.fromisoformat(a["raised_at"]),
                         last_value=a["last_value"],
                         case_id=strawberry.ID(str(a["case_id"])) if a["case_id"] else None,
                         distance_m=a["distance_m"],
                         geometry=GeoJSON({"type": "Point", "coordinates": [a["lon"], a["lat"]]}))
            for a in self.stored["sensor_alarms"]
        ]  # fmt: skip

    @strawberry.field
    def weather(self) -> WeatherReport:
        return WeatherReport.of(self.stored["weather"])

    @strawberry.field(description="Emergency resources nearest by drive time towards the site "
                      "(fire stations, hospitals, police stations, shelters, and what the "
                      "level's measures ask for), fastest first per category, as found at "
                      "activation or at the last level change.")  # fmt: skip
    def resources(self, info: Info) -> list[DriveTimeFacility]:
        shown = visible_categories(info.context.principal)
        return [DriveTimeFacility.from_row(Reached(**r)) for r in self.stored.get("resources", [])
                if r["category"] in shown]  # fmt: skip

    @strawberry.field(description="The fastest route from the quickest resource of each "
                      "category to the site, avoiding the closures in force when it was "
                      "found (activation or the last level change).")  # fmt: skip
    def lifelines(self, info: Info) -> list[Lifeline]:
        shown = visible_categories(info.context.principal)
        return [Lifeline.of(x) for x in self.stored.get("lifelines", [])
                if x["from"]["category"] in shown]  # fmt: skip

    @strawberry.field(description="The same lifelines found again now: on the roads as they "
                      "are (closures and congestion in force now).")  # fmt: skip
    async def lifelines_now(self, info: Info) -> list[Lifeline]:
        site = self.stored.get("site")
        shown = visible_categories(info.context.principal)
        starts = [x["from"] for x in self.stored.get("lifelines", [])
                  if x["from"]["category"] in shown]  # fmt: skip
        if not site or not starts:
            return []
        async with info.context.pool.connection() as conn:
            info.context.statements += len(starts)
            found = await incident_routes.lifelines_again(conn, starts, LonLat(*site))
        return [Lifeline.of(x) for x in found]

    @strawberry.field(description="Why there are no resources or lifelines (the site is far "
                      "from every road), if so.")  # fmt: skip
    def routing_note(self) -> str | None:
        return self.stored.get("routing_note")


async def _user(info: Info, user_id: int | None) -> StaffUser | None:
    if user_id is None:
        return None
    row = await info.context.loader("user").load(user_id)
    return StaffUser.from_row(row) if row else None


@strawberry.type(description="A department's task from a measure of the plan.")
class IncidentTask:
    id: strawberry.ID
    level: ResponseLevel = strawberry.field(description="The level whose measure made it.")
    position: int
    text_zh: str
    text_en: str
    resources: list[ResourceNeed]
    status: IncidentTaskStatus
    reason: str | None = strawberry.field(description="Why it was refused.")
    note: str | None
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    department_id: strawberry.Private[int]
    incident_status: strawberry.Private[str]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await _department(info, self.department_id)

    @strawberry.field(description="The statuses the caller may move this task to now (its "
                      "department's staff or a commander, while the incident is active); "
                      "REFUSED needs the reason.")  # fmt: skip
    def allowed_actions(self, info: Info) -> list[IncidentTaskStatus]:
        steps = task_steps(info.context.principal, self.status.value, self.department_id,
                           self.incident_status)  # fmt: skip
        return [IncidentTaskStatus(s.value) for s in steps]

    @classmethod
    def of(cls, t: q.TaskRow, incident_status: str) -> IncidentTask:
        return cls(id=strawberry.ID(str(t.id)), level=ResponseLevel(t.level),
                   position=t.position, text_zh=t.text_zh, text_en=t.text_en,
                   resources=ResourceNeed.of(t.resources), status=IncidentTaskStatus(t.status),
                   reason=t.reason, note=t.note, due_at=t.due_at, created_at=t.created_at,
                   updated_at=t.updated_at, department_id=t.department_id,
                   incident_status=incident_status)  # fmt: skip


@strawberry.type(description="One step of an incident's timeline (append-only).")
class IncidentEvent:
    id: strawberry.ID
    incident_id: strawberry.ID
    type: IncidentEventType
    at: datetime
    actor_role: str | None
    level: ResponseLevel | None
    from_level: ResponseLevel | None
    task_id: strawberry.ID | None
    note: str | None
    plot: PlotState | None = strawberry.field(
        description="A plot event's plot as it was after it (geometry, symbol, label, version)."
    )
    actor_id: strawberry.Private[int | None]

    @strawberry.field
    async def actor(self, info: Info) -> StaffUser | None:
        return await _user(info, self.actor_id)

    @classmethod
    def of(cls, e: q.EventRow) -> IncidentEvent:
        return cls(id=strawberry.ID(str(e.id)), incident_id=strawberry.ID(str(e.incident_id)),
                   type=IncidentEventType(e.event_type), at=e.at, actor_role=e.actor_role,
                   level=ResponseLevel(e.level) if e.level else None,
                   from_level=ResponseLevel(e.from_level) if e.from_level else None,
                   task_id=strawberry.ID(str(e.task_id)) if e.task_id else None, note=e.note,
                   plot=PlotState.of(e.plot_id, e.geometry, e.detail)
                   if e.plot_id is not None and e.geometry and e.detail else None,
                   actor_id=e.actor_id)  # fmt: skip


@strawberry.type(description="An incident (应急事件): a plan's version activated at a place and "
                 "a level, its stored context, its tasks and its timeline.")  # fmt: skip
class EmergencyIncident:
    id: strawberry.ID
    number: str
    title: str
    level: ResponseLevel
    status: IncidentStatus
    geometry: GeoJSON = strawberry.field(description="A Point (with reachM) or a (Multi)Polygon.")
    reach_m: float
    started_at: datetime
    closed_at: datetime | None
    summary: str | None
    context: IncidentContext
    plan_id: strawberry.Private[int]
    plan_version_id: strawberry.Private[int]
    started_by_id: strawberry.Private[int | None]
    closed_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def plan(self, info: Info) -> Plan | None:
        return await load_plan(info, self.plan_id)

    @strawberry.field(description="The version it was activated from.")
    async def plan_version(self, info: Info) -> PlanVersion | None:
        return await load_version(info, self.plan_version_id)

    @strawberry.field
    async def started_by(self, info: Info) -> StaffUser | None:
        return await _user(info, self.started_by_id)

    @strawberry.field
    async def closed_by(self, info: Info) -> StaffUser | None:
        return await _user(info, self.closed_by_id)

    @strawberry.field(description="Tasks in the order they were assigned.")
    async def tasks(self, info: Info) -> list[IncidentTask]:
        async def load(ids: list[int]) -> list[list[q.TaskRow]]:
            found = await info.context.fetch(q.tasks(ids))
            return [[t for t in found if t.incident_id == i] for i in ids]

        found = await loader(info, "tasks", load).load(int(self.id))
        return [IncidentTask.of(t, self.status.value) for t in found]

    @strawberry.field(description="Its plots as they stand (指挥标绘), oldest first.")
    async def plots(self, info: Info) -> list[Plot]:
        return await incident_plots(info, int(self.id))

    @strawberry.field(description="The CAP warnings issued for it (incidentId), every status, "
                      "Updates and Cancels included, newest first (at most 50).")  # fmt: skip
    async def warnings(self, info: Info) -> list[CapWarning]:
        access.reads_incident_warnings(info.context.principal)
        found = await info.context.fetch(warning_reads.of_incident(int(self.id), INCIDENT_WARNINGS))
        return [CapWarning.of(m) for m in found]

    @strawberry.field(description="Every step, oldest first, with its actor and time.")
    async def timeline(self, info: Info) -> list[IncidentEvent]:
        return [IncidentEvent.of(e) for e in await info.context.fetch(q.events([int(self.id)]))]

    @classmethod
    def of(cls, r: q.IncidentRow) -> EmergencyIncident:
        ctx = r.context
        return cls(id=strawberry.ID(str(r.id)), number=r.number, title=r.title,
                   level=ResponseLevel(r.level), status=IncidentStatus(r.status),
                   geometry=GeoJSON(json.loads(r.geometry)), reach_m=r.reach_m,
                   started_at=r.started_at, closed_at=r.closed_at, summary=r.summary,
                   context=IncidentContext(
                       gathered_at=datetime.fromisoformat(ctx["gathered_at"]),
                       reach_m=ctx["reach_m"], population=ctx["population"], stored=ctx),
                   plan_id=r.plan_id, plan_version_id=r.plan_version_id,
                   started_by_id=r.started_by, closed_by_id=r.closed_by)  # fmt: skip
