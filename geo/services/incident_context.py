"""The context of an incident, gathered once at activation and stored with it (the Yinchuan
flow: 查看波及单位 — 调动附近视频 — 告警重大危险源 — 提示天气情况 — 告知人群分布情况): the
units affected, the hazard sources within reach, the nearby cameras with their stream links,
the population by grid cell, the open cases and the live sensor alarms around it, and the
weather. Read with the activating commander's rights (their camera and case jurisdiction);
readers see the stored lists through their own capabilities (server/gql/incidents.py).

Drive-time resources and lifelines are not here: they come with the road network.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import FacilityCategory
from geo.queries import fetch
from geo.queries import incident as q
from geo.weather import Weather

CAMERAS_KEPT = 20
CASES_KEPT = 200
#: The nearest affected units and hazard sources kept (a dense 2 km reach holds thousands:
#: the stored context would be megabytes).
UNITS_KEPT = 500
ALARMS_KEPT = 100
_CELL_KEYS = ("id", "code", "name", "community_id", "worker_id", "population", "health_risk")
_FACILITY_KEYS = ("id", "code", "category", "name_zh", "name_en", "address", "capacity",
                  "grid_cell_id", "lon", "lat", "distance_m")  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 1)
    return value


def _keep(rows: list[dict[str, Any]], keys: tuple[str, ...] | None = None) -> list[Any]:
    return [{k: _plain(v) for k, v in r.items() if keys is None or k in keys} for r in rows]


def stream_path(camera_id: int) -> str:
    """A camera's WHEP endpoint (server/streams), as the ``incident`` query gives it."""
    return f"/streams/cameras/{camera_id}/whep"


async def gather(
    conn: AsyncConnection[Any], actor: Principal, place: q.Place, weather: Weather,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The context as stored (JSON): lists nearest first, distances in metres from the place
    (0 inside an area); the weather as the provider gave it (asked before the transaction)."""
    cells = await fetch(conn, q.cells_near(place))
    affected = await fetch(conn, q.facilities_near(place, q.AFFECTED, UNITS_KEPT))
    hazards = await fetch(conn, q.facilities_near(place, [FacilityCategory.HAZARD_SOURCE],
                                                  UNITS_KEPT))  # fmt: skip
    cameras: list[dict[str, Any]] = []
    if actor.can(C.READ_CAMERAS):
        scope = access.camera_scope(actor, "c")
        cameras = await fetch(conn, q.cameras_near(place, CAMERAS_KEPT, scope))
    cases = await fetch(conn, q.open_cases_near(place, CASES_KEPT, access.case_scope(actor)))
    sensor_scope = access.sensor_scope(actor, "Things", "t")
    alarms = await fetch(conn, q.live_alarms_near(place, ALARMS_KEPT, sensor_scope))
    population = sum(int(c["population"] or 0) for c in cells)
    return {
        "gathered_at": now.isoformat(),
        "reach_m": place.reach_m,
        "population": population,
        "grid_cells": _keep(cells, _CELL_KEYS),
        "affected_units": _keep(affected, _FACILITY_KEYS),
        "hazards": [
            {**h, "attributes": r.get("attributes")}
            for h, r in zip(_keep(hazards, _FACILITY_KEYS), hazards, strict=True)
        ],
        "cameras": [{**c, "stream_url": stream_path(int(c["id"]))} for c in _keep(cameras)],
        "open_cases": _keep(cases),
        "sensor_alarms": _keep(alarms),
        "weather": weather.to_json(),
    }
