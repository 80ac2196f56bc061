"""The citizen API's contract: the committed OpenAPI document is the generated one, every
route is in it, the access matrix (each role × each endpoint, from what each role's users may
do), forged tokens, problem+json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from geo.enums import Role
from mobile_api.api import document, dump
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, user_with_role
from tests.test_auth_tokens import ATTACKS, _attacks

COMMITTED = Path(__file__).resolve().parent.parent / "mobile_api" / "openapi.json"
EVERYONE = "public"
ANY = "any logged-in user"
CITIZEN = {"citizen"}
OFFICER = {"health_officer", "admin"}
DEPARTMENT = {"department_staff", "admin"}
PHOTO_READERS = {"grid_worker", "dispatcher", "department_staff", "supervisor", "admin"}
CHECKERS = {"grid_worker", "supervisor", "admin"}  # check_on_site: the on-site check's photos
EVALUATORS = {"dispatcher", "department_staff", "analyst", "supervisor", "admin"}
WARNERS = {"warning_officer", "admin"}
PLAN_READERS = {"dispatcher", "department_staff", "analyst", "supervisor", "plan_manager",
                "warning_officer", "admin"}  # fmt: skip

#: Who may call what — written out here, independently of the code's declarations.
MATRIX: dict[str, str | set[str]] = {
    "POST /auth/otp": EVERYONE, "POST /auth/token": EVERYONE, "POST /auth/refresh": EVERYONE,
    "POST /auth/logout": EVERYONE, "GET /me": ANY,
    "POST /reports": CITIZEN, "GET /reports": CITIZEN, "GET /reports/nearby": ANY,
    "GET /reports/{id}": CITIZEN, "PUT /reports/{id}/link": CITIZEN,
    "PUT /reports/{id}/rating": CITIZEN,
    "GET /reports/{id}/photos/{photo_id}": CITIZEN | PHOTO_READERS,
    "GET /me/health-code": CITIZEN, "GET /me/health-code/history": CITIZEN,
    "POST /me/health-code/appeals": CITIZEN, "GET /me/health-code/appeals": CITIZEN,
    "POST /me/declarations": CITIZEN, "POST /me/checkins": CITIZEN,
    "GET /health-codes/rules": EVERYONE,
    "POST /health-codes/verify": {"verifier", "health_officer", "admin"},
    "POST /health/test-results": OFFICER, "POST /health/risk-cells": OFFICER,
    "GET /health/appeals": OFFICER, "POST /health/appeals/{id}/decision": OFFICER,
    "GET /services": EVERYONE, "GET /services/{code}": EVERYONE,
    "POST /attachments": CITIZEN, "POST /applications": CITIZEN, "GET /applications": CITIZEN,
    "GET /applications/{id}": CITIZEN, "POST /applications/{id}/supplement": CITIZEN,
    "PUT /applications/{id}/rating": CITIZEN,
    "GET /staff/applications": DEPARTMENT, "GET /staff/applications/{id}": DEPARTMENT,
    "POST /staff/applications/{id}/actions": DEPARTMENT,
    "POST /staff/cases/{id}/photos": CHECKERS,
    "GET /me/notifications": CITIZEN, "PUT /me/notifications/read": CITIZEN,
    "GET /audit": {"auditor", "admin"}, "GET /audit/export": {"auditor", "admin"},
    # departments' API keys (manage_api_keys, docs/open-data.md)
    "GET /admin/api-keys": {"admin"}, "POST /admin/api-keys": {"admin"},
    "POST /admin/api-keys/{id}/revoke": {"admin"}, "GET /admin/api-keys/usage": {"admin"},
    "GET /locate": EVERYONE, "GET /search": EVERYONE, "GET /evaluation": EVALUATORS,
    "GET /warnings": CITIZEN, "GET /warnings/active": EVERYONE, "POST /warnings": WARNERS,
    "POST /warnings/{identifier}/update": WARNERS, "POST /warnings/{identifier}/cancel": WARNERS,
    "GET /push-subscriptions/key": EVERYONE, "POST /push-subscriptions": CITIZEN,
    "DELETE /push-subscriptions": CITIZEN,
    "GET /incidents/{id}/report": PLAN_READERS,
    "GET /geocode": EVERYONE, "GET /reverse-geocode": EVERYONE,
}  # fmt: skip
ROLES = [r.value for r in Role]


def test_the_committed_openapi_document_is_the_generated_one() -> None:
    assert json.loads(COMMITTED.read_text()) == document(), (
        "mobile_api/openapi.json is stale: python -m mobile_api.api > mobile_api/openapi.json"
    )
    assert COMMITTED.read_text() == dump()


def test_the_served_document_is_openapi_3_1_and_covers_every_route(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0" and doc == document()
    operations = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
    assert operations == set(MATRIX)
    mount = next(r for r in client.app.routes if isinstance(r, Mount) and r.path == "/api/v1")  # type: ignore[attr-defined]
    served = {f"{m} {r.path}" for r in mount.routes if isinstance(r, Route)
              for m in (r.methods or set()) - {"HEAD"}}  # fmt: skip
    assert served - operations == {"GET /openapi.json"}


def _call(client: TestClient, operation: str, headers: dict[str, str]) -> int:
    method, path = operation.split(" ", 1)
    url = "/api/v1" + path.replace("{id}", "x1").replace("{code}", "x1").replace("{photo_id}", "1")
    url = url.replace("{identifier}", "x1")
    return client.request(method, url, headers=headers).status_code


@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_rbac_matrix(
    client: TestClient, tokens: TokenService, database_url: str, operation: str
) -> None:
    allowed = MATRIX[operation]
    anonymous = _call(client, operation, {})
    assert anonymous < 500
    if allowed != EVERYONE:
        assert anonymous == 401, operation
    for role in ROLES:
        status = _call(client, operation, auth(tokens, user_with_role(database_url, role), role))
        assert status < 500, (operation, role, status)
        if allowed in (EVERYONE, ANY) or role in allowed:
            assert status not in (401, 403), (operation, role, status)
        else:
            assert status == 403, (operation, role, status)


@pytest.mark.parametrize("attack", ATTACKS)
def test_forged_tokens_are_refused_by_the_citizen_api(
    client: TestClient, tokens: TokenService, attack: str
) -> None:
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {_attacks(tokens)[attack]}"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json"


def test_an_access_token_is_not_a_health_code(client: TestClient, tokens: TokenService,
                                             database_url: str) -> None:  # fmt: skip
    verifier = auth(tokens, user_with_role(database_url, "verifier"), "verifier")
    access = tokens.issue_access(1, ["citizen"])
    r = client.post("/api/v1/health-codes/verify", headers=verifier, json={"token": access})
    assert r.status_code == 200 and r.json()["valid"] is False


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "type_"),
    [("POST", "/auth/otp", {"content": b"{", "headers": {"content-type": "application/json"}},
      400, "invalid_input"),
     ("POST", "/auth/otp", {"content": b"phone=1", "headers": {
         "content-type": "application/x-www-form-urlencoded"}}, 415, "unsupported_media_type"),
     ("POST", "/auth/otp", {"content": b"{" + b" " * 70_000 + b"}", "headers": {
         "content-type": "application/json"}}, 413, "too_large"),
     ("GET", "/nowhere", {}, 404, "not_found"),
     ("DELETE", "/services", {}, 405, "method_not_allowed"),
     ("GET", "/reports/nearby?lon=x&lat=1&category=a", {}, 400, "invalid_input"),
     ("GET", "/services?q=" + "x" * 60, {}, 400, "invalid_input")],
)  # fmt: skip
def test_errors_are_problem_json_with_a_stable_type(
    client: TestClient, tokens: TokenService, method: str, path: str,
    kwargs: dict[str, object], status: int, type_: str,
) -> None:  # fmt: skip
    headers = {**auth(tokens, 1, "citizen"), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    r = client.request(method, "/api/v1" + path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"urn:onemap:problem:{type_}" and r.json()["detail"]
