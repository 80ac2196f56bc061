"""An incident's emergency resources by drive time and its lifelines (the Yinchuan flow:
显示周边应急资源 — 划定生命线 — 展示周边路况), gathered at activation beside the rest of the
context (``incident_context``) and stored with it.

- **Resources**: for each resource category — fire stations, hospitals, police stations,
  shelters, and any other the activated level's measures ask for — the nearest few by drive
  time *towards* the site (the way an engine drives to it: one-way streets count), at least as
  many as the measures need; each with its seconds and metres by road and its straight-line
  metres (geo.queries.routing.drive_time_nearest).
- **Lifelines**: the fastest route from the quickest resource of each category to the site,
  on the roads as they are now (closures in force left out, congestion slowing them), with
  its geometry and the roads' names — the path that resource's drive time was measured on.
  Both come from one statement (geo.queries.routing.resources_towards); ``lifelinesNow``
  finds the routes again with geo.queries.routing.route.

A site the road network does not reach (farther than ``routing.MAX_SNAP_M`` from any road)
keeps its other context: both lists are empty and ``routing_note`` says why.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from psycopg import AsyncConnection

from geo.enums import FacilityCategory as F
from geo.errors import OutsideCity
from geo.params import LonLat
from geo.queries import fetch, routing

#: The categories every incident gets, in this order; then those the measures name.
RESOURCE_CATEGORIES = (F.FIRE_STATION, F.HOSPITAL, F.POLICE_STATION, F.SHELTER)
PER_CATEGORY = 3


async def needs(conn: AsyncConnection[Any], version_id: int, level: str) -> dict[str, int]:
    """The facilities the level's measures ask for: category → the most any measure needs."""
    cur = await conn.execute(
        "SELECT r->>'category', max((r->>'count')::int) FROM plan_measures m, "
        "jsonb_array_elements(m.resources) r WHERE m.version_id = %s AND m.level = %s "
        "GROUP BY 1",
        (version_id, level),
    )
    return {str(c): int(n) for c, n in await cur.fetchall()}


def _categories(wanted: dict[str, int]) -> list[str]:
    first = [c.value for c in RESOURCE_CATEGORIES]
    return first + sorted(c for c in wanted if c not in first)


async def gather(
    conn: AsyncConnection[Any], site: LonLat, wanted: dict[str, int]
) -> dict[str, Any]:
    """``resources``, ``lifelines`` and ``site`` as stored in the incident's context."""
    asked = [(c, max(PER_CATEGORY, wanted.get(c, 0))) for c in _categories(wanted)]
    try:
        found, ways = await fetch(conn, routing.resources_towards(site, asked))
    except OutsideCity as exc:
        return {"site": [site.lon, site.lat], "resources": [], "lifelines": [],
                "routing_note": exc.message}  # fmt: skip
    first: dict[str, routing.Reached] = {}
    for r in found:
        first.setdefault(r.category, r)
    lifelines = []
    for category, start in first.items():
        way = ways.get(category) or routing.Lifeline(start.id, None, (), (), ())
        path = routing.Route(True, start.drive_s, start.drive_m, way.geometry, way.road_names_zh,
                             way.road_names_en, way.road_ids)  # fmt: skip
        lifelines.append(_stored(start, path))
    return {"site": [site.lon, site.lat], "resources": [_resource(r) for r in found],
            "lifelines": lifelines}  # fmt: skip


async def lifeline(
    conn: AsyncConnection[Any], start: routing.Reached, site: LonLat
) -> dict[str, Any]:
    """The fastest route from a resource to the site, now."""
    return _stored(start, await fetch(conn, routing.route(LonLat(start.lon, start.lat), site)))


def _stored(start: routing.Reached, way: routing.Route) -> dict[str, Any]:
    """A lifeline as the context stores it: where it starts, and the way to the site."""
    return {
        "from": {"id": start.id, "code": start.code, "category": start.category,
                 "name_zh": start.name_zh, "name_en": start.name_en},
        "found": way.found,
        "duration_s": _round(way.duration_s), "length_m": _round(way.length_m),
        "geometry": json.loads(way.geometry) if way.geometry else None,
        "road_names_zh": list(way.road_names_zh), "road_names_en": list(way.road_names_en),
        "road_ids": list(way.road_ids),
    }  # fmt: skip


def _round(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


def _resource(r: routing.Reached) -> dict[str, Any]:
    """As stored: seconds and metres to a tenth, the position as found."""
    kept = asdict(r)
    return kept | {k: _round(kept[k]) for k in ("drive_s", "drive_m", "straight_m")}


async def lifelines_again(
    conn: AsyncConnection[Any], starts: list[dict[str, Any]], site: LonLat
) -> list[dict[str, Any]]:
    """The stored lifelines' routes found again on the roads as they are now."""
    cur = await conn.execute(
        "SELECT id, code, category, name_zh, name_en, ST_X(geom), ST_Y(geom) FROM facilities "
        "WHERE id = ANY(%s)",
        ([int(s["id"]) for s in starts],),
    )
    found = {int(r[0]): r for r in await cur.fetchall()}
    out = []
    for start in starts:
        row = found.get(int(start["id"]))
        if row is None:  # the facility is gone
            continue
        reached = routing.Reached(int(row[0]), row[1], row[2], row[3], row[4], float(row[5]),
                                  float(row[6]), 0.0, 0.0, 0.0)  # fmt: skip
        out.append(await lifeline(conn, reached, site))
    return out
