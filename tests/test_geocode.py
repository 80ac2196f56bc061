"""Geocoding on the seeded address base: a corpus of addresses written the way people write
them (precision and recall at the confidence threshold), reverse geocoding checked against
PostGIS, and the surfaces that accept an address without coordinates: a hotline call, an
Open311 request, both placed in the grid cell of the match; a doubtful address refused with
its candidates and nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.address_text import parse
from geo.params import LonLat
from geo.queries import fetch_sync
from geo.queries.geocode import geocode, reverse_geocode
from seed.address_corpus import corpus
from seed.catalogue import DEMO_OPEN311_KEY
from server.kernel.auth.tokens import TokenService
from server.kernel.geocode_settings import GeocodeSettings
from tests.case_helpers import staff_token
from tests.gql_helpers import operation
from tests.mobile_helpers import auth, key, user_with_role

THRESHOLD = GeocodeSettings().min_confidence
CORPUS_SIZE = 280


def _door(database_url: str, k: int = 0) -> tuple[int, str, str, int]:
    """A door with a building: (id, road, label, grid cell id)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT a.id, r.name_zh || a.number || '号', a.label_zh, a.grid_cell_id "
            "FROM addresses a JOIN address_roads r ON r.id = a.road_id "
            "ORDER BY md5(a.id::text || 'door') OFFSET %s LIMIT 1",
            (k,),
        ).fetchone()
    assert row is not None
    return row


def test_corpus_precision_and_recall(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        entries = corpus(conn, CORPUS_SIZE)
        assert len(entries) == CORPUS_SIZE
        accepted = correct = 0
        wrong = []
        for e in entries:
            found = fetch_sync(conn, geocode(parse(e.text), 5))
            if found and found[0].confidence >= THRESHOLD:
                accepted += 1
                if found[0].address_id == e.address_id:
                    correct += 1
                else:
                    wrong.append((e.text, found[0].label_zh))
    precision, recall = correct / max(accepted, 1), correct / len(entries)
    print(f"geocoding corpus: {len(entries)} addresses, {accepted} accepted at "
          f"{THRESHOLD}, precision {precision:.3f}, recall {recall:.3f}")  # fmt: skip
    assert precision >= 0.95, wrong
    assert recall >= 0.85


def test_reverse_geocoding_is_the_nearest_by_st_distance(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        for lon, lat in ((121.47, 31.23), (121.43, 31.2), (121.52, 31.27), (121.49, 31.21)):
            (got,) = fetch_sync(conn, reverse_geocode(LonLat(lon, lat)))
            want = conn.execute(
                "SELECT id, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
                "::geography) AS m FROM addresses ORDER BY m, id LIMIT 1",
                (lon, lat),
            ).fetchone()
            assert want is not None
            assert got.id == want[0] and got.distance_m == pytest.approx(want[1], abs=0.01)


def test_public_geocode_endpoints(client: TestClient, database_url: str) -> None:
    door, text, label, _ = _door(database_url)
    r = client.get("/api/v1/geocode", params={"q": f"{text}附近"})
    assert r.status_code == 200, r.text
    top = r.json()["items"][0]
    assert top["address_id"] == door and top["label_zh"] == label
    assert top["confidence"] >= THRESHOLD and "number" in top["matched"]
    r = client.get("/api/v1/reverse-geocode", params={"lon": top["lon"], "lat": top["lat"]})
    assert r.status_code == 200 and r.json()["address_id"] == door
    assert r.json()["distance_m"] < 0.5
    bad = client.get("/api/v1/reverse-geocode", params={"lon": "east", "lat": 31.2})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/geocode").status_code == 400


def _gql(client: TestClient, token: str | None, name: str, variables: dict[str, Any]) -> Any:
    """One operation of graphql/operations/geocode.graphql, as the front ends send it."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/graphql", json={"query": operation("geocode"), "operationName": name,
                                      "variables": variables}, headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


_CALL = "CreateHotlineCaseByAddress"


def test_graphql_geocode_and_reverse_geocode(client: TestClient, database_url: str) -> None:
    door, text, label, _ = _door(database_url, 4)
    found = _gql(client, None, "Geocode", {"q": text})["data"]["geocode"]
    assert found[0]["addressId"] == str(door) and found[0]["labelZh"] == label
    assert found[0]["confidence"] >= THRESHOLD
    near = _gql(client, None, "ReverseGeocode", {"lon": found[0]["lon"], "lat": found[0]["lat"]})
    assert near["data"]["reverseGeocode"]["addressId"] == str(door)
    bad = _gql(client, None, "Geocode", {"q": "x"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_call_with_only_an_address_becomes_a_case_in_its_grid_cell(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    operator = staff_token(database_url, tokens, "'hotline_operator' = ANY(roles)")
    _id, text, label, _cell = _door(database_url, 1)
    said = f"井盖缺失 {uuid.uuid4().hex[:8]}"
    body = _gql(client, operator, _CALL, {"input": {
        "category": "manhole_cover", "description": said, "address": f"{text}门口",
        "caller": {"name": "钱女士", "phone": "13812345678"}}})  # fmt: skip
    made = body["data"]["createHotlineCase"]
    assert made["__typename"] == "CasePayload", made
    assert made["case"]["address"] == label
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT c.grid_cell_id, (SELECT g.id FROM grid_cells g WHERE ST_Contains(g.geom, "
            "c.geom) ORDER BY g.id LIMIT 1) FROM cases c WHERE c.description = %s",
            (said,),
        ).fetchone()
    assert row is not None and row[0] == row[1] == _cell


def test_a_doubtful_address_is_refused_with_candidates_and_nothing_written(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    operator = staff_token(database_url, tokens, "'hotline_operator' = ANY(roles)")
    said = f"路灯不亮 {uuid.uuid4().hex[:8]}"
    body = _gql(client, operator, _CALL, {"input": {
        "category": "manhole_cover", "description": said, "address": "北京希路181号",
        "caller": {"name": "钱女士", "phone": "13812345678"}}})  # fmt: skip
    refused = body["data"]["createHotlineCase"]
    assert refused["code"] == "ADDRESS_UNCERTAIN", refused
    assert len(refused["candidates"]) >= 2
    assert all(c["confidence"] < THRESHOLD for c in refused["candidates"])
    r = client.post("/open311/v2/requests.json", data={
        "api_key": DEMO_OPEN311_KEY, "service_code": "road_damage", "description": said,
        "address_string": "北京希路181号"})  # fmt: skip
    assert r.status_code == 400
    assert "Candidates:" in r.json()[0]["description"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM cases WHERE description = %s", (said,)).fetchone()
    assert row == (0,)


def test_open311_request_with_address_string_only(client: TestClient, database_url: str) -> None:
    _id, text, _label, cell = _door(database_url, 2)
    said = f"路面塌陷 {uuid.uuid4().hex[:8]}"
    r = client.post("/open311/v2/requests.json", data={
        "api_key": DEMO_OPEN311_KEY, "service_code": "road_damage", "description": said,
        "address_string": text})  # fmt: skip
    assert r.status_code == 201, r.text
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT c.address, c.grid_cell_id FROM cases c WHERE c.description = %s", (said,)
        ).fetchone()
    assert row == (text, cell)  # the words as sent; the case placed in the match's cell


def test_a_citizen_report_with_only_an_address(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    citizen = auth(tokens, user_with_role(database_url, "citizen"), "citizen")
    _id, text, label, cell = _door(database_url, 3)
    said = f"垃圾满溢 {uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/reports", headers={**citizen, "Idempotency-Key": key()},
                    data={"category": "garbage_overflow", "description": said,
                          "address": f"{text}附近"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["address"] == label
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT grid_cell_id FROM cases WHERE description = %s", (said,))
        assert row.fetchone() == (cell,)
    doubtful = client.post("/api/v1/reports", headers={**citizen, "Idempotency-Key": key()},
                           data={"category": "garbage_overflow", "description": said + "?",
                                 "address": "北京希路181号"})  # fmt: skip
    assert doubtful.status_code == 422, doubtful.text
    problem = doubtful.json()
    assert problem["type"].endswith("address_uncertain") and len(problem["candidates"]) >= 2
    assert {"label_zh", "lon", "lat", "confidence"} <= set(problem["candidates"][0])
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM cases WHERE description = %s", (said + "?",))
        assert row.fetchone() == (0,)


_SIDES = """
WITH d AS (SELECT a.id, a.number, a.geom, r.name_zh FROM addresses a
           JOIN address_roads r ON r.id = a.road_id ORDER BY md5(a.id::text) LIMIT 300),
near AS (SELECT d.*, x.geom AS line FROM d CROSS JOIN LATERAL (
    SELECT geom FROM roads WHERE name_zh = d.name_zh ORDER BY geom <-> d.geom LIMIT 1) x),
at AS (SELECT near.*, ST_LineLocatePoint(line, geom) AS f FROM near),
pq AS (SELECT at.*, ST_LineInterpolatePoint(line, least(f, 0.999)) AS p,
              ST_LineInterpolatePoint(line, least(f, 0.999) + 0.001) AS q FROM at)
SELECT number % 2 = 1 AS odd,
       (ST_X(q) - ST_X(p)) * (ST_Y(geom) - ST_Y(p)) - (ST_Y(q) - ST_Y(p)) * (ST_X(geom) - ST_X(p))
           > 0 AS left_side,
       ST_Distance(geom::geography, line::geography) AS m, f
FROM pq
"""


def test_doors_lie_along_their_roads_odd_left_even_right(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(_SIDES).fetchall()
        misplaced = conn.execute(
            "SELECT count(*) FROM addresses a JOIN grid_cells g ON g.id = a.grid_cell_id "
            "JOIN admin_areas c ON c.id = g.community_id "
            "WHERE NOT ST_Intersects(g.geom, a.geom) OR c.parent_id <> a.street_id"
        ).fetchone()
        facility = conn.execute(
            "SELECT f.address, (SELECT '上海市' || r.name_zh FROM addresses a JOIN address_roads "
            "r ON r.id = a.road_id ORDER BY a.geom <-> f.geom LIMIT 1) FROM facilities f "
            "ORDER BY f.id LIMIT 1"
        ).fetchone()
    assert len(rows) == 300 and misplaced == (0,)
    assert all(m < 13 for _, _, m, _ in rows)
    # A door 12 m off the inside of its nearest piece was laid along it (near a corner, the
    # nearest piece may be the next one, turned): its side follows its number's parity.
    laid = [(odd, left) for odd, left, m, f in rows if abs(m - 12) < 0.5 and 0.02 < f < 0.98]
    assert len(laid) > 0.8 * len(rows)
    assert all(odd == left for odd, left in laid)
    assert facility is not None and facility[0].startswith("上海市")
    assert facility[1].removeprefix("上海市") in facility[0]
