"""The access matrix, continued for what is personal or live: a citizen's report photo, the
``caseEvents`` subscription and a camera's video, for every principal of ``SPECS`` plus a second
citizen. Expected answers come from the policy's capabilities and from SQL on the tables."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from PIL import Image
from starlette.testclient import TestClient
from websockets.sync.client import ClientConnection, connect

from geo.access import Capability, Scope
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation
from tests.running_server import running_server
from tests.test_access_matrix import (
    SPECS,
    Who,
    _cell,
    _headers,
    _one,
    _scope_sql,
    principals,
)
from tests.webrtc_helpers import recvonly_offer_sync

__all__ = ["principals"]  # the fixture, shared with the first half of the matrix
C = Capability
WHO = [name for name, _, _ in SPECS] + ["second_citizen"]


@pytest.fixture(params=WHO)
def who(request: pytest.FixtureRequest, principals: dict[str, Who], database_url: str) -> Who:
    if request.param == "second_citizen":
        with psycopg.connect(database_url) as conn:
            uid = _one(conn, "SELECT id FROM users WHERE phone = '13700000002'")
        return Who("second_citizen", ("citizen",), principals["citizen"].jurisdiction, uid)
    return principals[request.param]


def _in_scope(db: psycopg.Connection[Any], who: Who, table: str, row_id: int) -> bool:
    query = f"SELECT count(*) FROM {table} c WHERE c.id = %s AND {_scope_sql(who)}"
    return bool(_one(db, query, row_id))


# -- a report photo ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo(client: TestClient, tokens: TokenService, principals: dict[str, Who],
          database_url: str) -> tuple[str, int]:  # fmt: skip
    """The first citizen's report with a photo, in the first district: (photo URL, case id)."""
    owner = principals["citizen"]
    district = principals["dispatcher@district"].jurisdiction.ids[0]
    with psycopg.connect(database_url) as conn:
        lon, lat = conn.execute(
            "SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) "
            "FROM grid_cells g JOIN admin_areas m ON m.id = g.community_id "
            "JOIN admin_areas s ON s.id = m.parent_id WHERE s.parent_id = %s ORDER BY g.id "
            "LIMIT 1", (district,)).fetchone() or (0.0, 0.0)  # fmt: skip
    png = io.BytesIO()
    Image.new("RGB", (32, 24), (0, 90, 200)).save(png, "PNG")
    r = client.post(
        "/api/v1/reports",
        headers={**_headers(tokens, owner), "Idempotency-Key": uuid.uuid4().hex},
        data={"category": "road_damage", "description": "路面坑洼", "lon": str(lon),
              "lat": str(lat)},
        files=[("photos", ("a.png", png.getvalue(), "image/png"))],
    )  # fmt: skip
    assert r.status_code == 201, r.text
    report = r.json()
    with psycopg.connect(database_url) as conn:
        case_id = _one(conn, "SELECT id FROM cases WHERE public_id = %s", report["id"])
    return report["photos"][0]["url"], case_id


def test_a_report_photo_follows_the_policy(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], who: Who,
    photo: tuple[str, int],
) -> None:  # fmt: skip
    url, case_id = photo
    status = client.get(url, headers=_headers(tokens, who)).status_code
    if who.user_id is None:
        want = 401
    elif who.name == "citizen":
        want = 200  # the reporter
    elif who.principal.is_citizen:
        want = 404  # another citizen: not even whether it exists
    elif not who.principal.can(C.READ_PHOTOS):
        want = 403
    else:
        want = 200 if _in_scope(db, who, "cases", case_id) else 404
    _cell(who, "citizen api", f"report photo → {want}", status == want)


# -- the caseEvents subscription ---------------------------------------------------------------

SUBSCRIBE = "subscription { caseEvents { case { id } event { eventType } } }"
CREATE = operation("dispatch_flow")
PROTOCOL = "graphql-transport-ws"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base.removeprefix("http://")


def _subscribe(ws: ClientConnection, headers: dict[str, str]) -> None:
    ws.send(json.dumps({"type": "connection_init", "payload": headers}))
    assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
    ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))


def _received(ws: ClientConnection, wait_s: float) -> list[dict[str, Any]]:
    got = []
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return got


def test_case_events_follow_the_policy(
    server: str, client: TestClient, tokens: TokenService, db: psycopg.Connection[Any],
    principals: dict[str, Who], photo: tuple[str, int], who: Who,
) -> None:  # fmt: skip
    """A case made in the first district (where the photo's case is) reaches exactly the
    principals who may read it in full."""
    _url, near = photo
    lon, lat = db.execute("SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE id = %s",
                          (near,)).fetchone() or (0.0, 0.0)  # fmt: skip
    made = {"input": {"category": "street_light", "lon": lon, "lat": lat}}
    city = _headers(tokens, principals["dispatcher@city"])
    url = f"ws://{server}/graphql"
    with connect(url, subprotocols=[PROTOCOL], open_timeout=10) as ws:  # type: ignore[list-item]
        _subscribe(ws, _headers(tokens, who))
        time.sleep(0.3)
        r = client.post("/graphql", headers=city, json={
            "query": CREATE, "operationName": "CreateCase", "variables": made})  # fmt: skip
        payload = r.json()["data"]["createCase"]
        assert payload["__typename"] == "CasePayload", payload
        case_id = int(payload["case"]["id"])
        messages = _received(ws, 2.0)
    events = [m for m in messages if m["type"] == "next" and (m["payload"].get("data") or {})]
    errors = [m for m in messages if m["type"] == "error" or (m.get("payload") or {}).get("errors")]
    mine = [e for e in events if e["payload"]["data"]["caseEvents"]["case"]["id"] == str(case_id)]
    if not who.principal.can(C.READ_CASES):
        _cell(who, "graphql subscription", "refused", bool(errors) and not events)
    else:
        want = _in_scope(db, who, "cases", case_id)
        _cell(who, "graphql subscription", f"event delivered = {want}", bool(mine) == want)
        _cell(who, "graphql subscription", "nothing outside the jurisdiction",
              all(_in_scope(db, who, "cases", int(e["payload"]["data"]["caseEvents"]["case"]
                                                  ["id"])) for e in events))  # fmt: skip


# -- a camera's video --------------------------------------------------------------------------


def test_a_camera_stream_follows_the_policy(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], who: Who,
    principals: dict[str, Who],
) -> None:  # fmt: skip
    """A camera inside the first district: its city-wide and district viewers get video,
    everyone else a refusal that says nothing about the camera."""
    district = principals["dispatcher@district"].jurisdiction.ids[0]
    camera = _one(
        db,
        "SELECT c.id FROM cameras c JOIN grid_cells g ON g.id = c.grid_cell_id "
        "JOIN admin_areas m ON m.id = g.community_id JOIN admin_areas s ON s.id = m.parent_id "
        "WHERE s.parent_id = %s ORDER BY c.id LIMIT 1",
        district,
    )
    headers = {**_headers(tokens, who), "Content-Type": "application/sdp"}
    r = client.post(
        f"/streams/cameras/{camera}/whep", content=recvonly_offer_sync(), headers=headers
    )
    if who.user_id is None:
        want = 401
    elif not who.principal.can(C.WATCH_VIDEO):
        want = 403
    elif who.jurisdiction.scope in (Scope.CITY, Scope.DISTRICT):
        want = 201 if _in_scope(db, who, "cameras", camera) else 404
    else:
        want = 404
    if r.status_code == 201:
        client.delete(r.headers["location"], headers=headers)
    _cell(who, "streams", f"WHEP → {want}", r.status_code == want)
