"""Reads of the road network: the roads in a box with their conditions (路况) now."""

from __future__ import annotations

from dataclasses import dataclass

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
