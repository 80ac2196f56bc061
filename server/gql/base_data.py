"""The base data in GraphQL (docs/base-data.md): buildings and their organisations (internal),
population counts per grid cell and per building (analysts: never a person), and the persons
of a house or a building (实有人口: READ_POPULATION, the jurisdiction's cells, audited)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from geo import access
from geo.access import Capability
from geo.errors import InvalidInput, NotFound
from geo.layers import BUILDINGS
from geo.params import BBox, LonLat
from geo.population_disclosure import Protected
from geo.queries import base_data as q
from geo.queries import history
from geo.services import population
from server.gql.context import Info
from server.gql.inputs import BBoxInput, NearInput, to_id
from server.gql.scalars import GeoJSON
from server.gql.types import GridCell, load_grid_cell

MAX_BUILDINGS = 500
MAX_CELLS = 500
MAX_RADIUS_M = 5000.0


@strawberry.enum(description="The kind of an organisation.")
class OrganisationKind(Enum):
    LEGAL_ENTITY = "legal_entity"
    SMALL_VENUE = "small_venue"
    FIRE_KEY_UNIT = "fire_key_unit"


@strawberry.type(description="An organisation: a legal entity, a small venue (九小场所) or a "
                 "fire-safety key unit (消防重点单位); the responsible person's phone is not "
                 "published.")  # fmt: skip
class Organisation:
    id: strawberry.ID
    name: str
    credit_code: str = strawberry.field(description="统一社会信用代码 (synthetic: SYN…).")
    kind: OrganisationKind
    building_id: strawberry.ID | None
    grid_cell_id: strawberry.ID
    responsible_name: str
    lon: float
    lat: float
    synthetic: bool

    @classmethod
    def of(cls, r: q.OrganisationRow) -> Organisation:
        return cls(
            id=strawberry.ID(str(r.id)), name=r.name, credit_code=r.credit_code,
            kind=OrganisationKind(r.kind),
            building_id=strawberry.ID(str(r.building_id)) if r.building_id else None,
            grid_cell_id=strawberry.ID(str(r.grid_cell_id)),
            responsible_name=r.responsible_name, lon=r.lon, lat=r.lat, synthetic=r.synthetic,
        )  # fmt: skip


@strawberry.type(description="A building: footprint, floors, height, use, address (internal).")
class Building:
    id: strawberry.ID
    name_zh: str | None
    use: str = strawberry.field(description="residential, office, commercial, school, hospital, "
                                "industrial or mixed.")  # fmt: skip
    floors: int
    height_m: float
    year_built: int | None
    address_id: strawberry.ID | None
    address_zh: str | None
    grid_cell_id: strawberry.ID
    synthetic: bool
    houses_count: int = strawberry.field(description="Its houses (units: flats, shops, offices).")
    organisations_count: int
    geometry: GeoJSON = strawberry.field(description="The footprint, a MultiPolygon.")

    @strawberry.field(description="The grid cell of its centre.")
    async def grid_cell(self, info: Info) -> GridCell | None:
        return await load_grid_cell(info, int(self.grid_cell_id))

    @strawberry.field(description="The organisations in the building.")
    async def organisations(self, info: Info) -> list[Organisation]:
        found: list[q.OrganisationRow] = await info.context.loader("organisations").load(
            int(self.id)
        )
        return [Organisation.of(r) for r in found]

    @classmethod
    def of(cls, r: q.BuildingRow) -> Building:
        return cls(
            id=strawberry.ID(str(r.id)), name_zh=r.name_zh, use=r.use, floors=r.floors,
            height_m=r.height_m, year_built=r.year_built,
            address_id=strawberry.ID(str(r.address_id)) if r.address_id else None,
            address_zh=r.address_zh, grid_cell_id=strawberry.ID(str(r.grid_cell_id)),
            synthetic=r.synthetic, houses_count=r.houses, organisations_count=r.organisations,
            geometry=GeoJSON(r.geometry),
        )  # fmt: skip


@strawberry.type(description="Counts of the persons of a grid cell or a building; no person. "
                 "Small counts are withheld (null, named in suppressedFields): a count from 1 to "
                 "the threshold minus 1 (ONEMAP_GRAPHQL_POPULATION_MIN_COUNT, default 5), a "
                 "building's whole record under it, and a second residence class beside a "
                 "withheld one. A grid cell's counts are the sums of its buildings' published "
                 "counts (partialFields: leaving out withheld building counts), so no withheld "
                 "count is found by subtraction (docs/base-data.md).")  # fmt: skip
class PopulationCount:
    id: strawberry.ID = strawberry.field(description="The grid cell's or the building's id.")
    total: int | None
    registered: int | None = strawberry.field(description="户籍: registered here.")
    resident: int | None = strawberry.field(description="常住: registered elsewhere, living here.")
    floating: int | None = strawberry.field(description="流动: living here for a shorter time.")
    elderly_alone: int | None = strawberry.field(description="独居老人.")
    disabled: int | None
    low_income: int | None
    suppressed: bool = strawberry.field(description="Some count is withheld (null).")
    suppressed_fields: list[str] = strawberry.field(
        description="The withheld counts, by field name (total, registered, …, lowIncome)."
    )
    partial_fields: list[str] = strawberry.field(
        description="A grid cell's counts that leave out withheld building counts (lower bounds)."
    )

    @classmethod
    def of(cls, p: Protected) -> PopulationCount:
        c = p.counts
        return cls(id=strawberry.ID(str(p.key)), total=c["total"], registered=c["registered"],
                   resident=c["resident"], floating=c["floating"],
                   elderly_alone=c["elderly_alone"], disabled=c["disabled"],
                   low_income=c["low_income"], suppressed=bool(p.suppressed),
                   suppressed_fields=[_camel(f) for f in p.suppressed],
                   partial_fields=[_camel(f) for f in p.partial])  # fmt: skip


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


@strawberry.type(description="A person living in a house (实有人口): restricted personal data; "
                 "every read is audited.")  # fmt: skip
class Person:
    id: strawberry.ID
    house_id: strawberry.ID
    building_id: strawberry.ID
    grid_cell_id: strawberry.ID
    unit: int
    floor: int
    room: int
    name: str
    id_number: str = strawberry.field(description="Synthetic in the demo city (SYN…).")
    phone: str | None
    birth_year: int
    sex: str
    residence: str = strawberry.field(description="registered, resident or floating.")
    care: list[str] = strawberry.field(description="elderly_alone, disabled, low_income.")
    synthetic: bool

    @classmethod
    def of(cls, r: population.PersonRow) -> Person:
        return cls(
            id=strawberry.ID(str(r.id)), house_id=strawberry.ID(str(r.house_id)),
            building_id=strawberry.ID(str(r.building_id)),
            grid_cell_id=strawberry.ID(str(r.grid_cell_id)), unit=r.unit, floor=r.floor,
            room=r.room, name=r.name, id_number=r.id_number, phone=r.phone,
            birth_year=r.birth_year, sex=r.sex, residence=r.residence, care=list(r.care),
            synthetic=r.synthetic,
        )  # fmt: skip


AS_OF = (
    "As it stood at this instant (docs/history.md): its footprint, floors and use then; its "
    "houses' and organisations' counts are today's. A time before the history starts or in "
    "the future is an error."
)


async def _check_as_of(info: Info, when: datetime | None) -> None:
    if when is not None:
        await info.context.fetch(history.checked(BUILDINGS, when, "asOf"))


def _bbox(b: BBoxInput) -> BBox:
    return BBox(b.min_lon, b.min_lat, b.max_lon, b.max_lat)


@strawberry.type
class BaseDataQuery:
    @strawberry.field(description="Buildings meeting a box, by id (internal).")
    async def buildings(
        self, info: Info, bbox: BBoxInput, first: int = 100,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[Building]:  # fmt: skip
        access.reads_base_data(info.context.principal)
        if not 1 <= first <= MAX_BUILDINGS:
            raise InvalidInput(f"first is 1 to {MAX_BUILDINGS}.", field="first")
        await _check_as_of(info, as_of)
        found = await info.context.fetch(q.buildings_in(_bbox(bbox), first, as_of))
        return [Building.of(r) for r in found]

    @strawberry.field(description="One building with its houses' count and organisations.")
    async def building(
        self, info: Info, id: strawberry.ID,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Building | None:  # fmt: skip
        access.reads_base_data(info.context.principal)
        await _check_as_of(info, as_of)
        found = await info.context.fetch(q.building(to_id(id, "id"), as_of))
        return Building.of(found[0]) if found else None

    @strawberry.field(description="Population counts per grid cell (analysts; never a person): "
                      "the cells named, meeting a box, or within radiusM of a point — exactly "
                      "one of them.")  # fmt: skip
    async def population_by_cell(
        self, info: Info, cell_ids: list[strawberry.ID] | None = None,
        bbox: BBoxInput | None = None, near: NearInput | None = None,
    ) -> list[PopulationCount]:  # fmt: skip
        access.reads_population_stats(info.context.principal)
        if sum(v is not None for v in (cell_ids, bbox, near)) != 1:
            raise InvalidInput("Give exactly one of cellIds, bbox and near.", field="cellIds")
        if cell_ids is not None and len(cell_ids) > MAX_CELLS:
            raise InvalidInput(f"At most {MAX_CELLS} cells.", field="cellIds")
        if near is not None and not 0 < near.radius_m <= MAX_RADIUS_M:
            raise InvalidInput(f"radiusM is above 0 and at most {MAX_RADIUS_M:g}.", field="near")
        found = await info.context.fetch(q.population_of_cells(
            [to_id(c, "cellIds") for c in cell_ids] if cell_ids is not None else None,
            _bbox(bbox) if bbox else None,
            (LonLat(near.lon, near.lat), near.radius_m) if near else None,
            MAX_CELLS, info.context.settings.population_min_count,
        ))  # fmt: skip
        return [PopulationCount.of(c) for c in found]

    @strawberry.field(description="Population counts of one building (analysts; no person).")
    async def population_of_building(self, info: Info, id: strawberry.ID) -> PopulationCount:
        access.reads_population_stats(info.context.principal)
        found = await info.context.fetch(q.population_of_building(
            to_id(id, "id"), info.context.settings.population_min_count))  # fmt: skip
        if not found:
            raise NotFound(f"No building {id}.")
        return PopulationCount.of(found[0])

    @strawberry.field(description="The persons of a house or a building (exactly one) of your "
                      "jurisdiction (READ_POPULATION); every read is audited.")  # fmt: skip
    async def persons(
        self, info: Info, house_id: strawberry.ID | None = None,
        building_id: strawberry.ID | None = None,
    ) -> list[Person]:  # fmt: skip
        principal = info.context.require(Capability.READ_POPULATION)
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            found = await population.persons_of(
                conn, principal,
                house_id=to_id(house_id, "houseId") if house_id is not None else None,
                building_id=to_id(building_id, "buildingId") if building_id is not None
                else None,
            )  # fmt: skip
        return [Person.of(r) for r in found]
