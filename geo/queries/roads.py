"""Reads of the road network: the roads in a box with their conditions (路况) now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from geo.params import BBox
from geo.queries import Query, Rows
from geo.queries.routing import IN_FORCE


@dataclass(frozen=True, slots=True)
class RoadRow:
    id: int
    name_zh: str
    name_en: str
    road_class: str
    speed_kmh: int
    lanes: int
    one_way: bool
    length_m: float
    speed_factor: float  # 1: free flow
    closed: bool  # a closure in force now
    geometry: str  # GeoJSON LineString, in the direction one may drive a one-way road


def roads_in(bbox: BBox, classes: list[str], limit: int) -> Query[list[RoadRow]]:
    """Roads of ``classes`` meeting ``bbox``, by id (at most ``limit``)."""
    statement = sql.SQL(
        "SELECT r.id, r.name_zh, r.name_en, r.road_class, r.speed_kmh, r.lanes, r.one_way, "  # noqa: S608
        "r.length_m, coalesce(k.speed_factor, 1), "
        "EXISTS (SELECT FROM road_closures c WHERE c.road_id = r.id AND " + IN_FORCE + "), "
        "ST_AsGeoJSON(r.geom, 6) FROM roads r LEFT JOIN road_conditions k ON k.road_id = r.id "
        "WHERE r.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326) "
        "AND r.road_class = ANY(%(classes)s) ORDER BY r.id LIMIT %(n)s"
    )
    params = {"x0": bbox.minx, "y0": bbox.miny, "x1": bbox.maxx, "y1": bbox.maxy,
              "classes": classes, "n": limit}  # fmt: skip

    def decode(rows: Rows) -> list[RoadRow]:
        return [RoadRow(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5]), bool(r[6]),
                        float(r[7]), float(r[8]), bool(r[9]), r[10]) for r in rows]  # fmt: skip

    return Query(statement, params, decode)


#: A closure's columns as every reader and the writer give them (alias c, its road r).
CLOSURE_COLUMNS = (
    "c.id, c.road_id, c.reason, c.starts_at, c.ends_at, c.created_by, c.created_at, "
    "c.reopened_by, r.name_zh AS road_name_zh, r.name_en AS road_name_en"
)


def closures_in_force(limit: int) -> Query[list[dict[str, Any]]]:
    """The closures in force now, newest first (at most ``limit``)."""
    statement = sql.SQL(
        f"SELECT {CLOSURE_COLUMNS} FROM road_closures c JOIN roads r ON r.id = c.road_id "  # noqa: S608
        f"WHERE {IN_FORCE} ORDER BY c.starts_at DESC, c.id DESC LIMIT %(n)s"
    )
    names = [c.rsplit(" ", 1)[-1].removeprefix("c.") for c in CLOSURE_COLUMNS.split(", ")]

    def decode(rows: Rows) -> list[dict[str, Any]]:
        return [dict(zip(names, r, strict=True)) for r in rows]

    return Query(statement, {"n": limit}, decode)
