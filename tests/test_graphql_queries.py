"""GraphQL queries: the front end's operations against the seed city, with statement counts,
spatial filters, permissions and typed errors."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient
from strawberry import Schema

from geo.access import CITY, Jurisdiction, Principal, Scope
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation, run

pytestmark = pytest.mark.anyio
Pool = AsyncConnectionPool[AsyncConnection[Any]]

DISPATCHER = Principal(user_id=6, roles=frozenset({"dispatcher"}), jurisdiction=CITY)
BBOX = {"minLon": 121.47, "minLat": 31.22, "maxLon": 121.49, "maxLat": 31.24}


def _sql_one(database_url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return row


async def test_case_board_page_of_100_takes_five_statements(schema: Schema, pool: Pool) -> None:
    out = await run(schema, pool, operation("case_board"), {"first": 100}, principal=DISPATCHER)
    assert out.errors == []
    edges = out.data["cases"]["edges"]
    assert len(edges) == 100
    assert all(e["node"]["gridCell"]["code"] for e in edges)
    assert all(e["node"]["department"]["nameZh"] for e in edges)
    assert out.data["cases"]["pageInfo"]["hasNextPage"] is True
    open_statuses = {"REPORTED", "DISPATCHED", "IN_PROGRESS", "RESOLVED"}
    for e in edges:  # a clock for every case in the workflow, none for the others
        node = e["node"]
        assert (node["clock"] is not None) == (node["status"] in open_statuses), node
        if node["clock"]:
            assert node["clock"]["state"] in {"ON_TIME", "WARNING", "OVERDUE"}
    # The page, the grid cells and departments, the clocks' timelines and stage limits.
    assert out.statements <= 5

    after = out.data["cases"]["pageInfo"]["endCursor"]
    nxt = await run(schema, pool, operation("case_board"), {"first": 100, "after": after},
                    principal=DISPATCHER)  # fmt: skip
    first_ids = {e["node"]["id"] for e in edges}
    assert first_ids.isdisjoint(e["node"]["id"] for e in nxt.data["cases"]["edges"])


async def test_viewport_layers(schema: Schema, pool: Pool, database_url: str) -> None:
    out = await run(schema, pool, operation("viewport_layers"), {"bbox": BBOX})
    assert out.errors == []
    facilities = out.data["facilities"]["nodes"]
    expected = _sql_one(
        database_url,
        "SELECT count(*) FROM facilities WHERE category <> 'hazard_source' AND "
        "ST_Intersects(geom, ST_MakeEnvelope(121.47, 31.22, 121.49, 31.24, 4326))",
    )[0]
    assert len(facilities) == expected > 0
    for f in facilities:
        lon, lat = f["geometry"]["coordinates"]
        assert 121.47 <= lon <= 121.49
        assert 31.22 <= lat <= 31.24
        assert f["category"] != "HAZARD_SOURCE"
    assert out.data["gridCells"]["nodes"][0]["geometry"]["type"] == "MultiPolygon"
    assert {c["status"] for c in out.data["cases"]["nodes"]} <= {"REPORTED", "DISPATCHED",
                                                                 "IN_PROGRESS"}  # fmt: skip
    assert out.statements == 3


async def test_case_detail_with_timeline(schema: Schema, pool: Pool, database_url: str) -> None:
    case_id, events = _sql_one(
        database_url,
        "SELECT c.id, count(e.id) FROM cases c JOIN case_events e ON e.case_id = c.id "
        "WHERE c.status = 'closed' GROUP BY c.id ORDER BY c.id LIMIT 1",
    )
    out = await run(schema, pool, operation("case_detail"), {"id": str(case_id)},
                    principal=DISPATCHER)  # fmt: skip
    assert out.errors == []
    case = out.data["case"]
    assert case["status"] == "CLOSED"
    assert len(case["events"]) == events
    assert next(e["eventType"] for e in case["events"]) == "REPORTED"
    # the last status change closed it (a callback or rating may follow: the seed's history)
    assert [e["toStatus"] for e in case["events"] if e["toStatus"]][-1] == "CLOSED"
    assert case["gridCell"]["worker"]["displayName"]


async def test_anonymous_callers_see_the_public_subset(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    public_id = _sql_one(database_url, "SELECT min(id) FROM cases_public")[0]
    doc = "query($id: ID!) { case(id: $id) { id status description } }"
    out = await run(schema, pool, doc, {"id": str(public_id)})
    assert out.data is None or out.data["case"] is None
    assert out.errors[0].extensions["code"] == "FORBIDDEN"
    cams = await run(schema, pool, "{ cameras(first: 1) { nodes { id } } }")
    assert cams.errors[0].extensions["code"] == "UNAUTHENTICATED"
    hazards = await run(schema, pool,
                        "{ facilities(categories: [HAZARD_SOURCE]) { nodes { id } } }")  # fmt: skip
    assert hazards.errors == []
    assert hazards.data["facilities"]["nodes"] == []
    staff = await run(schema, pool, "{ facilities(categories: [HAZARD_SOURCE], first: 3) "
                      "{ nodes { id attributes } } }", principal=DISPATCHER)  # fmt: skip
    assert len(staff.data["facilities"]["nodes"]) == 3


async def test_row_level_rules_for_grid_workers_and_citizens(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    worker, mine = _sql_one(
        database_url, "SELECT g.worker_id, c.id FROM cases c JOIN grid_cells g "
        "ON g.id = c.grid_cell_id ORDER BY c.id LIMIT 1",
    )  # fmt: skip
    other = _sql_one(
        database_url,
        "SELECT id FROM cases WHERE grid_cell_id NOT IN "
        "(SELECT id FROM grid_cells WHERE worker_id = %s) LIMIT 1",
        worker,
    )
    cells = _sql_one(database_url, "SELECT array_agg(id) FROM grid_cells WHERE worker_id = %s",
                     worker)[0]  # fmt: skip
    gw = Principal(user_id=worker, roles=frozenset({"grid_worker"}),
                   jurisdiction=Jurisdiction(Scope.GRID_CELLS, tuple(cells)))  # fmt: skip
    doc = "query($id: ID!) { case(id: $id) { id description } }"
    ok = await run(schema, pool, doc, {"id": str(mine)}, principal=gw)
    assert ok.errors == []
    # Another cell's case is outside the worker's jurisdiction: read in SQL, it is not there.
    denied = await run(schema, pool, doc, {"id": str(other[0])}, principal=gw)
    assert denied.errors[0].extensions["code"] == "NOT_FOUND"

    reporter, own_case = _sql_one(
        database_url, "SELECT reporter_id, id FROM cases WHERE reporter_id IS NOT NULL LIMIT 1"
    )
    citizen = Principal(user_id=reporter, roles=frozenset({"citizen"}))
    mine_doc = "{ myCases(first: 50) { nodes { id description events { eventType } } } }"
    out = await run(schema, pool, mine_doc, principal=citizen)
    assert out.errors == []
    assert str(own_case) in {n["id"] for n in out.data["myCases"]["nodes"]}


async def test_reporter_data_only_for_dispatchers_and_every_read_audited(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    case_id = _sql_one(database_url, "SELECT c.id FROM cases c JOIN cases_public p "
                       "ON p.id = c.id WHERE c.reporter_id IS NOT NULL LIMIT 1")[0]  # fmt: skip
    doc = "query($id: ID!) { case(id: $id) { reporter { displayName phone } } }"
    analyst = Principal(user_id=2, roles=frozenset({"analyst"}))
    denied = await run(schema, pool, doc, {"id": str(case_id)}, principal=analyst)
    assert denied.errors[0].extensions["code"] == "FORBIDDEN"
    before = _sql_one(database_url, "SELECT count(*) FROM audit_log WHERE object_id = %s "
                      "AND action = 'read_personal_data'", str(case_id))[0]  # fmt: skip
    out = await run(schema, pool, doc, {"id": str(case_id)}, principal=DISPATCHER)
    assert out.errors == []
    assert out.data["case"]["reporter"]["phone"].startswith("1370")
    after = _sql_one(database_url, "SELECT count(*), max(actor_id) FROM audit_log WHERE "
                     "object_id = %s AND action = 'read_personal_data'", str(case_id))  # fmt: skip
    assert after == (before + 1, DISPATCHER.user_id)


async def test_near_orders_by_distance_and_within_an_area(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    lon, lat = _sql_one(
        database_url,
        "SELECT ST_X(geom), ST_Y(geom) FROM facilities WHERE category <> 'hazard_source' LIMIT 1",
    )  # one the public sees
    doc = """query($lon: Float!, $lat: Float!) {
      facilities(where: {near: {lon: $lon, lat: $lat, radiusM: 1000}}, first: 1000) {
        nodes { id distanceM gridCell { id } } } }"""
    out = await run(schema, pool, doc, {"lon": lon, "lat": lat})
    d = [n["distanceM"] for n in out.data["facilities"]["nodes"]]
    assert d[0] == 0
    assert d == sorted(d)
    assert max(d) <= 1000

    cell = _sql_one(database_url, "SELECT grid_cell_id, count(*) FROM facilities WHERE "
                    "category <> 'hazard_source' GROUP BY 1 ORDER BY 2 DESC LIMIT 1")  # fmt: skip
    doc = """query($cell: ID!) { facilities(where: {within: {gridCellId: $cell}}) {
      nodes { gridCell { id } } } }"""
    out = await run(schema, pool, doc, {"cell": str(cell[0])})
    assert out.errors == []
    assert len(out.data["facilities"]["nodes"]) == cell[1]
    missing = await run(schema, pool, doc, {"cell": "999999"})
    assert missing.errors[0].extensions["code"] == "NOT_FOUND"


async def test_intersects_and_within_a_polygon_match_the_bbox(schema: Schema, pool: Pool) -> None:
    square = {"type": "Polygon", "coordinates": [[[121.47, 31.22], [121.49, 31.22],
                                                  [121.49, 31.24], [121.47, 31.24],
                                                  [121.47, 31.22]]]}  # fmt: skip
    doc = """query($g: GeoJSON!, $bbox: BBoxInput!) {
      a: facilities(where: {intersects: $g}, first: 1000) { nodes { id } }
      b: facilities(where: {within: {geometry: $g}}, first: 1000) { nodes { id } }
      c: facilities(where: {bbox: $bbox}, first: 1000) { nodes { id } } }"""
    out = await run(schema, pool, doc, {"g": square, "bbox": BBOX})
    assert out.errors == []
    ids = [[n["id"] for n in out.data[k]["nodes"]] for k in "abc"]
    assert ids[0] == ids[1] == ids[2]
    assert ids[0]


async def test_grid_cell_at_and_outside_the_city(schema: Schema, pool: Pool) -> None:
    doc = """query($lon: Float!, $lat: Float!) { gridCellAt(lon: $lon, lat: $lat) {
      gridCell { code } community { level nameZh } street { level } district { level nameZh } } }"""
    out = await run(schema, pool, doc, {"lon": 121.48, "lat": 31.23})
    assert out.errors == []
    loc = out.data["gridCellAt"]
    assert (loc["community"]["level"], loc["street"]["level"], loc["district"]["level"]) == (
        "COMMUNITY", "STREET", "DISTRICT")  # fmt: skip
    assert out.statements == 3  # the point lookup, the cell, the three areas together
    outside = await run(schema, pool, doc, {"lon": 120.0, "lat": 30.0})
    assert outside.errors[0].extensions["code"] == "OUTSIDE_CITY"


async def test_incident_context(schema: Schema, pool: Pool, database_url: str) -> None:
    lon, lat = _sql_one(database_url, "SELECT ST_X(geom), ST_Y(geom) FROM facilities "
                        "WHERE category = 'hazard_source' LIMIT 1")  # fmt: skip
    variables = {"lon": lon, "lat": lat, "radiusM": 1500}
    out = await run(schema, pool, operation("incident"), variables, principal=DISPATCHER)
    assert out.errors == []
    inc = out.data["incident"]
    assert inc["gridCells"]
    assert inc["hazards"][0]["distanceM"] == 0
    resources = inc["resources"]
    assert {r["category"] for r in resources} == {"SHELTER", "FIRE_STATION", "POLICE_STATION",
                                                  "HOSPITAL"}  # fmt: skip
    assert [r["distanceM"] for r in resources] == sorted(r["distanceM"] for r in resources)
    assert all(c["streamUrl"].endswith("/whep") for c in inc["cameras"])
    assert all(u["distanceM"] <= 1500 for u in inc["affectedUnits"])
    assert inc["cameras"]
    # A grid worker may see the context, but cameras need READ_CAMERAS: none are listed.
    gw = Principal(user_id=7, roles=frozenset({"grid_worker"}), jurisdiction=CITY)
    out = await run(schema, pool, operation("incident"), variables, principal=gw)
    assert out.errors == []
    assert out.data["incident"]["cameras"] == []
    assert out.data["incident"]["hazards"] == inc["hazards"]


async def test_heatmap_stats_add_up(schema: Schema, pool: Pool, database_url: str) -> None:
    out = await run(schema, pool, operation("heatmap_stats"), {})
    assert out.errors == []
    # The public record: no duplicates, no sensitive categories.
    total = _sql_one(database_url, "SELECT count(*) FROM cases_public")[0]
    assert total < _sql_one(database_url, "SELECT count(*) FROM cases")[0]
    assert sum(b["count"] for b in out.data["caseStats"]) == total
    assert sum(b["count"] for b in out.data["daily"]) == total
    assert all(len(b["day"]) == 10 for b in out.data["daily"])


@pytest.mark.parametrize(
    ("doc", "variables", "message"),
    [
        ("query($g: GeoJSON!) { facilities(where: {intersects: $g}) { nodes { id } } }",
         {"g": {"type": "Polygon", "coordinates": [[[121, 31], [122, 31], [122, 32]]]}},
         "at least 4 positions"),
        ("query($g: GeoJSON!) { facilities(where: {intersects: $g}) { nodes { id } } }",
         {"g": {"type": "Polygon", "coordinates": [[[121, 31], [122, 31], [122, 32], [121, 32]]]}},
         "closed"),
        ("query($g: GeoJSON!) { facilities(where: {intersects: $g}) { nodes { id } } }",
         {"g": {"type": "Point", "coordinates": [200, 31]}}, "EPSG:4326"),
        ("query($g: GeoJSON!) { facilities(where: {intersects: $g}) { nodes { id } } }",
         {"g": {"type": "Circle", "coordinates": [121, 31]}}, "type must be one of"),
        ("{ facilities(where: {near: {lon: 121.5, lat: 31.2, radiusM: 0}}) { nodes { id } } }",
         None, "radius"),
        ("{ facilities(where: {near: {lon: 121.5, lat: 31.2, radiusM: 1e9}}) { nodes { id } } }",
         None, "radius"),
        ("{ facilities(first: 100000) { nodes { id } } }", None, "first must be between"),
        ("{ facilities(after: \"bm9wZQ==\") { nodes { id } } }", None, "not a cursor"),
        ("{ case(id: \"abc\") { id } }", None, "numeric id"),
        ("{ case(id: \"99999999\") { id } }", None, "No case"),
        ("{ facilities(where: {bbox: {minLon: 122, minLat: 31, maxLon: 121, maxLat: 32}}) "
         "{ nodes { id } } }", None, "east of"),
    ],
)  # fmt: skip
async def test_bad_input_gives_typed_errors_not_500s(
    schema: Schema, pool: Pool, doc: str, variables: dict[str, Any] | None, message: str
) -> None:
    out = await run(schema, pool, doc, variables)
    assert out.errors, out.data
    assert message in out.errors[0].message
    assert "Unexpected error" not in out.errors[0].message


def test_limits_on_depth_aliases_and_tokens(client: TestClient) -> None:
    deep = "{ cases(first: 1) { nodes { gridCell { community { parent { parent { parent " \
        "{ parent { parent { parent { parent { id } } } } } } } } } } } }"  # fmt: skip
    r = client.post("/graphql", json={"query": deep})
    assert r.status_code == 200
    assert "exceeds maximum operation depth" in r.json()["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: departments {{ id }}" for i in range(40)) + " }"
    r = client.post("/graphql", json={"query": aliases})
    assert "aliases" in r.json()["errors"][0]["message"]
    r = client.post("/graphql", json={"query": "{ " + "departments { id } " * 3000 + "}"})
    assert "token" in r.json()["errors"][0]["message"].lower()


def _departments(database_url: str) -> int:
    """How many departments there are (other tests add some to the session's database)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM departments").fetchone()
    assert row is not None and row[0] >= 14  # the seed's 14, and any a test added
    return int(row[0])


def test_over_http_with_a_bearer_token(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    token = tokens.issue_access(6, ["dispatcher"])
    r = client.post(
        "/graphql",
        json={"query": operation("case_board"), "variables": {"first": 5}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    assert len(r.json()["data"]["cases"]["edges"]) == 5
    r = client.get("/graphql", params={"query": "{ departments { nameZh } }"})
    assert r.status_code == 200
    assert len(r.json()["data"]["departments"]) == _departments(database_url)
    assert client.get("/graphql").status_code in (400, 404)  # no GraphiQL outside dev mode


async def test_departments_take_two_statements(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    out = await run(schema, pool, "{ departments { id code nameZh nameEn } }")
    assert len(out.data["departments"]) == _departments(database_url)
    assert out.statements == 2
