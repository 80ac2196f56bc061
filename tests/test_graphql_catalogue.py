"""The catalogue's GraphQL mutations over HTTP (docs/catalogue.md): a catalogue manager
registers a table, changes its metadata and unregisters it; a bad registration is a typed
error naming what to fix and writes nothing; callers without ``manage_catalogue`` are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.conftest import database_roles
from tests.gql_helpers import operation

REGISTER = """mutation($input: RegisterLayerInput!) {
  registerLayer(input: $input) { id title owner dataClass geometryType keywords
                                 properties { name type } } }"""


@pytest.fixture(scope="module")
def table(database_url: str) -> Iterator[None]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS test_gql_zones; "
            "CREATE TABLE test_gql_zones (id integer PRIMARY KEY, label text, "
            "opened timestamptz, geom geometry(Polygon, 4326)); "
            "INSERT INTO test_gql_zones SELECT i, 'Z' || i, now(), "
            "ST_MakeEnvelope(121.45, 31.2 + i * 0.001, 121.451, 31.2005 + i * 0.001, 4326) "
            "FROM generate_series(1, 4) i"
        )
        conn.execute(f'GRANT SELECT ON test_gql_zones TO "{database_roles().app}"')
    yield
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM catalogue_layers WHERE name LIKE 'test_gql%'")
        conn.execute("SELECT pg_notify('onemap_catalogue', '{}')")  # every server reloads
        conn.execute("DROP TABLE test_gql_zones")


def _post(client: TestClient, query: str, token: str | None, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/graphql", json={"query": query, "variables": variables},
                       headers=headers).json()  # fmt: skip


def _input(**changes: Any) -> dict[str, Any]:
    return {"name": "test_gql_zones", "relation": "test_gql_zones", "title": "Zones",
            "owner": "housing", "dataClass": "internal", "licence": "Internal use only",
            "keywords": ["zones"], **changes}  # fmt: skip


def test_a_manager_registers_updates_and_unregisters_a_layer(
    client: TestClient, tokens: TokenService, table: None
) -> None:
    admin = tokens.issue_access(9201, ["admin"])
    done = _post(client, REGISTER, admin, input=_input())
    assert "errors" not in done, done
    layer = done["data"]["registerLayer"]
    assert layer["id"] == "test_gql_zones" and layer["geometryType"] == "Polygon"
    assert {p["name"]: p["type"] for p in layer["properties"]} == {
        "label": "string", "opened": "datetime"}  # fmt: skip
    staff = tokens.issue_access(9202, ["analyst"])
    page = _post(client, '{ layerFeatures(layer: "test_gql_zones") '
                 "{ features { id properties } numberMatched } }", staff)  # fmt: skip
    assert page["data"]["layerFeatures"]["numberMatched"] == 4
    anonymous = client.get("/ogc/collections/test_gql_zones/items")
    assert anonymous.status_code == 401
    changed = _post(client, 'mutation { updateLayer(id: "test_gql_zones", input: '
                    '{dataClass: "public", title: "Zones (public)"}) { title dataClass } }',
                    admin)  # fmt: skip
    assert changed["data"]["updateLayer"] == {"title": "Zones (public)", "dataClass": "public"}
    assert client.get("/ogc/collections/test_gql_zones/items").json()["numberMatched"] == 4
    gone = _post(client, 'mutation { unregisterLayer(id: "test_gql_zones") }', admin)
    assert gone["data"]["unregisterLayer"] == "test_gql_zones"
    assert client.get("/ogc/collections/test_gql_zones").status_code == 404


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"relation": "nowhere.test_gql_zones"}, "there is no table or view"),
        ({"name": "facilities"}, "built-in layer"),
        ({"name": "Bad Name"}, "must be 2 to 63 characters"),
        ({"dataClass": "secret"}, "data class must be one of"),
        ({"owner": "no_such_department"}, "no department with code"),
        ({"columns": ["label", "nope"]}, "no publishable column nope"),
    ],
)  # fmt: skip
def test_a_bad_registration_is_a_typed_error_and_writes_nothing(
    client: TestClient, tokens: TokenService, table: None, database_url: str,
    changes: dict[str, Any], message: str,
) -> None:  # fmt: skip
    done = _post(client, REGISTER, tokens.issue_access(9201, ["admin"]), input=_input(**changes))
    error = done["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM catalogue_layers WHERE name = %s",
                           (changes.get("name", "test_gql_zones"),)).fetchone()  # fmt: skip
    assert row == (0,)


@pytest.mark.parametrize(("roles", "code"), [(None, "UNAUTHENTICATED"),
                                             (["analyst"], "FORBIDDEN")])  # fmt: skip
def test_only_catalogue_managers_register(
    client: TestClient, tokens: TokenService, table: None, roles: list[str] | None, code: str
) -> None:
    token = tokens.issue_access(9203, roles) if roles else None
    done = _post(client, REGISTER, token, input=_input(name="test_gql_other"))
    assert done["errors"][0]["extensions"]["code"] == code


def test_the_operation_documents_read_the_demo_layers(
    client: TestClient, tokens: TokenService
) -> None:
    doc = operation("catalogue")
    listed = client.post("/graphql", json={"query": doc, "operationName": "CatalogueLayers"})
    layers = {x["id"]: x for x in listed.json()["data"]["catalogueLayers"]}
    zones = layers["planning_zones"]
    assert zones["owner"] == "planning_resources" and zones["dataClass"] == "public"
    assert "synthetic" in zones["description"].lower()
    assert "water_pipes" not in layers
    token = tokens.issue_access(9204, ["department_staff"])
    page = client.post(
        "/graphql",
        json={"query": doc, "operationName": "LayerFeatures",
              "variables": {"layer": "water_pipes", "first": 3,
                            "filter": "material = 'steel' AND diameter_mm >= 150"}},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["data"]["layerFeatures"]  # fmt: skip
    assert len(page["features"]) == 3 and page["hasNextPage"]
    for feature in page["features"]:
        assert feature["geometry"]["type"] == "LineString"
        assert feature["properties"]["material"] == "steel"
