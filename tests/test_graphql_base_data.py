"""graphql/operations/base_data.graphql as the front ends send it, with the number of SQL
statements each takes (no N+1: a page of buildings and all their organisations is two)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from strawberry import Schema

from geo.access import CITY, Jurisdiction, Principal, Scope
from tests.gql_helpers import operation, run

pytestmark = pytest.mark.anyio
Pool = AsyncConnectionPool[AsyncConnection[Any]]
DOC = operation("base_data")


def _one(database_url: str, query: str, *args: Any) -> tuple[Any, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return tuple(row)


async def test_the_operations_and_their_statements(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    house, building, cell, lon, lat = _one(
        database_url,
        "SELECT p.house_id, p.building_id, p.grid_cell_id, ST_X(ST_Centroid(b.geom)), "
        "ST_Y(ST_Centroid(b.geom)) FROM persons p JOIN buildings b ON b.id = p.building_id "
        "ORDER BY p.id LIMIT 1",
    )
    analyst = Principal(2, frozenset({"analyst"}), None, CITY)
    box = {"minLon": lon - 0.01, "minLat": lat - 0.01, "maxLon": lon + 0.01, "maxLat": lat + 0.01}
    out = await run(schema, pool, DOC, {"bbox": box}, principal=analyst,
                    operation_name="BuildingsInView")  # fmt: skip
    assert out.errors == [], out.errors
    listed = out.data["buildings"]
    assert len(listed) > 1 and str(building) in {b["id"] for b in listed}
    assert sum(b["organisationsCount"] for b in listed) == sum(
        len(b["organisations"]) for b in listed) > 0  # fmt: skip
    assert out.statements == 2  # the page, then every organisation of it
    out = await run(schema, pool, DOC, {"id": str(building)}, principal=analyst,
                    operation_name="BuildingDetail")  # fmt: skip
    assert out.errors == [] and out.data["building"]["id"] == str(building)
    out = await run(schema, pool, DOC, {"lon": lon, "lat": lat}, principal=analyst,
                    operation_name="PopulationNear")  # fmt: skip
    assert out.errors == [] and out.statements == 1
    assert str(cell) in {c["id"] for c in out.data["populationByCell"]}
    out = await run(schema, pool, DOC, {"id": str(building)}, principal=analyst,
                    operation_name="PopulationOfBuilding")  # fmt: skip
    counts = out.data["populationOfBuilding"]
    assert out.errors == [] and (counts["suppressed"] or counts["total"] >= 5)
    worker = Principal(2, frozenset({"grid_worker"}), None,
                       Jurisdiction(Scope.GRID_CELLS, (int(cell),)))  # fmt: skip
    out = await run(schema, pool, DOC, {"houseId": str(house)}, principal=worker,
                    operation_name="PersonsOfHouse")  # fmt: skip
    assert out.errors == [] and out.statements == 1
    persons = out.data["persons"]
    assert persons and all(p["idNumber"].startswith("SYN") and p["synthetic"] for p in persons)
