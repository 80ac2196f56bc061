"""``incident(lon, lat, radiusM)``: everything a dispatcher needs around an emergency."""

from __future__ import annotations

import strawberry

from geo import access
from geo.access import Capability
from geo.enums import OPEN_CASE_STATUSES, FacilityCategory
from geo.errors import InvalidInput
from geo.params import LonLat, Radius
from geo.queries import incident as q
from geo.queries.filters import AttributeFilter, Near, SpatialFilter
from geo.queries.search import rows
from server.gql.context import Info
from server.gql.types import Camera, Case, Facility, GridCell

CAMERAS_SHOWN = 10
OPEN_CASES_SHOWN = 200


@strawberry.type(description="The emergency context around a point.")
class Incident:
    lon: float
    lat: float
    radius_m: float
    grid_cells: list[GridCell] = strawberry.field(
        description="Grid cells the circle touches (their workers are the first responders)."
    )
    affected_units: list[Facility] = strawberry.field(
        description="Schools, kindergartens, hospitals, clinics, venues, elderly care inside."
    )
    hazards: list[Facility] = strawberry.field(description="Hazard sources inside: alerts.")
    resources: list[Facility] = strawberry.field(
        description="The nearest shelters, fire and police stations and hospitals, by distance."
    )
    cameras: list[Camera] = strawberry.field(
        description="The nearest cameras inside, within the caller's jurisdiction (READ_CAMERAS;"
        " none without it)."
    )
    open_cases: list[Case] = strawberry.field(
        description="Open cases inside, nearest first: the caller's case view (full within "
        "their jurisdiction, else the public record)."
    )


async def incident(info: Info, point: LonLat, radius_m: float) -> Incident:
    cap = info.context.settings.max_radius_m
    if not 0 < radius_m <= cap:
        raise InvalidInput(f"radiusM must be more than 0 and at most {cap:g}, got {radius_m}.")
    radius = Radius(radius_m)
    fetch = info.context.fetch
    cells = await fetch(q.cells_hit(point, radius))
    affected = await fetch(q.facilities_within(point, radius, q.AFFECTED))
    hazards = await fetch(q.facilities_within(point, radius, [FacilityCategory.HAZARD_SOURCE]))
    resources = await fetch(q.nearest_resources(point))
    principal = info.context.principal
    cameras = []
    if principal.can(Capability.READ_CAMERAS):
        scope = access.camera_scope(principal, "c")
        cameras = await fetch(q.nearest_cameras(point, radius, CAMERAS_SHOWN, scope))
    view = info.context.view("cases")
    cases = await fetch(
        rows(
            view,
            SpatialFilter(near=Near(point, radius)),
            AttributeFilter(equals={"status": sorted(s.value for s in OPEN_CASE_STATUSES)}),
            limit=OPEN_CASES_SHOWN,
        )
    )
    return Incident(
        lon=point.lon,
        lat=point.lat,
        radius_m=radius_m,
        grid_cells=[GridCell.from_row([r[k] for k in q.CELL_NAMES]) for r in cells],
        affected_units=[Facility.from_row(r) for r in affected],
        hazards=[Facility.from_row(r) for r in hazards],
        resources=[Facility.from_row(r) for r in resources],
        cameras=[Camera.from_row(r) for r in cameras],
        open_cases=[Case.from_row(r, full=view.internal) for r in cases],
    )
