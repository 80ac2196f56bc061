"""GraphQL ``search`` over HTTP, as the map's search box and front-end teams use it: Chinese and
English names, parts of names, typos, codes and public ids, nearest first with a point, and
only what the caller may see."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, user_with_role

SEARCH = """query($text: String!, $near: PointInput, $kinds: [SearchKind!], $first: Int! = 10) {
  search(text: $text, near: $near, kinds: $kinds, first: $first) {
    kind id titleZh titleEn subtitle score point distanceM } }"""


def _search(client: TestClient, text: str, headers: dict[str, str] | None = None,
            **variables: Any) -> list[dict[str, Any]]:  # fmt: skip
    r = client.post("/graphql", headers=headers or {},
                    json={"query": SEARCH, "variables": {"text": text, **variables}})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body["errors"]
    hits: list[dict[str, Any]] = body["data"]["search"]
    return hits


def _one(database_url: str, query: str, *args: Any) -> tuple[Any, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture(scope="module")
def hospital(database_url: str) -> tuple[Any, ...]:
    """A seeded hospital: id, Chinese name, English name, code, lon, lat."""
    return _one(database_url, "SELECT id::text, name_zh, name_en, code, ST_X(geom), ST_Y(geom) "
                "FROM facilities WHERE category = 'hospital' ORDER BY id LIMIT 1")  # fmt: skip


def test_a_facility_is_found_by_its_name_a_part_of_it_or_its_code(
    client: TestClient, hospital: tuple[Any, ...]
) -> None:
    fid, zh, en, code, _, _ = hospital
    for text in (zh, en, zh[1:-1], en.split()[0].lower(), code.lower()):
        hits = _search(client, text, first=50, kinds=["FACILITY"])
        assert fid in [h["id"] for h in hits], (text, hits[:3])
        assert all(h["kind"] == "FACILITY" for h in hits)
    best = _search(client, zh)[0]
    assert (best["id"], best["titleZh"], best["titleEn"], best["score"]) == (fid, zh, en, 1.0)
    assert best["subtitle"] == "hospital" and best["point"]["type"] == "Point"


def test_typos_still_find_it_in_english_and_chinese(
    client: TestClient, hospital: tuple[Any, ...]
) -> None:
    fid, zh, en, _, _, _ = hospital
    words = en.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    w = words[longest]
    words[longest] = w[:2] + w[3] + w[2] + w[4:]  # two letters swapped
    typo_en = " ".join(words)
    typo_zh = zh[:-2] + "医" + zh[-1] if len(zh) > 3 else zh  # one character changed
    for typo in (typo_en, typo_zh):
        hits = _search(client, typo, first=50, kinds=["FACILITY"])
        assert fid in [h["id"] for h in hits], (typo, [h["titleEn"] for h in hits[:5]])


def test_near_a_point_the_nearest_comes_first(
    client: TestClient, hospital: tuple[Any, ...], database_url: str
) -> None:
    _, _, _, _, lon, lat = hospital
    hits = _search(client, "医院", near={"lon": lon, "lat": lat}, first=20, kinds=["FACILITY"])
    distances = [h["distanceM"] for h in hits]
    assert distances[0] < 1 and distances == sorted(distances)
    # The same nearest hospitals PostGIS finds itself.
    nearest = _one(database_url, "SELECT array_agg(id::text ORDER BY d) FROM (SELECT id, "
                   "ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
                   "::geography) d FROM facilities WHERE name_zh LIKE '%%医院%%' AND category "
                   "<> 'hazard_source' ORDER BY d LIMIT 5) n", lon, lat)[0]  # fmt: skip
    assert [h["id"] for h in hits[:5]] == nearest


def test_areas_cells_categories_and_cases_are_found(client: TestClient, database_url: str) -> None:
    street_id, street_zh, street_en = _one(
        database_url, "SELECT id::text, name_zh, name_en FROM admin_areas WHERE level = 'street' "
        "ORDER BY id LIMIT 1")  # fmt: skip
    hits = _search(client, street_en, kinds=["STREET"])
    assert hits[0]["id"] == street_id and hits[0]["titleZh"] == street_zh
    cell_id, cell_code = _one(database_url, "SELECT id::text, code FROM grid_cells ORDER BY id "
                              "LIMIT 1")  # fmt: skip
    assert _search(client, cell_code)[0]["id"] == cell_id
    category = _search(client, "Garbage Overflw", kinds=["CATEGORY"])[0]
    assert (category["id"], category["point"]) == ("garbage_overflow", None)
    case_id, public_id = _one(database_url, "SELECT c.id::text, c.public_id FROM cases_public c "
                              "ORDER BY id LIMIT 1")  # fmt: skip
    (case,) = _search(client, public_id, kinds=["CASE"])
    assert (case["id"], case["kind"], case["titleZh"]) == (case_id, "CASE", public_id)


def test_the_public_finds_only_what_it_may_see(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    """Hazard sources are internal: a dispatcher finds one by name, the public does not. A
    case's position is the caller's record of it: generalised for the public."""
    hazard_id, name = _one(database_url, "SELECT id::text, name_zh FROM facilities WHERE "
                           "category = 'hazard_source' ORDER BY id LIMIT 1")  # fmt: skip
    staff = auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")
    assert hazard_id in [h["id"] for h in _search(client, name, staff, first=50)]
    assert hazard_id not in [h["id"] for h in _search(client, name, first=50)]
    public_id, exact, public = _one(
        database_url, "SELECT c.public_id, ST_AsText(c.geom), ST_AsText(p.geom) FROM cases c "
        "JOIN cases_public p ON p.id = c.id WHERE NOT ST_Equals(c.geom, p.geom) ORDER BY c.id "
        "LIMIT 1")  # fmt: skip
    (anonymous,) = _search(client, public_id, kinds=["CASE"])
    (staffs,) = _search(client, public_id, staff, kinds=["CASE"])
    as_text = "POINT({} {})".format
    assert as_text(*anonymous["point"]["coordinates"]) == public != exact
    assert as_text(*staffs["point"]["coordinates"]) == exact


@pytest.mark.parametrize(
    ("variables", "message"),
    [({"text": " "}, "at least two characters"), ({"text": "x" * 101}, "longer than"),
     ({"text": "医院", "first": 500}, "first must be between"),
     ({"text": "医院", "near": {"lon": 500, "lat": 31}}, "longitude")],
)  # fmt: skip
def test_bad_searches_are_typed_errors(
    client: TestClient, variables: dict[str, Any], message: str
) -> None:
    r = client.post("/graphql", json={"query": SEARCH, "variables": variables})
    assert r.status_code == 200
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and message in error["message"]


def test_wildcards_are_text(client: TestClient) -> None:
    assert _search(client, "%%") == [] and _search(client, "__") == []


def test_one_facility_by_id_through_the_callers_view(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    """``facility(id)`` (what a picked search hit opens): a hazard source is null for the
    public and read in full by staff; a bad id is a typed error."""
    hazard_id, name = _one(database_url, "SELECT id::text, name_zh FROM facilities WHERE "
                           "category = 'hazard_source' ORDER BY id LIMIT 1")  # fmt: skip
    doc = "query($id: ID!) { facility(id: $id) { id nameZh category } }"
    staff = auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")
    public = client.post("/graphql", json={"query": doc, "variables": {"id": hazard_id}}).json()
    assert public == {"data": {"facility": None}}
    inside = client.post("/graphql", headers=staff,
                         json={"query": doc, "variables": {"id": hazard_id}}).json()  # fmt: skip
    assert inside["data"]["facility"] == {"id": hazard_id, "nameZh": name,
                                          "category": "HAZARD_SOURCE"}  # fmt: skip
    bad = client.post("/graphql", json={"query": doc, "variables": {"id": "x"}}).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
