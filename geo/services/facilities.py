"""The writer of ``facilities``: create, replace, delete — checked, in one transaction, audited.

Geometry: a lon/lat Point inside the city (it must fall in a grid cell, which also sets
``grid_cell_id``). OGC API - Features Part 4 and any other surface call these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from geo.enums import FacilityCategory
from geo.errors import Conflict, NotFound, OutsideCity
from geo.ogc.features_in import PointFeature, Spec, checked
from geo.queries import fetch
from geo.queries.location import grid_cell_at
from geo.services import audit as audit_log

SPECS = {
    "code": Spec(str, required=True, max_len=32),
    "category": Spec(str, required=True, values=frozenset(c.value for c in FacilityCategory)),
    "name_zh": Spec(str, required=True),
    "name_en": Spec(str, required=True),
    "address": Spec(str),
    "capacity": Spec(int, low=0, high=2**31 - 1),
    "attributes": Spec(dict),
}
DERIVED = {"grid_cell_id"}


@dataclass(frozen=True)
class Writer:
    """Who writes (for the audit log)."""

    user_id: int | None
    role: str | None
    client: str | None = None


async def grid_cell_of(conn: AsyncConnection[Any], feature: PointFeature) -> int:
    where = await fetch(conn, grid_cell_at(feature.point))
    if where is None:
        raise OutsideCity(
            f"({feature.point.lon}, {feature.point.lat}) is outside the city: "
            "no grid cell holds it."
        )
    return where.grid_cell_id


async def audit(conn: AsyncConnection[Any], who: Writer, action: str, kind: str, oid: int) -> None:
    await audit_log.record(
        conn,
        actor_id=who.user_id,
        actor_role=who.role,
        action=action,
        object_type=kind,
        object_id=oid,
        client_addr=who.client,
    )


def _row(feature: PointFeature) -> dict[str, Any]:
    row = checked(feature.properties, SPECS, DERIVED)
    row["attributes"] = json.dumps(row["attributes"] or {})
    row["lon"], row["lat"] = feature.point.lon, feature.point.lat
    return row


_VALUES = (
    "%(code)s, %(category)s, %(name_zh)s, %(name_en)s, %(address)s, %(capacity)s, "
    "%(attributes)s::jsonb, %(cell)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
)
_COLUMNS = "code, category, name_zh, name_en, address, capacity, attributes, grid_cell_id, geom"


async def create(conn: AsyncConnection[Any], feature: PointFeature, who: Writer) -> int:
    row = _row(feature)
    try:
        async with conn.transaction():
            row["cell"] = await grid_cell_of(conn, feature)
            cur = await conn.execute(
                f"INSERT INTO facilities ({_COLUMNS}) VALUES ({_VALUES}) RETURNING id",  # noqa: S608
                row,
            )
            found = await cur.fetchone()
            assert found is not None
            await audit(conn, who, "facility.create", "facility", found[0])
            return int(found[0])
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"a facility with code {row['code']!r} already exists.") from None


async def replace(conn: AsyncConnection[Any], fid: int, feature: PointFeature, who: Writer) -> None:
    row = _row(feature)
    row["id"] = fid
    try:
        async with conn.transaction():
            row["cell"] = await grid_cell_of(conn, feature)
            cur = await conn.execute(
                f"UPDATE facilities SET ({_COLUMNS}, updated_at) = ({_VALUES}, now()) "  # noqa: S608 (only module constants are interpolated)
                "WHERE id = %(id)s",
                row,
            )
            if cur.rowcount == 0:
                raise NotFound(f"no facility {fid}.")
            await audit(conn, who, "facility.replace", "facility", fid)
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"a facility with code {row['code']!r} already exists.") from None


async def delete(conn: AsyncConnection[Any], fid: int, who: Writer) -> None:
    try:
        async with conn.transaction():
            cur = await conn.execute("DELETE FROM facilities WHERE id = %s", (fid,))
            if cur.rowcount == 0:
                raise NotFound(f"no facility {fid}.")
            await audit(conn, who, "facility.delete", "facility", fid)
    except psycopg.errors.ForeignKeyViolation:
        raise Conflict(f"facility {fid} is still referenced; it cannot be deleted.") from None
