"""The app skeleton from the outside: probes, problem+json errors, the locate endpoint."""

from __future__ import annotations

from typing import Any

import psycopg
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from geo import migrate
from server.app import create_app
from tests.conftest import settings_for, sqlalchemy_url


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_when_ready(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["migrations"] == migrate.head_revision()
    assert body["checks"]["postgis"].startswith("3.")


def test_readyz_names_the_reason_when_migrations_are_behind(empty_database_url: str) -> None:
    with TestClient(create_app(settings_for(empty_database_url))) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.headers["retry-after"]
    body = r.json()
    assert body["status"] == "not_ready"
    assert "onemap migrate" in body["reason"]
    assert body["checks"]["migrations"] == "none"


def test_readyz_reports_a_migration_partly_undone(empty_database_url: str) -> None:
    migrate.upgrade(sqlalchemy_url(empty_database_url))
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    with TestClient(create_app(settings_for(empty_database_url))) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert "0000" in r.json()["reason"]


def test_unknown_route_is_a_problem_json_404(client: TestClient) -> None:
    r = client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404
    assert "/no/such/thing" in body["detail"]
    assert body["type"].startswith("urn:onemap:problem:")


def test_wrong_method_is_a_problem_json_405(client: TestClient) -> None:
    r = client.post("/healthz")
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"


def test_an_unhandled_error_is_a_500_problem_without_internals(settings: Any) -> None:
    async def boom(request: Request) -> None:
        raise RuntimeError("secret internal detail")

    app = create_app(settings)
    app.router.routes.append(Route("/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret" not in r.text
    assert "Traceback" not in r.text


def test_locate_a_point(client: TestClient, db: psycopg.Connection[Any]) -> None:
    row = db.execute(
        "SELECT ST_X(geom), ST_Y(geom), grid_cell_id FROM cameras ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    r = client.get("/api/v1/locate", params={"lon": row[0], "lat": row[1]})
    assert r.status_code == 200
    body = r.json()
    assert body["grid_cell"]["id"] == row[2]
    assert body["district"]["name_zh"].endswith("区")
    assert body["grid_worker"]["name"]
    assert "phone" not in r.text  # personal data stays out of public answers


def test_locate_outside_the_city_is_a_clear_422(client: TestClient) -> None:
    r = client.get("/api/v1/locate", params={"lon": 120.0, "lat": 30.0})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:onemap:problem:outside_city"
    assert "outside the city" in body["detail"]


def test_locate_bad_input_is_a_400_with_the_reason(client: TestClient) -> None:
    for params, reason in [
        ({"lon": "121.5"}, "'lat' is required"),
        ({"lon": "east", "lat": "31"}, "must be a number"),
        ({"lon": "121.5", "lat": "91"}, "latitude"),
        ({"lon": "inf", "lat": "31"}, "finite"),
    ]:
        r = client.get("/api/v1/locate", params=params)
        assert r.status_code == 400, params
        assert reason in r.json()["detail"]
