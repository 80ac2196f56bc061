"""Roads in GraphQL: the network by box with its conditions, the fastest route, the nearest
facilities by drive time (public), and closures and congestion (路况: manage_roads). Reads
are geo.queries.roads and geo.queries.routing; writes geo.services.roads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from geo import access
from geo.params import BBox, LonLat
from geo.queries.roads import RoadRow, closures_in_force, roads_in
from geo.queries.routing import MAX_NEAREST, Reached, drive_time_nearest
from geo.queries.routing import route as route_query
from geo.road_models import RoadClass
from geo.services import roads as road_service
from server.gql.context import Info
from server.gql.inputs import BBoxInput, page_size, to_id
from server.gql.scalars import GeoJSON

strawberry.enum(
    RoadClass,
    name="RoadClass",
    description="expressway (快速路), arterial (主干路), local street (支路), lane (弄).",
)


@strawberry.type(description="A stretch of road between two junctions, with its conditions now.")
class Road:
    id: strawberry.ID
    name_zh: str
    name_en: str
    road_class: RoadClass
    speed_kmh: int = strawberry.field(description="The speed limit.")
    lanes: int
    one_way: bool = strawberry.field(description="Only in the direction of its geometry.")
    length_m: float
    speed_factor: float = strawberry.field(description="Congestion: 1 free flow, 0.5 half speed.")
    closed: bool = strawberry.field(description="A closure is in force now.")
    geometry: GeoJSON

    @classmethod
    def from_row(cls, r: RoadRow) -> Road:
        return cls(id=strawberry.ID(str(r.id)), name_zh=r.name_zh, name_en=r.name_en,
                   road_class=RoadClass(r.road_class), speed_kmh=r.speed_kmh, lanes=r.lanes,
                   one_way=r.one_way, length_m=r.length_m, speed_factor=r.speed_factor,
                   closed=r.closed, geometry=GeoJSON(r.geometry))  # fmt: skip


@strawberry.type(description="The fastest route by road, avoiding closures and one-way streets "
                 "the wrong way. found false: no road joins the two points.")  # fmt: skip
class RouteResult:
    found: bool
    duration_s: float | None
    length_m: float | None
    geometry: GeoJSON | None = strawberry.field(description="A LineString, start to end.")
    road_names_zh: list[str] = strawberry.field(description="The roads driven, in order.")
    road_names_en: list[str]


@strawberry.type(description="A facility and how far it is by road and in a straight line.")
class DriveTimeFacility:
    id: strawberry.ID
    code: str
    category: str
    name_zh: str
    name_en: str
    lon: float
    lat: float
    drive_s: float = strawberry.field(description="Seconds by road, with congestion.")
    drive_m: float = strawberry.field(description="Metres along the roads.")
    straight_m: float = strawberry.field(description="Metres in a straight line.")

    @classmethod
    def from_row(cls, r: Reached) -> DriveTimeFacility:
        return cls(id=strawberry.ID(str(r.id)), code=r.code, category=r.category,
                   name_zh=r.name_zh, name_en=r.name_en, lon=r.lon, lat=r.lat,
                   drive_s=r.drive_s, drive_m=r.drive_m, straight_m=r.straight_m)  # fmt: skip


@strawberry.type(description="A closure of a road: in force until endsAt (null: until reopened).")
class RoadClosure:
    id: strawberry.ID
    road_id: strawberry.ID
    road_name_zh: str
    road_name_en: str
    reason: str
    starts_at: datetime
    ends_at: datetime | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> RoadClosure:
        return cls(id=strawberry.ID(str(r["id"])), road_id=strawberry.ID(str(r["road_id"])),
                   road_name_zh=r["road_name_zh"], road_name_en=r["road_name_en"],
                   reason=r["reason"], starts_at=r["starts_at"], ends_at=r["ends_at"])  # fmt: skip


@strawberry.type(description="A road's congestion now.")
class RoadCondition:
    road_id: strawberry.ID
    speed_factor: float
    observed_at: datetime


@strawberry.type
class RoadQuery:
    @strawberry.field(description="Roads meeting a box, by id; classes: all when left out.")
    async def roads(
        self, info: Info, bbox: BBoxInput, classes: list[RoadClass] | None = None,
        first: int | None = None,
    ) -> list[Road]:  # fmt: skip
        ctx = info.context
        limit = page_size(first, ctx.settings.default_first, ctx.settings.max_first)
        wanted = [c.value for c in classes] if classes else [c.value for c in RoadClass]
        box = BBox(bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat)
        found = await ctx.fetch(roads_in(box, wanted, limit))
        return [Road.from_row(r) for r in found]

    @strawberry.field(description="The road closures in force now, newest first.")
    async def road_closures(self, info: Info, first: int | None = None) -> list[RoadClosure]:
        ctx = info.context
        limit = page_size(first, ctx.settings.default_first, ctx.settings.max_first)
        return [RoadClosure.from_row(r) for r in await ctx.fetch(closures_in_force(limit))]

    @strawberry.field(description="The fastest route by road from one point to another.")
    async def route(
        self, info: Info, from_lon: float, from_lat: float, to_lon: float, to_lat: float
    ) -> RouteResult:
        found = await info.context.fetch(
            route_query(LonLat(from_lon, from_lat), LonLat(to_lon, to_lat))
        )
        return RouteResult(found=found.found, duration_s=found.duration_s,
                           length_m=found.length_m,
                           geometry=GeoJSON(found.geometry) if found.geometry else None,
                           road_names_zh=list(found.road_names_zh),
                           road_names_en=list(found.road_names_en))  # fmt: skip

    @strawberry.field(description="The nearest facilities of the categories by drive time, "
                      "fastest first (hazard sources: read_internal).")  # fmt: skip
    async def drive_time_nearest(
        self,
        info: Info,
        lon: float,
        lat: float,
        categories: list[str],
        first: int = 10,
        towards: Annotated[
            bool,
            strawberry.argument(
                description="true: the time from each facility to the point (resources going "
                "to an incident); false: from the point to each facility."
            ),
        ] = False,
    ) -> list[DriveTimeFacility]:
        ctx = info.context
        wanted = access.facility_categories(ctx.principal, categories)
        n = page_size(first, 10, MAX_NEAREST)
        found = await ctx.fetch(drive_time_nearest(LonLat(lon, lat), wanted, n, towards))
        return [DriveTimeFacility.from_row(r) for r in found]


@strawberry.type
class RoadMutation:
    @strawberry.mutation(description="Close a road from now, until a time or until reopened "
                         "(manage_roads); routing avoids it at once.")  # fmt: skip
    async def close_road(
        self, info: Info, road_id: strawberry.ID, reason: str, until: datetime | None = None
    ) -> RoadClosure:
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            road = to_id(road_id, "roadId")
            row = await road_service.close_road(conn, info.context.principal, road, reason, until)
        return RoadClosure.from_row(row)

    @strawberry.mutation(description="End a road's closures in force (manage_roads).")
    async def reopen_road(self, info: Info, road_id: strawberry.ID) -> list[RoadClosure]:
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            rows = await road_service.reopen_road(conn, info.context.principal,
                                                  to_id(road_id, "roadId"))  # fmt: skip
        return [RoadClosure.from_row(r) for r in rows]

    @strawberry.mutation(description="A road's congestion now: traffic at speedFactor of the "
                         "speed limit, 0 < f ≤ 1; 1 clears it (manage_roads).")  # fmt: skip
    async def set_road_congestion(
        self, info: Info, road_id: strawberry.ID, speed_factor: float
    ) -> RoadCondition:
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            road = to_id(road_id, "roadId")
            who = info.context.principal
            row = await road_service.set_congestion(conn, who, road, speed_factor)
        return RoadCondition(
            road_id=strawberry.ID(str(row["road_id"])),
            speed_factor=row["speed_factor"],
            observed_at=row["observed_at"],
        )
