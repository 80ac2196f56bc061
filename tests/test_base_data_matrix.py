"""The base data's access matrix, generated from the policy: every role (city-wide) asks for a
building, its population counts and the persons of one of its houses through GraphQL, and for
the buildings through OGC items and tiles, and gets what ``geo.access`` says — the persons only
with READ_POPULATION, counts only with READ_POPULATION_STATS, buildings with READ_INTERNAL;
no personal value in any answer but the persons' own."""

from __future__ import annotations

import math
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.access import ROLE_CAPABILITIES, Capability, capabilities_of
from geo.enums import Role
from server.kernel.auth.tokens import TokenService

C = Capability
Conn = psycopg.Connection[Any]


def _place(db: Conn) -> tuple[int, int, float, float, set[str]]:
    row = db.execute(
        "SELECT p.house_id, p.building_id, ST_X(ST_Centroid(b.geom)), ST_Y(ST_Centroid(b.geom)) "
        "FROM persons p JOIN buildings b ON b.id = p.building_id ORDER BY p.id LIMIT 1"
    ).fetchone()
    assert row is not None
    secrets = {v for r in db.execute("SELECT name, id_number, phone FROM persons WHERE "
                                     "building_id = %s", (row[1],)) for v in r if v}  # fmt: skip
    return int(row[0]), int(row[1]), float(row[2]), float(row[3]), secrets


def _tile(lon: float, lat: float, z: int = 16) -> str:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/ogc/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"


@pytest.mark.parametrize("role", [None, *sorted(r.value for r in ROLE_CAPABILITIES)])
def test_every_role_gets_what_the_policy_says(
    client: TestClient, tokens: TokenService, db: Conn, role: str | None
) -> None:
    house, building, lon, lat, secrets = _place(db)
    caps = capabilities_of([role]) if role else frozenset({C.READ_PUBLIC})
    # User 9001 does not exist: the persons' audit row keeps the id in its detail.
    token = tokens.issue_access(9001, [role]) if role else None
    headers = {"Authorization": f"Bearer {token}"} if token else None

    def gql(query: str) -> dict[str, Any]:
        r = client.post("/graphql", json={"query": query}, headers=headers)
        assert r.status_code == 200
        body: dict[str, Any] = r.json()
        return body

    answers = []
    body = gql(f"{{ building(id: {building}) {{ id floors organisations {{ name }} }} }}")
    assert (body.get("data") or {}).get("building") is not None if C.READ_INTERNAL in caps \
        else body.get("errors")  # fmt: skip
    answers.append(str(body))
    body = gql(f"{{ populationOfBuilding(id: {building}) {{ total }} }}")
    opened = (body.get("data") or {}).get("populationOfBuilding") is not None
    assert opened == (C.READ_POPULATION_STATS in caps), body
    answers.append(str(body))
    persons = gql(f"{{ persons(houseId: {house}) {{ name idNumber phone }} }}")
    opened = bool((persons.get("data") or {}).get("persons"))
    assert opened == (C.READ_POPULATION in caps and role != Role.CITIZEN.value), persons
    items = client.get(f"/ogc/collections/buildings/items?bbox={lon - 0.002},{lat - 0.002},"
                       f"{lon + 0.002},{lat + 0.002}", headers=headers)  # fmt: skip
    tile = client.get(_tile(lon, lat), headers=headers)
    if C.READ_INTERNAL in caps:
        assert items.status_code == 200 and building in {int(f["id"]) for f in
                                                         items.json()["features"]}  # fmt: skip
        assert tile.status_code == 200 and tile.content
    else:
        assert items.status_code in (401, 403, 404) and tile.status_code in (401, 403, 404)
    answers += [items.text, tile.content.decode("latin-1")]
    assert not [s for s in secrets for a in answers if s in a]
