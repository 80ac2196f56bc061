"""Reads of the base data (docs/base-data.md): buildings, their organisations, and population
counts per grid cell and per building (from ``building_population``). No person is read
here: a person's record is read only by geo.services.population, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


def population_of_cells(
    cell_ids: list[int] | None = None, bbox: BBox | None = None,
    near: tuple[LonLat, float] | None = None, limit: int = 2000,
) -> Query[list[PopulationRow]]:  # fmt: skip
    """Counts per grid cell, for the cells named, meeting ``bbox``, or within ``near``'s
    metres of its point (exactly one of them); every such cell, by id, zeros included."""
    where: list[sql.Composable] = []
    params: dict[str, Any] = {"n": limit}
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
    statement = sql.SQL(
        "SELECT g.id, {counts} FROM grid_cells g "
        "LEFT JOIN building_population n ON n.grid_cell_id = g.id "
        "WHERE {where} GROUP BY g.id ORDER BY g.id LIMIT %(n)s"
    ).format(counts=_COUNTS, where=sql.SQL(" AND ").join(where or [sql.SQL("FALSE")]))
    return Query(statement, params, _population)


def population_of_building(building_id: int) -> Query[list[PopulationRow]]:
    """The building's counts (none: no such building)."""
    statement = sql.SQL(
        "SELECT b.id, {counts} FROM buildings b "
        "LEFT JOIN building_population n ON n.building_id = b.id WHERE b.id = %(id)s "
        "GROUP BY b.id"
    ).format(counts=_COUNTS)
    return Query(statement, {"id": building_id}, _population)
