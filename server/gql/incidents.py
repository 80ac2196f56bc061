"""Incidents (应急指挥) in GraphQL: ``incidents`` and ``emergencyIncident(id)`` (READ_PLANS);
``activatePlan``, ``changeIncidentLevel``, ``closeIncident`` (COMMAND_INCIDENTS) and
``updateIncidentTask`` (the commanders, or the task's department); the ``incidentEvents``
subscription. Mutations answer ``IncidentResult = IncidentPayload | CaseError``. The writer is
geo.services.incidents.

The stateless ``incident(lon, lat, radiusM)`` query (server/gql/incident.py, the map view's
incident tool) is unchanged: a stored incident is an ``EmergencyIncident``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry

from geo import errors
from geo.access import Capability
from geo.params import LonLat
from geo.plan_enums import IncidentStatus, IncidentTaskStatus, ResponseLevel
from geo.queries import incidents as q
from geo.services import incidents as service
from geo.services.incident_events import CHANNEL
from server.gql.context import Info
from server.gql.errors import coded_errors
from server.gql.incident_types import EmergencyIncident, IncidentEvent
from server.gql.inputs import page_size, to_id
from server.gql.mutations import CaseError, _error
from server.gql.scalars import GeoJSON
from server.gql.search import PointInput
from server.gql.types import PageInfo


@strawberry.type
class IncidentPayload:
    incident: EmergencyIncident


IncidentResult = Annotated[IncidentPayload | CaseError, strawberry.union("IncidentResult")]


@strawberry.type
class IncidentPage:
    nodes: list[EmergencyIncident] = strawberry.field(description="Newest first.")
    page_info: PageInfo


def _before(after: str | None) -> int | None:
    return to_id(strawberry.ID(after), "after") if after is not None else None


@strawberry.type
class IncidentQuery:
    @strawberry.field(description="Incidents, the newest first (READ_PLANS); `after` is the "
                      "last id of the previous page.")  # fmt: skip
    async def incidents(
        self, info: Info, status: IncidentStatus | None = None, first: int | None = None,
        after: str | None = None,
    ) -> IncidentPage:  # fmt: skip
        info.context.require(Capability.READ_PLANS)
        settings = info.context.settings
        limit = page_size(first, settings.default_first, settings.max_first)
        wanted = status.value if status else None
        found = await info.context.fetch(
            q.incidents(status=wanted, limit=limit + 1, before=_before(after))
        )
        nodes = [EmergencyIncident.of(r) for r in found[:limit]]
        end = str(nodes[-1].id) if nodes else None
        return IncidentPage(
            nodes=nodes, page_info=PageInfo(has_next_page=len(found) > limit, end_cursor=end)
        )

    @strawberry.field(description="One stored incident with its context, tasks and timeline "
                      "(READ_PLANS); NOT_FOUND otherwise.")  # fmt: skip
    async def emergency_incident(self, info: Info, id: strawberry.ID) -> EmergencyIncident:
        info.context.require(Capability.READ_PLANS)
        found = await info.context.fetch(q.incidents(ids=[to_id(id)], limit=1))
        if not found:
            raise errors.NotFound(f"No incident with id {id}.")
        return EmergencyIncident.of(found[0])


async def _answer(info: Info, incident_id: int) -> IncidentPayload:
    found = await info.context.fetch(q.incidents(ids=[incident_id], limit=1))
    return IncidentPayload(incident=EmergencyIncident.of(found[0]))


async def _step(info: Info, run: str, **kwargs: Any) -> IncidentPayload | CaseError:
    try:
        principal = info.context.require()
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            incident_id = await getattr(service, run)(conn, principal, now=datetime.now(UTC),
                                                      **kwargs)  # fmt: skip
        return await _answer(info, incident_id)
    except errors.OneMapError as exc:
        return _error(exc)


@strawberry.type
class IncidentMutation:
    @strawberry.mutation(
        description="启动预案: activate a plan's current version at a point (with reachM, by "
        "default the level's: I 3 km, II 2 km, III 1 km, IV 500 m) or an area (its inside, or "
        "reachM around it) at a level (COMMAND_INCIDENTS). The context is gathered and stored, "
        "one task made per measure of the level. NOT_FOUND for an unknown plan, OUTSIDE_CITY "
        "for a place outside the city, ILLEGAL_TRANSITION for a plan out of its validity."
    )
    async def activate_plan(
        self, info: Info, plan_id: strawberry.ID, level: ResponseLevel,
        point: PointInput | None = None, area: GeoJSON | None = None,
        reach_m: float | None = None, title: str | None = None,
    ) -> IncidentResult:  # fmt: skip
        try:
            cap = info.context.settings.max_radius_m
            if reach_m is not None and reach_m > cap:
                raise errors.InvalidInput(f"reachM is at most {cap:g} m.", field="reachM")
            kwargs = {
                "plan_id": to_id(plan_id, "planId"), "level": level.value,
                "point": LonLat(point.lon, point.lat) if point else None,
                "area": json.dumps(area) if area is not None else None,
                "reach_m": reach_m, "title": title, "weather": info.context.weather,
            }  # fmt: skip
        except errors.OneMapError as exc:
            return _error(exc)
        return await _step(info, "activate", **kwargs)

    @strawberry.mutation(description="Change an active incident's level, with the reason "
                         "(COMMAND_INCIDENTS): the new level's tasks are added.")  # fmt: skip
    async def change_incident_level(
        self, info: Info, id: strawberry.ID, level: ResponseLevel, reason: str
    ) -> IncidentResult:
        try:
            incident_id = to_id(id)
        except errors.OneMapError as exc:
            return _error(exc)
        return await _step(info, "change_level", incident_id=incident_id, level=level.value,
                           reason=reason)  # fmt: skip

    @strawberry.mutation(description="Move a task: ACCEPTED, DONE, or REFUSED with the reason "
                         "in `note` — the task's department (HANDLE, its staff) or the "
                         "commanders (COMMAND_INCIDENTS).")  # fmt: skip
    async def update_incident_task(
        self, info: Info, id: strawberry.ID, status: IncidentTaskStatus, note: str | None = None
    ) -> IncidentResult:
        try:
            task_id = to_id(id)
        except errors.OneMapError as exc:
            return _error(exc)
        return await _step(info, "update_task", task_id=task_id, status=status.value, note=note)

    @strawberry.mutation(description="Close an active incident with its summary "
                         "(COMMAND_INCIDENTS).")  # fmt: skip
    async def close_incident(self, info: Info, id: strawberry.ID, summary: str) -> IncidentResult:
        try:
            incident_id = to_id(id)
        except errors.OneMapError as exc:
            return _error(exc)
        return await _step(info, "close", incident_id=incident_id, summary=summary)


@strawberry.type
class IncidentSubscription:
    @strawberry.subscription(description="An incident's timeline as it grows (READ_PLANS).")
    async def incident_events(
        self, info: Info, incident_id: strawberry.ID
    ) -> AsyncGenerator[IncidentEvent, None]:
        from server.gql.subscriptions import while_signed_in

        ctx = info.context
        with coded_errors():
            ctx.require(Capability.READ_PLANS)
            wanted = to_id(incident_id, "incidentId")
        async for note in while_signed_in(ctx, CHANNEL):
            if note.get("incident_id") != wanted:
                continue
            ids = [int(i) for i in note.get("event_ids", [])]
            for event in await ctx.fetch(q.events([wanted], ids)):
                yield IncidentEvent.of(event)
