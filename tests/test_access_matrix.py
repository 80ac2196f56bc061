"""The access matrix, generated from the policy: every role — anonymous, citizen, and each staff
role with a city-wide and a narrow jurisdiction — asks the same questions through OGC items,
vector tiles, GraphQL, Open311 and the citizen API (the audit trail too), and gets what
``geo.access`` says: the same answer through every door.

Expected sets are computed here in SQL straight from the tables (not through the code under
test): the public record from ``cases_public``, a jurisdiction's cases from the grid and the
admin areas. The number of cells checked is printed at the end of the module (``-s``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pyogrio
import pytest
from starlette.testclient import TestClient

from geo.access import (
    ROLE_CAPABILITIES,
    Capability,
    Jurisdiction,
    Principal,
    Scope,
    views_for,
)
from geo.layers import CASES_PUBLIC
from server.kernel.auth.tokens import TokenService

C = Capability
#: Fields that carry personal data or free text: never outside ``read_cases``.
PERSONAL = {"description", "address", "reporter_id", "assignee_id", "reporter"}
CELLS: list[str] = []


@dataclass(frozen=True)
class Who:
    name: str
    roles: tuple[str, ...]
    jurisdiction: Jurisdiction
    user_id: int | None

    @property
    def principal(self) -> Principal:
        if self.user_id is None:
            return Principal()
        return Principal(self.user_id, frozenset(self.roles), "t", self.jurisdiction)


def _one(conn: psycopg.Connection[Any], query: str, *args: Any) -> Any:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def _narrow(role: str) -> Scope:
    if role == "grid_worker":
        return Scope.GRID_CELLS
    if role == "department_staff":
        return Scope.DEPARTMENT
    return Scope.DISTRICT


#: (test id, role or None, scope): fixed by the policy's role table at collection time.
SPECS = [("anonymous", None, Scope.NONE), ("citizen", "citizen", Scope.NONE)] + [
    (f"{role.value}@{scope.value}", role.value, scope)
    for role in ROLE_CAPABILITIES
    if role.value != "citizen"
    for scope in (Scope.CITY, _narrow(role.value))
]


@pytest.fixture(scope="module")
def principals(database_url: str) -> Iterator[dict[str, Who]]:
    """The SPECS with seeded users: the first district, the city-management department, the
    cells of one grid worker (who is then the user)."""
    with psycopg.connect(database_url) as conn:
        district = _one(conn, "SELECT id FROM admin_areas WHERE level = 'district' ORDER BY code "
                        "LIMIT 1")  # fmt: skip
        dept = _one(conn, "SELECT id FROM departments WHERE code = 'city_management'")
        worker, cells = conn.execute(
            "SELECT g.worker_id, array_agg(DISTINCT g.id) FROM grid_cells g "
            "JOIN cases c ON c.grid_cell_id = g.id GROUP BY g.worker_id "
            "ORDER BY count(*) DESC, g.worker_id LIMIT 1"
        ).fetchone() or (None, None)
        ids = {"citizen": _one(conn, "SELECT id FROM users WHERE phone = '13700000001'")}
        for role in ROLE_CAPABILITIES:
            ids.setdefault(role.value, _one(
                conn, "SELECT id FROM users WHERE %s = ANY(roles) ORDER BY phone LIMIT 1",
                role.value))  # fmt: skip
    narrow_ids = {Scope.DISTRICT: (district,), Scope.DEPARTMENT: (dept,),
                  Scope.GRID_CELLS: tuple(cells)}  # fmt: skip
    found = {}
    for name, role, scope in SPECS:
        if role is None:
            found[name] = Who(name, (), Jurisdiction(Scope.NONE), None)
            continue
        uid = worker if scope is Scope.GRID_CELLS else ids[role]
        found[name] = Who(name, (role,), Jurisdiction(scope, narrow_ids.get(scope, ())), uid)
    yield found
    print(f"\naccess matrix: {len(CELLS)} cells checked for {len(SPECS)} principals")


@pytest.fixture(params=[name for name, _, _ in SPECS])
def who(request: pytest.FixtureRequest, principals: dict[str, Who]) -> Who:
    return principals[request.param]


def _headers(tokens: TokenService, who: Who) -> dict[str, str]:
    if who.user_id is None:
        return {}
    token = tokens.issue_access(who.user_id, who.roles, jurisdiction=who.jurisdiction)
    return {"Authorization": f"Bearer {token}"}


def _scope_sql(who: Who) -> str:
    """The cases a jurisdiction covers, written independently of geo.access."""
    j = who.jurisdiction
    ids = "{" + ",".join(map(str, j.ids)) + "}"
    if j.scope is Scope.CITY:
        return "TRUE"
    if j.scope is Scope.DEPARTMENT:
        # The cases it leads, and those it has a co-handling or joint task on.
        return (f"(c.department_id = ANY('{ids}') OR EXISTS (SELECT 1 FROM case_tasks k "
                f"WHERE k.case_id = c.id AND k.department_id = ANY('{ids}')))")  # fmt: skip
    if j.scope is Scope.GRID_CELLS:
        return f"c.grid_cell_id = ANY('{ids}')"
    if j.scope is Scope.DISTRICT:
        return (
            "c.grid_cell_id IN (SELECT g.id FROM grid_cells g JOIN admin_areas m ON "
            "m.id = g.community_id JOIN admin_areas s ON s.id = m.parent_id "
            f"WHERE s.parent_id = ANY('{ids}'))"
        )
    return "FALSE"


def _expected_cases(db: psycopg.Connection[Any], who: Who) -> tuple[bool, set[int]]:
    """(full view?, the case ids the principal's ``cases`` layer holds)."""
    if who.principal.can(C.READ_CASES):
        rows = db.execute(f"SELECT c.id FROM cases c WHERE {_scope_sql(who)}")
        return True, {r[0] for r in rows}
    return False, {r[0] for r in db.execute("SELECT id FROM cases_public")}


def _public_positions(db: psycopg.Connection[Any]) -> dict[int, tuple[float, float, str]]:
    rows = db.execute(
        "SELECT id, ST_X(geom), ST_Y(geom), to_char(reported_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS') FROM cases_public"
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _cell(who: Who, surface: str, what: str, ok: bool) -> None:
    CELLS.append(f"{who.name} {surface} {what}")
    assert ok, f"{who.name} through {surface}: {what}"


# -- OGC ---------------------------------------------------------------------------------------


def test_ogc_collections_follow_the_policy(client: TestClient, tokens: TokenService,
                                           who: Who) -> None:  # fmt: skip
    r = client.get("/ogc/collections", headers=_headers(tokens, who), params={"f": "json"})
    assert r.status_code == 200
    got = {c["id"] for c in r.json()["collections"]}
    _cell(who, "ogc", "collections", got == set(views_for(who.principal)))
    if not who.principal.can(C.READ_CAMERAS):
        r = client.get("/ogc/collections/cameras/items", headers=_headers(tokens, who))
        _cell(who, "ogc", "cameras closed", r.status_code in (401, 403))


def test_ogc_cases_are_scoped_and_generalised(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], who: Who
) -> None:
    full, expected = _expected_cases(db, who)
    r = client.get("/ogc/collections/cases/items", headers=_headers(tokens, who),
                   params={"limit": 10_000, "f": "json"})  # fmt: skip
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    _cell(who, "ogc", "case ids", {f["id"] for f in features} == expected)
    keys = set().union(*(f["properties"] for f in features)) if features else set()
    if full:
        _cell(who, "ogc", "full case fields", "description" in keys)
        return
    _cell(who, "ogc", "no personal fields", not keys & PERSONAL)
    _cell(who, "ogc", "public columns only", keys <= set(CASES_PUBLIC.columns))
    public = _public_positions(db)
    exact = all(
        math.isclose(f["geometry"]["coordinates"][0], public[f["id"]][0], abs_tol=1e-9)
        and math.isclose(f["geometry"]["coordinates"][1], public[f["id"]][1], abs_tol=1e-9)
        and f["properties"]["reported_at"].startswith(public[f["id"]][2])
        for f in features
    )
    _cell(who, "ogc", "positions and times are the public record", exact)


# -- tiles -------------------------------------------------------------------------------------

Z = 12


def _tile_of(db: psycopg.Connection[Any], case_id: int) -> tuple[int, int]:
    """(x, y) of the z12 tile holding a case: a tile where the principal has something."""
    lon, lat = db.execute("SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE id = %s",
                          (case_id,)).fetchone() or (0.0, 0.0)  # fmt: skip
    x = int((lon + 180) / 360 * (1 << Z))
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * (1 << Z))
    return x, y


def _tile_ids(
    tmp: Path, xy: tuple[int, int], data: bytes, db: psycopg.Connection[Any]
) -> tuple[set[int], set[str]]:
    """The case ids a tile holds (GDAL numbers MVT features itself, so by their public id)."""
    path = tmp / str(Z) / str(xy[0]) / f"{xy[1]}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if not data:
        return set(), set()
    meta, _fids, _geometry, fields = pyogrio.raw.read(path, layer="cases")
    names = list(meta["fields"])
    public_ids = [str(p) for p in fields[names.index("public_id")]]
    rows = db.execute("SELECT id FROM cases WHERE public_id = ANY(%s)", (public_ids,))
    ids = {r[0] for r in rows}
    assert len(ids) == len(set(public_ids))
    return ids, set(names)


def test_case_tiles_are_scoped_and_generalised(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], who: Who,
    tmp_path: Path,
) -> None:  # fmt: skip
    full, expected = _expected_cases(db, who)
    x, y = _tile_of(db, min(expected))
    r = client.get(f"/ogc/collections/cases/tiles/WebMercatorQuad/{Z}/{y}/{x}",
                   headers=_headers(tokens, who))  # fmt: skip
    assert r.status_code in (200, 204), r.text
    ids, fields = _tile_ids(tmp_path, (x, y), r.content, db)
    _cell(who, "tiles", "the tile is not empty", bool(ids))
    _cell(who, "tiles", "case ids within the layer", ids <= expected)
    if not full:
        _cell(who, "tiles", "no personal fields", not fields & PERSONAL)
        sensitive = {r[0] for r in db.execute(
            "SELECT c.id FROM cases c JOIN case_categories k ON k.code = c.category "
            "WHERE k.sensitive")}  # fmt: skip
        _cell(who, "tiles", "no sensitive case", not ids & sensitive)


# -- GraphQL -----------------------------------------------------------------------------------

CASES_Q = "{ cases(first: 1000) { edges { node { id geometry reportedAt } } } }"
DETAIL_Q = "{ cases(first: 5) { edges { node { id description } } } }"


def _gql(client: TestClient, tokens: TokenService, who: Who, query: str) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query}, headers=_headers(tokens, who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_graphql_cases_are_scoped_and_generalised(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], who: Who
) -> None:
    full, expected = _expected_cases(db, who)
    body = _gql(client, tokens, who, CASES_Q)
    nodes = [e["node"] for e in body["data"]["cases"]["edges"]]
    got = {int(n["id"]) for n in nodes}
    _cell(who, "graphql", "case ids", got <= expected and len(got) == min(len(expected), 1000))
    detail = _gql(client, tokens, who, DETAIL_Q)
    _cell(who, "graphql", "description allowed iff read_cases",
          (detail.get("errors") is None) == full)  # fmt: skip
    if not full:
        public = _public_positions(db)
        exact = all(
            math.isclose(n["geometry"]["coordinates"][0], public[int(n["id"])][0], abs_tol=1e-9)
            and math.isclose(n["geometry"]["coordinates"][1], public[int(n["id"])][1],
                             abs_tol=1e-9)
            for n in nodes
        )  # fmt: skip
        _cell(who, "graphql", "positions are the public record", exact)


def test_graphql_cameras_follow_the_policy(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], who: Who
) -> None:
    body = _gql(client, tokens, who, "{ cameras(first: 1000) { edges { node { id } } } }")
    if not who.principal.can(C.READ_CAMERAS):
        _cell(who, "graphql", "cameras closed", body.get("errors") is not None)
        return
    got = {int(e["node"]["id"]) for e in body["data"]["cameras"]["edges"]}
    want = {r[0] for r in db.execute(f"SELECT c.id FROM cameras c WHERE {_scope_sql(who)}")}
    complete = got == want or (got <= want and len(got) == 1000)
    _cell(who, "graphql", "camera ids in jurisdiction", complete)


# -- Open311 and the citizen app's nearby list: public for everyone ---------------------------


def test_open311_and_nearby_give_the_public_record(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], who: Who
) -> None:
    public = _public_positions(db)
    r = client.get("/open311/v2/requests.json", headers=_headers(tokens, who))
    assert r.status_code == 200, r.text
    items = r.json()
    leaked = [i for i in items if i.get("description") or i.get("address")]
    _cell(who, "open311", "no description or address", not leaked)
    by_public = {row[0]: row[1] for row in db.execute("SELECT public_id, id FROM cases_public")}
    exact = all(
        i["service_request_id"] in by_public
        and math.isclose(float(i["long"]), public[by_public[i["service_request_id"]]][0],
                         abs_tol=1e-9)
        and math.isclose(float(i["lat"]), public[by_public[i["service_request_id"]]][1],
                         abs_tol=1e-9)
        for i in items
    )  # fmt: skip
    _cell(who, "open311", "the public record, no sensitive case", exact)


# -- the audit trail: read_audit, not bound to a jurisdiction ---------------------------------


def test_the_audit_trail_follows_the_policy(client: TestClient, tokens: TokenService,
                                            who: Who) -> None:  # fmt: skip
    if who.user_id is None:
        want = 401
    elif who.principal.can(C.READ_AUDIT):
        want = 200
    else:
        want = 403
    for path in ("/api/v1/audit", "/api/v1/audit/export"):
        r = client.get(path, headers=_headers(tokens, who), params={"action": "matrix.none"})
        _cell(who, "citizen api", f"{path} → {want}", r.status_code == want)
