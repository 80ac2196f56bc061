"""Reads of the base data (docs/base-data.md): buildings, their organisations, and population
counts per grid cell and per building (from ``building_population``). No person is read
here: a person's record is read only by geo.services.population, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.params import BBox, LonLat
from geo.population_disclosure import FIELDS, Protected
from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class BuildingRow:
    id: int
    name_zh: str | None
    use: str
    floors: int
    height_m: float
    year_built: int | None
    address_id: int | None
    address_zh: str | None
    grid_cell_id: int
    synthetic: bool
    houses: int
    organisations: int
    geometry: str  # GeoJSON MultiPolygon


_SELECT = (
    "SELECT b.id, b.name_zh, b.use, b.floors, b.height_m, b.year_built, b.address_id, "
    "a.label_zh, b.grid_cell_id, b.synthetic, "
    "(SELECT count(*) FROM houses h WHERE h.building_id = b.id), "
    "(SELECT count(*) FROM organisations o WHERE o.building_id = b.id), "
    "ST_AsGeoJSON(b.geom, 7) FROM {} b LEFT JOIN addresses a ON a.id = b.address_id "
)
_BUILDING = _SELECT.format("buildings")
#: As of an instant (docs/history.md): the version of the buildings' history valid then.
#: Houses, organisations and addresses keep no history: their counts and labels are today's.
_BUILDING_THEN = _SELECT.format("buildings_history") + "WHERE b.valid @> %(as_of)s AND "


def _buildings(rows: Rows) -> list[BuildingRow]:
    return [BuildingRow(int(r[0]), r[1], r[2], int(r[3]), float(r[4]), r[5], r[6], r[7],
                        int(r[8]), bool(r[9]), int(r[10]), int(r[11]), r[12])
            for r in rows]  # fmt: skip


def buildings_in(bbox: BBox, limit: int, as_of: datetime | None = None) -> Query[list[BuildingRow]]:
    """Buildings meeting ``bbox``, by id (at most ``limit``); as they were at ``as_of``."""
    statement = sql.SQL(
        (_BUILDING + "WHERE " if as_of is None else _BUILDING_THEN)
        + "b.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326) "
        "ORDER BY b.id LIMIT %(n)s"
    )
    params = {"x0": bbox.minx, "y0": bbox.miny, "x1": bbox.maxx, "y1": bbox.maxy, "n": limit,
              "as_of": as_of}  # fmt: skip
    return Query(statement, params, _buildings)


def building(building_id: int, as_of: datetime | None = None) -> Query[list[BuildingRow]]:
    """One building (as it was at ``as_of``: none if it did not stand then)."""
    statement = sql.SQL((_BUILDING + "WHERE " if as_of is None else _BUILDING_THEN)
                        + "b.id = %(id)s")  # fmt: skip
    return Query(statement, {"id": building_id, "as_of": as_of}, _buildings)


@dataclass(frozen=True, slots=True)
class OrganisationRow:
    """An organisation as internal readers see it: no responsible person's phone."""

    id: int
    name: str
    credit_code: str
    kind: str
    building_id: int | None
    grid_cell_id: int
    responsible_name: str
    lon: float
    lat: float
    synthetic: bool


def organisations_of(building_ids: list[int]) -> Query[list[OrganisationRow]]:
    """The organisations of these buildings, by building then id."""
    statement = sql.SQL(
        "SELECT id, name, credit_code, kind, building_id, grid_cell_id, responsible_name, "
        "ST_X(geom), ST_Y(geom), synthetic FROM organisations "
        "WHERE building_id = ANY(%(ids)s) ORDER BY building_id, id"
    )

    def decode(rows: Rows) -> list[OrganisationRow]:
        return [OrganisationRow(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]), r[6],
                                float(r[7]), float(r[8]), bool(r[9])) for r in rows]  # fmt: skip

    return Query(statement, {"ids": building_ids}, decode)


#: A building's counts as published (geo.population_disclosure tells the rule and why): the
#: threshold on every count, the whole record under it, and a complementary part of the
#: residence partition when one part alone is withheld (the smaller other part; a tie goes to
#: the earlier of registered, resident, floating). NULL: withheld. ``{join}`` and ``{where}``
#: choose the buildings; ``%(k)s`` is the threshold.
_PUBLISHED = sql.SQL("""
SELECT n.building_id, n.grid_cell_id,
  CASE WHEN w.whole THEN NULL ELSE n.total END AS total,
  CASE WHEN w.whole OR w.reg OR (w.only = 2 AND n.registered <= n.floating)
       OR (w.only = 3 AND n.registered <= n.resident) THEN NULL ELSE n.registered END AS registered,
  CASE WHEN w.whole OR w.res OR (w.only = 1 AND n.resident <= n.floating)
       OR (w.only = 3 AND n.resident < n.registered) THEN NULL ELSE n.resident END AS resident,
  CASE WHEN w.whole OR w.flo OR (w.only = 1 AND n.floating < n.resident)
       OR (w.only = 2 AND n.floating < n.registered) THEN NULL ELSE n.floating END AS floating,
  CASE WHEN w.whole OR n.elderly_alone BETWEEN 1 AND %(k)s - 1 THEN NULL
       ELSE n.elderly_alone END AS elderly_alone,
  CASE WHEN w.whole OR n.disabled BETWEEN 1 AND %(k)s - 1 THEN NULL ELSE n.disabled END AS disabled,
  CASE WHEN w.whole OR n.low_income BETWEEN 1 AND %(k)s - 1 THEN NULL
       ELSE n.low_income END AS low_income
FROM building_population n {join}
CROSS JOIN LATERAL (SELECT s.*, CASE WHEN s.reg::int + s.res::int + s.flo::int = 1 THEN
    CASE WHEN s.reg THEN 1 WHEN s.res THEN 2 ELSE 3 END END AS only
  FROM (SELECT n.total BETWEEN 1 AND %(k)s - 1 AS whole,
               n.registered BETWEEN 1 AND %(k)s - 1 AS reg,
               n.resident BETWEEN 1 AND %(k)s - 1 AS res,
               n.floating BETWEEN 1 AND %(k)s - 1 AS flo) s) w
{where}""")


def _published(join: str, where: str) -> sql.Composed:
    """The published counts of the buildings ``join`` and ``where`` choose (constants)."""
    return _PUBLISHED.format(join=sql.SQL(join), where=sql.SQL(where))


def _protected_building(rows: Rows) -> list[Protected]:
    """(building id, no counts row, the published counts…): a building without a counts row
    has nobody in it (zeros, nothing withheld)."""
    found = []
    for r in rows:
        counts: dict[str, int | None] = (
            dict.fromkeys(FIELDS, 0) if r[1] else dict(zip(FIELDS, r[2:], strict=True))
        )
        withheld = tuple(f for f, v in counts.items() if v is None)
        found.append(Protected(int(r[0]), counts, withheld))
    return found


def _protected_cells(rows: Rows) -> list[Protected]:
    """(cell id, then per field: the sum of its buildings' published counts, whether any
    building withheld it): withheld where nothing was published, partial where some was."""
    found = []
    for r in rows:
        sums = {f: int(r[1 + 2 * i] or 0) for i, f in enumerate(FIELDS)}
        left_out = {f for i, f in enumerate(FIELDS) if r[2 + 2 * i]}
        suppressed = tuple(f for f in FIELDS if f in left_out and sums[f] == 0)
        partial = tuple(f for f in FIELDS if f in left_out and sums[f] > 0)
        published = {f: None if f in suppressed else sums[f] for f in FIELDS}
        found.append(Protected(int(r[0]), published, suppressed, partial))
    return found


def _cells_where(where: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(where or [sql.SQL("FALSE")])


def _cell_filter(
    cell_ids: list[int] | None, bbox: BBox | None, near: tuple[LonLat, float] | None
) -> tuple[list[sql.Composable], dict[str, Any]]:
    where: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if cell_ids is not None:
        where.append(sql.SQL("g.id = ANY(%(ids)s)"))
        params["ids"] = cell_ids
    if bbox is not None:
        where.append(sql.SQL("g.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)"))
        params.update(x0=bbox.minx, y0=bbox.miny, x1=bbox.maxx, y1=bbox.maxy)
    if near is not None:
        where.append(sql.SQL(
            "ST_DWithin(g.geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
            "::geography, %(r)s) AND g.geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, "
            "%(lat)s), 4326), %(deg)s)"
        ))  # fmt: skip
        params.update(lon=near[0].lon, lat=near[0].lat, r=near[1], deg=near[1] / 90_000.0)
    return where, params


def population_of_cells(
    cell_ids: list[int] | None = None, bbox: BBox | None = None,
    near: tuple[LonLat, float] | None = None, limit: int = 2000, min_count: int = 5,
) -> Query[list[Protected]]:  # fmt: skip
    """The published counts of the grid cells named, meeting ``bbox``, or within ``near``'s
    metres of its point (exactly one of them; at most ``limit``, by id, cells without
    buildings included): each the sum of its buildings' published counts."""
    where, params = _cell_filter(cell_ids, bbox, near)
    per_field = sql.SQL(", ").join(
        sql.SQL("sum(p.{f}), bool_or(p.{f} IS NULL) FILTER (WHERE p.building_id IS NOT NULL)")
        .format(f=sql.Identifier(f)) for f in FIELDS
    )  # fmt: skip
    statement = sql.SQL(
        "WITH g AS (SELECT g.id FROM grid_cells g WHERE {where} ORDER BY g.id LIMIT %(n)s), "
        "p AS ({published}) "
        "SELECT g.id, {per_field} FROM g LEFT JOIN p ON p.grid_cell_id = g.id "
        "GROUP BY g.id ORDER BY g.id"
    ).format(where=_cells_where(where), per_field=per_field,
             published=_published("JOIN g ON n.grid_cell_id = g.id", ""))  # fmt: skip
    return Query(statement, {**params, "n": limit, "k": min_count}, _protected_cells)


def population_of_building(building_id: int, min_count: int = 5) -> Query[list[Protected]]:
    """The building's published counts (none: no such building)."""
    statement = sql.SQL(
        "SELECT b.id, p.building_id IS NULL, {fields} FROM buildings b "
        "LEFT JOIN LATERAL ({published}) p ON TRUE WHERE b.id = %(id)s"
    ).format(fields=sql.SQL(", ").join(sql.SQL("p.{}").format(sql.Identifier(f)) for f in FIELDS),
             published=_published("", "WHERE n.building_id = b.id"))  # fmt: skip
    return Query(statement, {"id": building_id, "k": min_count}, _protected_building)
