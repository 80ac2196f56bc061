"""The one reader of person records (实有人口): restricted personal data.

A principal with READ_POPULATION reads the persons of a house, or of a building, of its
jurisdiction's grid cells (geo.access.person_scope, applied in SQL); every read that returns
persons writes an audit row (``read_population``, the house or building and the person ids)
in the same transaction — no audit row, no persons. A house or building outside the
jurisdiction is refused (Forbidden), an unknown one is NotFound. Counts without persons are
geo.queries.base_data's (analysts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from geo import access
from geo.access import Capability, Principal
from geo.errors import Forbidden, InvalidInput, NotFound
from geo.services import audit


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: int
    house_id: int
    building_id: int
    grid_cell_id: int
    unit: int
    floor: int
    room: int
    name: str
    id_number: str
    phone: str | None
    birth_year: int
    sex: str
    residence: str
    care: list[str]
    synthetic: bool


#: The place asked for and whether it lies in the jurisdiction (the scope on alias p, whose
#: ``grid_cell_id`` is the house's or the building's).
_PLACE = "SELECT ({scope}) FROM {table} p WHERE p.id = %(id)s"
_PERSONS = (
    "SELECT p.id, p.house_id, p.building_id, p.grid_cell_id, h.unit, h.floor, h.room, p.name, "
    "p.id_number, p.phone, p.birth_year, p.sex, p.residence, p.care, p.synthetic "
    "FROM persons p JOIN houses h ON h.id = p.house_id "
    "WHERE p.{column} = %(id)s AND ({scope}) ORDER BY h.unit, h.floor, h.room, p.id"
)


async def persons_of(
    conn: AsyncConnection[Any],
    actor: Principal,
    *,
    house_id: int | None = None,
    building_id: int | None = None,
    surface: str = "graphql",
) -> list[PersonRow]:
    """The persons of one house or one building (exactly one of the two), audited."""
    access.require(actor, Capability.READ_POPULATION)
    if (house_id is None) == (building_id is None):
        raise InvalidInput("Give exactly one of houseId and buildingId.", field="houseId")
    table, column, key = (
        ("houses", "house_id", house_id) if house_id is not None
        else ("buildings", "building_id", building_id)
    )  # fmt: skip
    scope = sql.SQL(access.person_scope(actor, "p"))  # our constants and token ids only
    async with conn.transaction():
        cur = await conn.execute(
            sql.SQL(_PLACE).format(scope=scope, table=sql.Identifier(table)), {"id": key}
        )
        place = await cur.fetchone()
        if place is None:
            raise NotFound(f"No {table[:-1]} {key}.")
        if not place[0]:
            raise Forbidden(f"The {table[:-1]} lies outside your jurisdiction.")
        cur = await conn.execute(
            sql.SQL(_PERSONS).format(scope=scope, column=sql.Identifier(column)), {"id": key}
        )
        rows = [PersonRow(*r) for r in await cur.fetchall()]
        if rows:
            # record_many: a token of a since-removed account still reads (its id kept in
            # ``detail``) rather than failing on the actor's foreign key.
            await audit.record_many(conn, [audit.Entry(
                actor.user_id, actor.audit_role, "read_population", table[:-1], key,
                audit.REQUEST_CLIENT.get(),
                {"surface": surface, "person_ids": [r.id for r in rows]},
            )])  # fmt: skip
    return rows
