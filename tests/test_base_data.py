"""The base data (docs/base-data.md): the seeded buildings, houses, persons and organisations,
and who reads what of them through GraphQL, OGC items and tiles — persons only by a grid
worker of their cell (audited), counts for analysts, no person anywhere else."""

from __future__ import annotations

import math
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.access import CITY, Jurisdiction, Scope
from seed.base_data import FULL_SCALE
from server.kernel.auth.tokens import TokenService
from tests.conftest import TEST_SCALE

Conn = psycopg.Connection[Any]
BUILDING = (
    "{ building(id: %s) { id use floors housesCount organisationsCount geometry "
    "organisations { name creditCode kind responsibleName } } }"
)
PERSONS = "{ persons(houseId: %s) { id name idNumber phone unit floor room residence care } }"
COUNTS = (
    "SELECT count(*), count(*) FILTER (WHERE residence = 'registered'), "
    "count(*) FILTER (WHERE residence = 'resident'), count(*) FILTER (WHERE residence = "
    "'floating'), count(*) FILTER (WHERE 'elderly_alone' = ANY(care)) FROM persons "
)


def bearer(
    tokens: TokenService, role: str, jurisdiction: Jurisdiction = CITY, user: int = 9001
) -> Any:
    token = tokens.issue_access(user, [role], jurisdiction=jurisdiction)
    return {"Authorization": "Bearer " + token}


def gql(client: TestClient, query: str, headers: Any = None) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query}, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors") or []}


def one(db: Conn, query: str, *args: Any) -> tuple[Any, ...]:
    row = db.execute(query, args).fetchone()
    assert row is not None
    return tuple(row)


def a_house(db: Conn) -> tuple[int, int, int]:
    """(house id, building id, grid cell) of the first house with at least two persons."""
    return one(db, "SELECT p.house_id, p.building_id, p.grid_cell_id FROM persons p "
               "GROUP BY 1, 2, 3 HAVING count(*) >= 2 ORDER BY 1 LIMIT 1")  # fmt: skip


def person_values(db: Conn, building_id: int) -> set[str]:
    """The personal values of a building: its persons' names, ID numbers and phones, and its
    organisations' responsible phones."""
    rows = db.execute("SELECT name, id_number, phone FROM persons WHERE building_id = %s",
                      (building_id,)).fetchall()  # fmt: skip
    phones = db.execute("SELECT responsible_phone FROM organisations WHERE building_id = %s",
                        (building_id,)).fetchall()  # fmt: skip
    return {v for r in rows for v in r if v} | {r[0] for r in phones if r[0]}


def test_the_seed_is_synthetic_marked_and_consistent(db: Conn) -> None:
    for table in ("buildings", "houses", "persons", "organisations"):
        total, synthetic = one(db, f"SELECT count(*), count(*) FILTER (WHERE synthetic) "
                               f"FROM {table}")  # fmt: skip
        assert total == synthetic > 0, table
    assert one(db, "SELECT count(*) FROM persons WHERE id_number NOT LIKE 'SYN%%'") == (0,)
    assert one(db, "SELECT count(*) FROM organisations WHERE credit_code NOT LIKE 'SYN%%'") == (0,)
    # No footprint covers a road or another building.
    assert one(db, "SELECT count(*) FROM buildings b JOIN roads r ON ST_Intersects(b.geom, "
               "r.geom)") == (0,)  # fmt: skip
    assert one(db, "SELECT count(*) FROM buildings a JOIN buildings b ON a.id < b.id "
               "AND ST_Intersects(a.geom, b.geom)") == (0,)  # fmt: skip
    assert one(db, "SELECT count(*) FROM buildings WHERE GeometryType(geom) <> 'MULTIPOLYGON'"
               ) == (0,)  # fmt: skip
    # A person's building and cell are its house's.
    assert one(db, "SELECT count(*) FROM persons p JOIN houses h ON h.id = p.house_id "
               "WHERE p.building_id <> h.building_id OR p.grid_cell_id <> h.grid_cell_id"
               ) == (0,)  # fmt: skip
    # Each peopled cell holds its population × the scale's share (scale 10: everyone).
    share = min(1.0, TEST_SCALE / FULL_SCALE)
    off = one(db, "SELECT count(*) FROM (SELECT g.population, count(*) AS n FROM persons p "
              "JOIN grid_cells g ON g.id = p.grid_cell_id GROUP BY g.id) x "
              "WHERE n <> round(population * %s)", share)  # fmt: skip
    assert off == (0,)
    # Every geometry has a GiST index.
    gist = {r[0] for r in db.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE "
                                      "'%%USING gist (geom)%%'")}  # fmt: skip
    assert {"buildings", "organisations"} <= gist


def test_an_analyst_reads_counts_equal_to_the_persons_and_no_person(
    client: TestClient, tokens: TokenService, db: Conn
) -> None:
    _house, building, cell = a_house(db)
    lon, lat = one(db, "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                   "WHERE id = %s", building)  # fmt: skip
    analyst = bearer(tokens, "analyst")
    body = gql(client, f"{{ populationByCell(near: {{lon: {lon!r}, lat: {lat!r}, radiusM: 1000}}) "
               "{ id total registered resident floating elderlyAlone } }",
               analyst)  # fmt: skip
    assert "errors" not in body, body
    got = {int(c["id"]): (c["total"], c["registered"], c["resident"], c["floating"],
                          c["elderlyAlone"]) for c in body["data"]["populationByCell"]}  # fmt: skip
    within = [
        r[0]
        for r in db.execute(
            "SELECT id FROM grid_cells WHERE ST_DWithin(geom::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 1000) ORDER BY id",
            (lon, lat),
        )
    ]
    assert sorted(got) == within and cell in got
    # Small counts are withheld (tests/test_population_suppression.py): what is shown is at
    # most the persons counted — a cell sums its buildings' published counts.
    for cell_id in within:
        counted = one(db, COUNTS + "WHERE grid_cell_id = %s", cell_id)
        assert all(v is None or v <= n for v, n in zip(got[cell_id], counted, strict=True))
    assert sum(v[0] or 0 for v in got.values()) > 0
    fields = "total registered resident floating elderlyAlone"
    body = gql(client, f"{{ populationOfBuilding(id: {building}) {{ {fields} }} }}", analyst)
    counted = one(db, COUNTS + "WHERE building_id = %s", building)
    shown = tuple(body["data"]["populationOfBuilding"].values())
    assert all(v is None or v == n for v, n in zip(shown, counted, strict=True)), shown
    # Never a person: the persons field is refused, and no personal value is in any answer.
    refused = gql(client, PERSONS % _house, analyst)
    assert codes(refused) == {"FORBIDDEN"} and refused["data"] is None
    seen = str(body) + str(gql(client, BUILDING % building, analyst))
    assert not [v for v in person_values(db, building) if v in seen]


def test_a_grid_worker_reads_the_persons_of_a_house_of_their_cell_audited(
    client: TestClient, tokens: TokenService, db: Conn
) -> None:
    house, building, cell = a_house(db)
    user = one(db, "SELECT worker_id FROM grid_cells WHERE id = %s", cell)[0]
    worker = bearer(tokens, "grid_worker", Jurisdiction(Scope.GRID_CELLS, (cell,)), user)
    before = one(db, "SELECT count(*) FROM audit_log WHERE action = 'read_population' "
                 "AND object_type = 'house' AND object_id = %s", str(house))[0]  # fmt: skip
    body = gql(client, PERSONS % house, worker)
    assert "errors" not in body, body
    expected = db.execute("SELECT name, id_number, phone FROM persons WHERE house_id = %s "
                          "ORDER BY id", (house,)).fetchall()  # fmt: skip
    got = sorted((p["name"], p["idNumber"], p["phone"]) for p in body["data"]["persons"])
    assert got == sorted(expected) and len(got) >= 2
    row = one(
        db,
        "SELECT count(*), max(detail::text) FROM audit_log WHERE action = "
        "'read_population' AND object_type = 'house' AND object_id = %s",
        str(house),
    )
    assert row[0] == before + 1
    assert all(str(p["id"]) in row[1] for p in body["data"]["persons"])
    # A house of another cell is refused, and nothing of it is audited as read.
    other = one(db, "SELECT house_id FROM persons WHERE grid_cell_id <> %s ORDER BY id LIMIT 1",
                cell)[0]  # fmt: skip
    audited = (
        "SELECT count(*) FROM audit_log WHERE action = 'read_population' "
        "AND object_type = 'house' AND object_id = %s"
    )
    before = one(db, audited, str(other))[0]
    refused = gql(client, PERSONS % other, worker)
    assert codes(refused) == {"FORBIDDEN"} and refused["data"] is None
    assert one(db, audited, str(other)) == (before,)
    # The whole building of their cell, too; a dispatcher (no READ_POPULATION) none.
    body = gql(client, f"{{ persons(buildingId: {building}) {{ id }} }}", worker)
    assert len(body["data"]["persons"]) == one(db, COUNTS + "WHERE building_id = %s",
                                               building)[0]  # fmt: skip
    assert codes(gql(client, PERSONS % house, bearer(tokens, "dispatcher"))) == {"FORBIDDEN"}


@pytest.mark.parametrize("role", [None, "citizen"])
def test_the_public_sees_no_building_and_no_person(
    client: TestClient, tokens: TokenService, db: Conn, role: str | None
) -> None:
    headers = bearer(tokens, role, Jurisdiction(Scope.NONE)) if role else None
    house, building, _cell = a_house(db)
    boxed = "{ buildings(bbox: {minLon: 121, minLat: 31, maxLon: 122, maxLat: 32}) { id } }"
    counted = f"{{ populationOfBuilding(id: {building}) {{ total }} }}"
    for query in (BUILDING % building, PERSONS % house, boxed, counted):
        body = gql(client, query, headers)
        assert not any((body["data"] or {}).values()), body
        assert codes(body) <= {"UNAUTHENTICATED", "FORBIDDEN"} and codes(body), body
    listed = client.get("/ogc/collections", headers=headers).json()
    assert "buildings" not in {c["id"] for c in listed["collections"]}
    items = client.get("/ogc/collections/buildings/items", headers=headers)
    assert items.status_code in (401, 403, 404)
    lon, lat = one(db, "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM "
                   "buildings WHERE id = %s", building)  # fmt: skip
    z, x, y = _tile(16, lon, lat)
    tile = client.get(f"/ogc/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}",
                      headers=headers)  # fmt: skip
    assert tile.status_code in (401, 403, 404)
    for body in (listed, items.text, tile.content):
        assert not [v for v in person_values(db, building) if v in str(body)]


def _tile(z: int, lon: float, lat: float) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def test_staff_read_buildings_through_ogc_and_tiles_without_personal_data(
    client: TestClient, tokens: TokenService, db: Conn
) -> None:
    _house, building, _cell = a_house(db)
    lon, lat = one(db, "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM "
                   "buildings WHERE id = %s", building)  # fmt: skip
    secret = person_values(db, building)
    for role in ("analyst", "grid_worker", "dispatcher"):
        headers = bearer(tokens, role)
        box = f"{lon - 0.003},{lat - 0.003},{lon + 0.003},{lat + 0.003}"
        r = client.get(f"/ogc/collections/buildings/items?bbox={box}&limit=1000", headers=headers)
        assert r.status_code == 200, r.text
        features = r.json()["features"]
        assert building in {int(f["id"]) for f in features}
        assert {f["geometry"]["type"] for f in features} == {"MultiPolygon"}
        assert set(features[0]["properties"]) >= {"use", "floors", "height_m", "address_id"}
        z, x, y = _tile(16, lon, lat)
        tile = client.get(f"/ogc/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}",
                          headers=headers)  # fmt: skip
        assert tile.status_code == 200 and tile.content
        z, x, y = _tile(13, lon, lat)
        low = client.get(f"/ogc/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}",
                         headers=headers)  # fmt: skip
        assert low.status_code in (200, 204) and not low.content  # none below zoom 14
        body = gql(client, BUILDING % building, headers)
        assert int(body["data"]["building"]["id"]) == building
        assert body["data"]["building"]["organisationsCount"] == len(
            body["data"]["building"]["organisations"]
        )
        for text in (r.text, str(body)):
            assert not [v for v in secret if v in text]
        assert not [v for v in secret if v.encode() in tile.content]


def test_bad_input_is_refused_clearly(client: TestClient, tokens: TokenService) -> None:
    analyst = bearer(tokens, "analyst")
    both = gql(client, "{ populationByCell(cellIds: [1], near: {lon: 121.47, lat: 31.23, "
               "radiusM: 10}) { id } }", analyst)  # fmt: skip
    assert codes(both) == {"BAD_USER_INPUT"}
    far = gql(client, "{ populationByCell(near: {lon: 121.47, lat: 31.23, radiusM: 99999}) "
              "{ id } }", analyst)  # fmt: skip
    assert codes(far) == {"BAD_USER_INPUT"}
    worker = bearer(tokens, "grid_worker", Jurisdiction(Scope.GRID_CELLS, (1,)))
    assert codes(gql(client, "{ persons { id } }", worker)) == {"BAD_USER_INPUT"}
    assert codes(gql(client, "{ persons(houseId: 999999999) { id } }", worker)) == {"NOT_FOUND"}
    missing = gql(client, "{ populationOfBuilding(id: 999999999) { total } }", analyst)
    assert codes(missing) == {"NOT_FOUND"}


def test_the_counts_follow_writes_to_persons(db: Conn) -> None:
    """building_population (what analysts read) is recounted by the triggers on persons."""
    house, building, cell = a_house(db)
    counted = "SELECT total, elderly_alone FROM building_population WHERE building_id = %s"
    before = one(db, counted, building)
    assert before == one(db, "SELECT count(*), count(*) FILTER (WHERE 'elderly_alone' = "
                         "ANY(care)) FROM persons WHERE building_id = %s", building)  # fmt: skip
    with db.transaction():
        db.execute(
            "INSERT INTO persons (id, house_id, building_id, grid_cell_id, name, id_number, "
            "birth_year, sex, residence, care) VALUES (999999999, %s, %s, %s, '测试', "
            "'SYN999999999999999', 1940, 'F', 'registered', '{elderly_alone}')",
            (house, building, cell),
        )
        assert one(db, counted, building) == (before[0] + 1, before[1] + 1)
        db.execute("UPDATE persons SET care = '{}' WHERE id = 999999999")
        assert one(db, counted, building) == (before[0] + 1, before[1])
        db.execute("DELETE FROM persons WHERE id = 999999999")
    assert one(db, counted, building) == before
