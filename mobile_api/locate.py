"""``GET /api/v1/locate?lon=&lat=``: which grid cell, community, street and district a point is in.

Public: it names the responsible grid worker but never their phone number.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator
from starlette.datastructures import QueryParams

from geo.errors import OutsideCity
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.location import AreaRef, grid_cell_at
from mobile_api.contract import PUBLIC, Call, Endpoint
from server.kernel.edge import lon_lat


class LocateQuery(BaseModel):
    lon: Annotated[float, Field(ge=-180, le=180, examples=[121.4737])]
    lat: Annotated[float, Field(ge=-90, le=90, examples=[31.2304])]

    @model_validator(mode="before")
    @classmethod
    def _at_the_edge(cls, raw: Any) -> Any:
        """The shared edge parser reads the point (its messages, as every surface's)."""
        if isinstance(raw, dict):
            point = lon_lat(QueryParams(raw))
            return {"lon": point.lon, "lat": point.lat}
        return raw


class GridCellRef(BaseModel):
    id: int
    code: str
    name: str


class Area(BaseModel):
    id: int
    code: str
    name_zh: str
    name_en: str


class GridWorker(BaseModel):
    id: int
    name: str


class Location(BaseModel):
    grid_cell: GridCellRef
    community: Area
    street: Area
    district: Area
    grid_worker: GridWorker | None


def _area(a: AreaRef) -> Area:
    return Area(id=a.id, code=a.code, name_zh=a.name_zh, name_en=a.name_en)


async def locate(call: Call) -> Location:
    point = call.query
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, grid_cell_at(LonLat(point.lon, point.lat)))
    if found is None:
        raise OutsideCity(
            f"The point ({point.lon}, {point.lat}) is outside the city: no grid cell covers it.",
            lon=point.lon,
            lat=point.lat,
        )
    return Location(
        grid_cell=GridCellRef(
            id=found.grid_cell_id, code=found.grid_cell_code, name=found.grid_cell_name
        ),
        community=_area(found.community),
        street=_area(found.street),
        district=_area(found.district),
        grid_worker=(
            GridWorker(id=found.worker.id, name=found.worker.name) if found.worker else None
        ),
    )


endpoints = [
    Endpoint(
        "GET",
        "/locate",
        locate,
        "The grid cell, community, street, district and grid worker of a point (422 outside "
        "the city)",
        "map",
        PUBLIC,
        query=LocateQuery,
        response=Location,
        operation_id="locatePoint",
    ),
]
