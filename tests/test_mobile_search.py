"""``GET /api/v1/search`` as the citizen app calls it: facilities by name near the phone, nearest
first; the same hits GraphQL's ``search`` gives; bad queries are problem+json 400s."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import a_point, auth, user_with_role

URL = "/api/v1/search"


def test_hospitals_near_me_nearest_first(client: TestClient, database_url: str) -> None:
    lon, lat = a_point(database_url, 7)
    r = client.get(URL, params={"q": "医院", "lon": lon, "lat": lat, "kinds": "FACILITY",
                                "limit": 5})  # fmt: skip
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    with psycopg.connect(database_url) as conn:
        nearest = conn.execute(
            "SELECT id::text FROM facilities WHERE name_zh LIKE '%%医院%%' AND category <> "
            "'hazard_source' ORDER BY ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint("
            "%s, %s), 4326)::geography) LIMIT 5", (lon, lat),
        ).fetchall()  # fmt: skip
    assert [i["id"] for i in items] == [n[0] for n in nearest]
    assert all("医院" in i["title_zh"] and i["kind"] == "FACILITY" for i in items)
    distances = [i["distance_m"] for i in items]
    assert distances == sorted(distances)


def test_the_same_hits_as_graphql(client: TestClient) -> None:
    rest = client.get(URL, params={"q": "Huangpu", "limit": 8}).json()["items"]
    gql = client.post("/graphql", json={"query": '{ search(text: "Huangpu", first: 8) '
                                        "{ kind id score } }"}).json()  # fmt: skip
    assert [(i["kind"], i["id"], i["score"]) for i in rest] == [
        (h["kind"], h["id"], h["score"]) for h in gql["data"]["search"]
    ]  # fmt: skip


def test_staff_find_what_their_views_hold(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id::text, name_zh FROM facilities WHERE category = "
                           "'hazard_source' ORDER BY id LIMIT 1").fetchone()  # fmt: skip
    assert row is not None
    staff = auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")
    public = client.get(URL, params={"q": row[1], "limit": 50}).json()["items"]
    inside = client.get(URL, params={"q": row[1], "limit": 50}, headers=staff).json()["items"]
    assert row[0] in [i["id"] for i in inside] and row[0] not in [i["id"] for i in public]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"q": "x"}, "q"), ({"q": "医院", "lon": "121.5"}, "lat"),
     ({"q": "医院", "limit": 0}, "limit"), ({"q": "医院", "kinds": "PLANET"}, "kinds"),
     ({"q": "医院", "lon": "x", "lat": "31"}, "lon")],
)  # fmt: skip
def test_bad_searches_are_problems(client: TestClient, params: dict[str, Any], field: str) -> None:
    r = client.get(URL, params=params)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert field in r.text
