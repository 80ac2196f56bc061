"""Geocoding on the address base: free text → the best few addresses with a confidence
(forward), a point → the nearest address (reverse). docs/geocoding.md.

Forward: geo.address_text takes the text apart; one statement finds the roads whose trigram
keys are nearest to the road part (GiST, ``<->``: a bounded KNN, no threshold to tune per
language) and on each the door with the number asked for, or the nearest numbers on either
side; with no number, the addresses whose search text holds the words best (GIN,
``<%``). geo.geocode_rank scores the rows in Python and says how sure it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from geo.address_text import ParsedAddress
from geo.geocode_rank import Candidate, Row, rank
from geo.params import LonLat
from geo.queries import Query, Rows

#: Roads taken per key of the road part (the nearest by trigram distance).
ROADS_PER_KEY = 6

_ADDRESS_COLUMNS = """
a.id, a.number, r.name_zh, r.name_en, {key}, a.building_zh, a.building_en,
d.name_zh, d.name_en, s.name_zh, s.name_en, a.label_zh, a.label_en,
g.id, g.code, ST_X(a.geom), ST_Y(a.geom)
"""
_JOINS = """
JOIN admin_areas d ON d.id = a.district_id
JOIN admin_areas s ON s.id = a.street_id
JOIN grid_cells g ON g.id = a.grid_cell_id
"""

_BY_ROAD = """
WITH k AS (SELECT unnest(%(keys)s::text[]) AS key),
near AS (SELECT DISTINCT n.id FROM k CROSS JOIN LATERAL (
    SELECT ar.id FROM address_roads ar ORDER BY ar.{key} <-> k.key LIMIT %(roads)s) n)
SELECT {columns}
FROM near JOIN address_roads r ON r.id = near.id
CROSS JOIN LATERAL (
    (SELECT * FROM addresses x WHERE x.road_id = near.id AND x.number >= %(number)s
     ORDER BY x.number LIMIT 1)
    UNION ALL
    (SELECT * FROM addresses x WHERE x.road_id = near.id AND x.number < %(number)s
     ORDER BY x.number DESC LIMIT 1)) a
{joins}
"""

_BY_TEXT = """
SELECT {columns}
FROM addresses a JOIN address_roads r ON r.id = a.road_id
{joins}
WHERE %(text)s <%% a.search
ORDER BY word_similarity(%(text)s, a.search) DESC, a.id
LIMIT %(limit)s
"""


def _statement(template: str, key: str) -> sql.SQL:
    columns = _ADDRESS_COLUMNS.format(key=f"r.{key}")
    return sql.SQL(template.format(key=key, columns=columns, joins=_JOINS))


#: (template, key column) → statement; the key column is one of two names, never input.
_STATEMENTS = {(t, k): _statement(t, k) for t in (_BY_ROAD, _BY_TEXT)
               for k in ("key_zh", "key_en")}  # fmt: skip


def _rows(rows: Rows) -> list[Row]:
    return [Row(*r) for r in rows]


def geocode(parsed: ParsedAddress, limit: int) -> Query[list[Candidate]]:
    """The best ``limit`` addresses for ``parsed``, most likely first, each with its
    confidence in [0, 1] and the parts that matched."""
    key = "key_zh" if parsed.lang == "zh" else "key_en"
    if parsed.number is not None and parsed.road_keys:
        params = {"keys": list(parsed.road_keys), "roads": ROADS_PER_KEY, "number": parsed.number}
        return Query(_STATEMENTS[_BY_ROAD, key], params,
                     lambda rows: rank(parsed, _rows(rows), limit))  # fmt: skip
    params = {"text": parsed.text, "limit": limit}
    return Query(_STATEMENTS[_BY_TEXT, key], params,
                 lambda rows: rank(parsed, _rows(rows), limit))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Nearest:
    id: int
    label_zh: str
    label_en: str
    road_zh: str
    road_en: str
    number: int
    building_zh: str | None
    district_zh: str
    street_zh: str
    grid_cell_code: str
    lon: float
    lat: float
    distance_m: float


# The KNN operator on 4326 orders by degrees, which a longitude shortens (cos 31° ≈ 0.86): the
# 16 nearest by degrees are measured on the spheroid and the nearest of them wins.
_REVERSE = sql.SQL("""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
near AS (SELECT a.* FROM addresses a, p ORDER BY a.geom <-> p.g LIMIT 16)
SELECT a.id, a.label_zh, a.label_en, r.name_zh, r.name_en, a.number, a.building_zh,
       d.name_zh, s.name_zh, g.code, ST_X(a.geom), ST_Y(a.geom),
       ST_Distance(a.geom::geography, p.g::geography) AS m
FROM near a CROSS JOIN p JOIN address_roads r ON r.id = a.road_id
JOIN admin_areas d ON d.id = a.district_id
JOIN admin_areas s ON s.id = a.street_id
JOIN grid_cells g ON g.id = a.grid_cell_id
ORDER BY m, a.id
LIMIT %(limit)s
""")


def reverse_geocode(point: LonLat, limit: int = 1) -> Query[list[Nearest]]:
    """The ``limit`` addresses nearest ``point`` (metres on the spheroid), nearest first."""
    return Query(_REVERSE, {"lon": point.lon, "lat": point.lat, "limit": limit},
                 lambda rows: [Nearest(*r) for r in rows])  # fmt: skip
