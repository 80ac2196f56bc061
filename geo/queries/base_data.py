"""Reads of the base data (docs/base-data.md): buildings, their organisations, and population
counts per grid cell and per building (from ``building_population``). No person is read
here: a person's record is read only by geo.services.population, audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from geo.params import BBox, LonLat
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


_BUILDING = (
    "SELECT b.id, b.name_zh, b.use, b.floors, b.height_m, b.year_built, b.address_id, "
    "a.label_zh, b.grid_cell_id, b.synthetic, "
    "(SELECT count(*) FROM houses h WHERE h.building_id = b.id), "
    "(SELECT count(*) FROM organisations o WHERE o.building_id = b.id), "
    "ST_AsGeoJSON(b.geom, 7) FROM buildings b LEFT JOIN addresses a ON a.id = b.address_id "
)


def _buildings(rows: Rows) -> list[BuildingRow]:
    return [BuildingRow(int(r[0]), r[1], r[2], int(r[3]), float(r[4]), r[5], r[6], r[7],
                        int(r[8]), bool(r[9]), int(r[10]), int(r[11]), r[12])
            for r in rows]  # fmt: skip


def buildings_in(bbox: BBox, limit: int) -> Query[list[BuildingRow]]:
    """Buildings meeting ``bbox``, by id (at most ``limit``)."""
    statement = sql.SQL(
        _BUILDING + "WHERE b.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326) "
        "ORDER BY b.id LIMIT %(n)s"
    )
    params = {"x0": bbox.minx, "y0": bbox.miny, "x1": bbox.maxx, "y1": bbox.maxy, "n": limit}
    return Query(statement, params, _buildings)


def building(building_id: int) -> Query[list[BuildingRow]]:
    return Query(sql.SQL(_BUILDING + "WHERE b.id = %(id)s"), {"id": building_id}, _buildings)


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


@dataclass(frozen=True, slots=True)
class PopulationRow:
    """Counts of the persons of a grid cell or a building (never who they are)."""

    key: int  # the grid cell's or the building's id
    total: int
    registered: int
    resident: int
    floating: int
    elderly_alone: int
    disabled: int
    low_income: int


#: Sums of ``building_population`` (kept by triggers on ``persons``, migration 0029).
_COUNTS = sql.SQL(
    "coalesce(sum(n.total), 0), coalesce(sum(n.registered), 0), coalesce(sum(n.resident), 0), "
    "coalesce(sum(n.floating), 0), coalesce(sum(n.elderly_alone), 0), "
    "coalesce(sum(n.disabled), 0), coalesce(sum(n.low_income), 0)"
)


def _population(rows: Rows) -> list[PopulationRow]:
    return [PopulationRow(*(int(v) for v in r)) for r in rows]


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


@dataclass(frozen=True, slots=True)
class CellBuildings:
    """A grid cell and the counts of each of its buildings (no person): what the published
    cell figures are summed from (geo.population_disclosure)."""

    cell_id: int
    buildings: list[PopulationRow]


def _cell_buildings(rows: Rows) -> list[CellBuildings]:
    cells: dict[int, CellBuildings] = {}
    for r in rows:
        cell = cells.setdefault(int(r[0]), CellBuildings(int(r[0]), []))
        if r[1] is not None:
            cell.buildings.append(PopulationRow(*(int(v) for v in r[1:])))
    return list(cells.values())


def buildings_of_cells(
    cell_ids: list[int] | None = None, bbox: BBox | None = None,
    near: tuple[LonLat, float] | None = None, limit: int = 2000,
) -> Query[list[CellBuildings]]:  # fmt: skip
    """The grid cells named, meeting ``bbox``, or within ``near``'s metres of its point (exactly
    one of them; at most ``limit``, by id, cells without buildings included), each with its
    buildings' counts."""
    where, params = _cell_filter(cell_ids, bbox, near)
    statement = sql.SQL(
        "WITH g AS (SELECT g.id FROM grid_cells g WHERE {where} ORDER BY g.id LIMIT %(n)s) "
        "SELECT g.id, n.building_id, n.total, n.registered, n.resident, n.floating, "
        "n.elderly_alone, n.disabled, n.low_income FROM g "
        "LEFT JOIN building_population n ON n.grid_cell_id = g.id ORDER BY g.id, n.building_id"
    ).format(where=_cells_where(where))
    return Query(statement, {**params, "n": limit}, _cell_buildings)


def population_of_building(building_id: int) -> Query[list[PopulationRow]]:
    """The building's counts (none: no such building)."""
    statement = sql.SQL(
        "SELECT b.id, {counts} FROM buildings b "
        "LEFT JOIN building_population n ON n.building_id = b.id WHERE b.id = %(id)s "
        "GROUP BY b.id"
    ).format(counts=_COUNTS)
    return Query(statement, {"id": building_id}, _population)
