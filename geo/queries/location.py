"""Where is a point: its grid cell, community, street, district and responsible worker."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from geo.params import LonLat
from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class AreaRef:
    id: int
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class WorkerRef:
    """The responsible grid worker. ``phone`` is personal data: staff surfaces only."""

    id: int
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class GridCellLocation:
    grid_cell_id: int
    grid_cell_code: str
    grid_cell_name: str
    health_risk: str
    community: AreaRef
    street: AreaRef
    district: AreaRef
    worker: WorkerRef | None


# A point on an edge shared by two cells touches both: the lowest id wins, so the answer is
# one cell, always the same. ST_Intersects with the GiST index finds the candidates.
_GRID_CELL_AT = sql.SQL("""
SELECT g.id, g.code, g.name, g.health_risk,
       c.id, c.code, c.name_zh, c.name_en,
       s.id, s.code, s.name_zh, s.name_en,
       d.id, d.code, d.name_zh, d.name_en,
       w.id, w.display_name, w.phone
FROM grid_cells g
JOIN admin_areas c ON c.id = g.community_id
JOIN admin_areas s ON s.id = c.parent_id
JOIN admin_areas d ON d.id = s.parent_id
LEFT JOIN users w ON w.id = g.worker_id
WHERE ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
ORDER BY g.id
LIMIT 1
""")


def _decode(rows: Rows) -> GridCellLocation | None:
    if not rows:
        return None
    r = rows[0]
    worker = WorkerRef(r[16], r[17], r[18]) if r[16] is not None else None
    return GridCellLocation(
        r[0], r[1], r[2], r[3],
        AreaRef(*r[4:8]), AreaRef(*r[8:12]), AreaRef(*r[12:16]),
        worker,
    )  # fmt: skip


def grid_cell_at(point: LonLat) -> Query[GridCellLocation | None]:
    """The one grid cell containing ``point``; None when the point is outside the city."""
    return Query(_GRID_CELL_AT, {"lon": point.lon, "lat": point.lat}, _decode)
