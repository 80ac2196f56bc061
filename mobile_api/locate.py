"""``GET /api/v1/locate?lon=&lat=``: which grid cell, community, street and district a point is in.

Public: it names the responsible grid worker but never their phone number.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from geo.errors import OutsideCity
from geo.queries import fetch
from geo.queries.location import AreaRef, grid_cell_at
from server.kernel.edge import lon_lat


def _area(a: AreaRef) -> dict[str, object]:
    return {"id": a.id, "code": a.code, "name_zh": a.name_zh, "name_en": a.name_en}


async def locate(request: Request) -> JSONResponse:
    point = lon_lat(request.query_params)
    async with request.app.state.pool.connection() as conn:
        found = await fetch(conn, grid_cell_at(point))
    if found is None:
        raise OutsideCity(
            f"The point ({point.lon}, {point.lat}) is outside the city: no grid cell covers it.",
            lon=point.lon,
            lat=point.lat,
        )
    return JSONResponse(
        {
            "grid_cell": {
                "id": found.grid_cell_id,
                "code": found.grid_cell_code,
                "name": found.grid_cell_name,
            },
            "community": _area(found.community),
            "street": _area(found.street),
            "district": _area(found.district),
            "grid_worker": (
                {"id": found.worker.id, "name": found.worker.name} if found.worker else None
            ),
        }
    )


routes = [Route("/locate", locate, methods=["GET"])]
