"""The map view's server side: the page and its headers, the build check, the GraphQL documents
it fetches (and their execution), and its vocabulary against the database."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.enums import CameraStatus
from geo.services.cameras_status import set_status
from server.kernel.auth.tokens import TokenService
from server.mapview import routes as mapview
from tests.gql_helpers import OPERATIONS, operation

STATIC = mapview.STATIC
PROTOCOL = "graphql-transport-ws"
MAP_VIEW = operation("map_view")


def _dispatcher(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE phone = '13800000006'").fetchone()
    assert row is not None
    return int(row[0])


def test_the_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    for rule in ("default-src 'none'", "script-src 'self'", "connect-src 'self'",
                 "frame-ancestors 'self'"):  # fmt: skip
        assert rule in csp
    assert "unsafe" not in csp and "http" not in csp  # nothing inline, nothing from elsewhere
    for src in re.findall(r'(?:src|href)="(/[^"]+)"', r.text):
        assert client.get(src).status_code == 200, src


def test_the_vendored_libraries_are_pinned_and_licensed(client: TestClient) -> None:
    package = json.loads((mapview.HERE.parent.parent / "web" / "package.json").read_text())
    versions = json.loads(client.get("/mapview/static/vendor/versions.json").text)
    # what is served is what package.json pins (the API reference's Swagger UI: its own folder)
    assert versions.items() <= package["dependencies"].items() and len(versions) == 2
    for version in package["dependencies"].values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin exact versions"
    for name in versions:
        licence = client.get(f"/mapview/static/vendor/{name}/LICENSE")
        assert licence.status_code == 200 and "Copyright" in licence.text
    js = client.get("/mapview/static/vendor/maplibre-gl/maplibre-gl.mjs")
    assert js.headers["content-type"].startswith("text/javascript")


def test_without_the_build_step_the_page_says_what_to_run(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(mapview, "VENDOR", tmp_path / "vendor")
    r = client.get("/")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "npm ci --prefix web && node web/copy.mjs" in r.json()["detail"]


def test_the_page_fetches_the_contract_documents_as_they_are(client: TestClient) -> None:
    for path in sorted(OPERATIONS.glob("*.graphql")):
        r = client.get(f"/mapview/operations/{path.name}")
        assert r.status_code == 200 and r.text == path.read_text(encoding="utf-8")
    for bad in ("nothing.graphql", "..%2Fschema.graphql", "map_view.txt", "%2Fetc%2Fpasswd"):
        r = client.get(f"/mapview/operations/{bad}")
        assert r.status_code == 404, bad
        assert r.headers["content-type"] == "application/problem+json"
    # Every document the page's code names exists.
    named = set()
    for js in STATIC.glob("*.js"):
        named |= set(re.findall(r'"([a-z_]+\.graphql)"', js.read_text(encoding="utf-8")))
    assert named and all((OPERATIONS / n).is_file() for n in named), named


def _js_keys(table: str) -> set[str]:
    """The codes of a table in static/vocab.js (``code: [zh, en, …]`` entries)."""
    text = (STATIC / "vocab.js").read_text(encoding="utf-8")
    body = re.search(rf"export const {table} = \{{(.*?)\n\}};", text, re.S)
    assert body is not None, table
    return set(re.findall(r"\b([a-z_]+): \[", body.group(1)))


def test_every_code_in_the_database_has_a_name_on_the_map(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        categories = {r[0] for r in conn.execute("SELECT code FROM case_categories")}
        facility_kinds = {r[0] for r in conn.execute("SELECT DISTINCT category FROM facilities")}
    assert categories <= _js_keys("CASE_CATEGORIES"), categories - _js_keys("CASE_CATEGORIES")
    assert facility_kinds <= _js_keys("FACILITY_CATEGORIES")
    assert {s.value for s in CameraStatus} == _js_keys("CAMERA_STATUSES")


def _gql(client: TestClient, op: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/graphql", json={"query": MAP_VIEW, "operationName": op}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_map_view_queries(client: TestClient, tokens: TokenService, database_url: str) -> None:
    dispatcher = _dispatcher(database_url)
    me = _gql(client, "MapMe", tokens.issue_access(dispatcher, ["dispatcher"]))["data"]["me"]
    assert me["id"] == str(dispatcher) and me["roles"] == ["dispatcher"] and me["displayName"]
    assert _gql(client, "MapMe")["data"]["me"] is None  # logged out: nobody

    labels = _gql(client, "MapAreaLabels")["data"]["adminAreas"]["nodes"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM admin_areas").fetchone()
    assert row is not None and len(labels) == row[0]  # every area gets its label
    assert {a["level"] for a in labels} == {"DISTRICT", "STREET", "COMMUNITY"}
    assert all(a["geometry"]["type"] in ("Polygon", "MultiPolygon") for a in labels)


def _subscribe(ws: Any, token: str, op: str) -> None:
    ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json({"id": "1", "type": "subscribe",
                  "payload": {"query": MAP_VIEW, "operationName": op}})  # fmt: skip
    time.sleep(0.3)  # the subscription is listening before the event is made


def test_map_view_case_events(client: TestClient, tokens: TokenService, database_url: str) -> None:
    token = tokens.issue_access(_dispatcher(database_url), ["dispatcher"])
    create = operation("dispatch_flow")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        _subscribe(ws, token, "MapCaseEvents")
        variables = {"input": {"category": "noise", "lon": 121.47, "lat": 31.23}}
        body = {"query": create, "operationName": "CreateCase", "variables": variables}
        r = client.post("/graphql", headers={"Authorization": f"Bearer {token}"}, json=body)
        created = r.json()["data"]["createCase"]["case"]
        message = ws.receive_json()
        assert message["type"] == "next", message
        notice = message["payload"]["data"]["caseEvents"]
        assert notice["case"]["id"] == created["id"] and notice["case"]["category"] == "noise"
        assert notice["case"]["geometry"] == {"type": "Point", "coordinates": [121.47, 31.23]}
        assert notice["event"]["eventType"] == "REPORTED" and notice["event"]["toStatus"]
        ws.send_json({"id": "1", "type": "complete"})


async def _set(database_url: str, camera_id: int, status: CameraStatus) -> CameraStatus:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return (await set_status(conn, camera_id, status)).previous


def test_map_view_camera_status(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    token = tokens.issue_access(_dispatcher(database_url), ["dispatcher"])
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id, status FROM cameras ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None
    camera_id, status = int(row[0]), CameraStatus(row[1])
    other = CameraStatus.OFFLINE if status != CameraStatus.OFFLINE else CameraStatus.ONLINE
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        _subscribe(ws, token, "MapCameraStatus")
        try:
            asyncio.run(_set(database_url, camera_id, other))
            message = ws.receive_json()
        finally:
            asyncio.run(_set(database_url, camera_id, status))
        assert message["type"] == "next", message
        notice = message["payload"]["data"]["cameraStatus"]
        assert notice["cameraId"] == str(camera_id) and notice["status"] == other.name
        ws.send_json({"id": "1", "type": "complete"})
