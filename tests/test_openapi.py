"""Both OpenAPI documents, as the app serves them, are valid (openapi-spec-validator), name
each operation once, declare every route and show an example of every request body; the
citizen document's rules are enforced where it is built."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from pydantic import BaseModel
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from mobile_api.contract import PUBLIC, Body, Call, Endpoint
from mobile_api.openapi import ContractError, build
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, user_with_role

METHODS = {"get", "put", "post", "delete", "patch", "options", "head"}
_TEMPLATE = re.compile(r"{[^}]+}")
FEATURE = b'{"type": "Feature", "geometry": null, "properties": {}}'


def _errors(validator: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in validator.iter_errors()]  # fmt: skip


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS]  # fmt: skip


def _operation_ids(doc: dict[str, Any]) -> list[str]:
    return [op["operationId"] for _, _, op in _operations(doc)]


def test_the_citizen_document_as_served_is_valid_openapi_3_1(client: TestClient) -> None:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    assert _errors(OpenAPIV31SpecValidator(doc)) == []
    ids = _operation_ids(doc)
    assert len(ids) == len(set(ids)) and "locatePoint" in ids
    for method, path, op in _operations(doc):
        assert re.fullmatch(r"[a-z][A-Za-z0-9]+", op["operationId"]), (method, path)
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            assert content.get("example"), f"{method} {path} {media}: no example"


def test_the_citizen_document_declares_every_route(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    declared = {(m, p) for m, p, _ in _operations(doc)}
    mount = next(r for r in client.app.routes if isinstance(r, Mount) and r.path == "/api/v1")  # type: ignore[attr-defined]
    served = {(m, r.path) for r in mount.routes if isinstance(r, Route)
              for m in (r.methods or set()) - {"HEAD"}}  # fmt: skip
    assert served - declared == {("GET", "/openapi.json")}
    assert ("GET", "/locate") in declared


@pytest.fixture(scope="module")
def ogc_documents(client: TestClient, tokens: TokenService, database_url: str) -> dict[str, Any]:
    """The document each kind of caller is served: its catalogue differs (cameras, hazard
    sources and full cases for staff; writes for an admin)."""
    docs = {}
    for who in ("public", "dispatcher", "admin"):
        headers = {} if who == "public" else auth(tokens, user_with_role(database_url, who), who)
        r = client.get("/ogc/openapi", params={"f": "json"}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
        docs[who] = r.json()
    return docs


@pytest.mark.parametrize("who", ["public", "dispatcher", "admin"])
def test_the_ogc_document_as_served_is_valid_openapi_3_0(
    ogc_documents: dict[str, Any], who: str
) -> None:
    doc = ogc_documents[who]
    assert doc["openapi"].startswith("3.0")
    assert _errors(OpenAPIV30SpecValidator(doc)) == []
    ids = _operation_ids(doc)
    assert len(ids) == len(set(ids))
    # Enumerated fields are enums (pygeoapi writes its providers' ``values`` as they are).
    params = doc["paths"]["/collections/facilities/items"]["get"]["parameters"]
    category = next(p for p in params if p.get("name") == "category")
    assert "school" in category["schema"]["enum"] and "values" not in category["schema"]


def test_the_ogc_document_declares_every_route(
    client: TestClient, ogc_documents: dict[str, Any], tokens: TokenService, database_url: str
) -> None:
    """Every route of /ogc, for each collection of an admin's catalogue, is in the admin's
    document — but for writes to a collection that takes none, which are refused."""
    doc = ogc_documents["admin"]
    declared = {(m, _TEMPLATE.sub("{}", p)) for m, p, _ in _operations(doc)}
    collections = {p.split("/")[2] for p in doc["paths"] if p.startswith("/collections/")}
    assert {"facilities", "cases", "cameras"} <= collections
    mount = next(r for r in client.app.routes if isinstance(r, Mount) and r.path == "/ogc")  # type: ignore[attr-defined]
    undeclared = []
    for route in mount.routes:
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            for name in collections if "{collection}" in route.path else [""]:
                path = route.path.replace("{collection}", name)
                if (method, _TEMPLATE.sub("{}", path) or "/") not in declared:
                    undeclared.append((method, path))
    assert {(m, p.split("/")[2]) for m, p in undeclared} == {
        (m, c)
        for m in ("POST", "PUT", "DELETE")
        for c in (
            "admin_areas",
            "grid_cells",
            "cases",
            "sensors",
            "roads",
            "buildings",
            "planning_zones",
            "ecological_red_lines",
            "water_pipes",
        )  # catalogue layers
    }
    admin = auth(tokens, user_with_role(database_url, "admin"), "admin")
    for method, path in undeclared:
        url = "/ogc" + path.replace("{item}", "1")
        headers = {**admin, "Content-Type": "application/geo+json"}
        r = client.request(method, url, headers=headers, content=FEATURE)
        assert r.status_code == 405, (method, url, r.status_code, r.text)


def test_ogc_request_bodies_have_examples_the_server_accepts(
    client: TestClient, ogc_documents: dict[str, Any], tokens: TokenService, database_url: str
) -> None:
    """Each write the admin's document declares, sent with its own example, succeeds."""
    doc = ogc_documents["admin"]
    bodies = {(m, p): op["requestBody"]["content"] for m, p, op in _operations(doc)
              if "requestBody" in op}  # fmt: skip
    assert {p.split("/")[2] for _, p in bodies} == {"facilities", "cameras"}
    admin = {**auth(tokens, user_with_role(database_url, "admin"), "admin"),
             "Content-Type": "application/geo+json"}  # fmt: skip
    for (method, path), content in sorted(bodies.items()):
        assert list(content) == ["application/geo+json"], (method, path)
        example = content["application/geo+json"]["example"]
        if method != "POST":
            continue
        created = client.post("/ogc" + path, headers=admin, json=example)
        assert created.status_code == 201, created.text
        item = "/ogc" + created.headers["location"].split("/ogc", 1)[1]
        read = client.get(item, headers=admin).json()  # cameras: internal, staff only
        assert read["properties"]["code"] == example["properties"]["code"]
        replace = bodies[("PUT", path + "/{featureId}")]["application/geo+json"]["example"]
        assert client.put(item, headers=admin, json=replace).status_code == 204
        assert client.delete(item, headers=admin).status_code == 204


# --- the rules, enforced where the document is built ---------------------------------------


class _In(Body):
    n: int


class _Out(BaseModel):
    n: int


async def _handler(call: Call) -> _Out:
    return _Out(n=1)


def _endpoint(path: str, operation_id: str, example: Any = None) -> Endpoint:
    return Endpoint("POST", path, _handler, "Echo", "test", PUBLIC, body=_In, response=_Out,
                    operation_id=operation_id, example=example)  # fmt: skip


def _build(*endpoints: Endpoint) -> dict[str, Any]:
    return build(list(endpoints), title="t", version="1", server="/")


def test_an_operation_id_used_twice_is_refused() -> None:
    with pytest.raises(ContractError, match="more than once: echo"):
        _build(_endpoint("/a", "echo", {"n": 1}), _endpoint("/b", "echo", {"n": 2}))


def test_a_body_without_an_example_or_with_a_wrong_one_is_refused() -> None:
    with pytest.raises(ContractError, match="declare an example"):
        _build(_endpoint("/a", "echo"))
    with pytest.raises(ContractError, match="not a valid _In"):
        _build(_endpoint("/a", "echo", {"n": "many"}))
    doc = _build(_endpoint("/a", "echo", {"n": 1}))
    assert doc["paths"]["/a"]["post"]["requestBody"]["content"]["application/json"]["example"] == {
        "n": 1
    }
