"""Cameras follow the viewer's jurisdiction: a camera elsewhere cannot be opened (nor listed)."""

from __future__ import annotations

from typing import Any

import psycopg
from starlette.testclient import TestClient

from geo.access import Jurisdiction, Principal, Scope
from geo.queries import fetch_sync
from geo.queries.cameras import camera_source
from server.kernel.auth.tokens import TokenService
from tests.webrtc_helpers import recvonly_offer_sync

Conn = psycopg.Connection[Any]
#: The street of each camera: cell → community → street.
STREET_OF = (
    "SELECT c.id, cm.parent_id FROM cameras c JOIN grid_cells g ON g.id = c.grid_cell_id "
    "JOIN admin_areas cm ON cm.id = g.community_id ORDER BY c.id"
)


def streets(db: Conn) -> dict[int, int]:
    return {int(c): int(s) for c, s in db.execute(STREET_OF).fetchall()}


def viewer_id(db: Conn) -> int:
    row = db.execute("SELECT id FROM users WHERE phone = '13800000003'").fetchone()
    assert row is not None
    return int(row[0])


def test_the_scope_is_decided_in_sql(db: Conn) -> None:
    by_street = streets(db)
    camera, street = next(iter(by_street.items()))
    elsewhere = next(c for c, s in by_street.items() if s != street)
    viewer = Principal(1, frozenset({"camera_viewer"}), None, Jurisdiction(Scope.STREET, (street,)))
    here = fetch_sync(db, camera_source(viewer, camera))
    assert here is not None and here.in_scope and here.source
    there = fetch_sync(db, camera_source(viewer, elsewhere))
    assert there is not None and not there.in_scope and there.source == ""
    assert fetch_sync(db, camera_source(viewer, 10**8)) is None
    analyst = Principal(1, frozenset({"analyst"}), None, Jurisdiction(Scope.CITY))
    found = fetch_sync(db, camera_source(analyst, camera))
    assert found is not None and not found.in_scope


def test_a_street_viewer_cannot_open_a_camera_elsewhere(
    client: TestClient, tokens: TokenService, db: Conn, database_url: str
) -> None:
    by_street = streets(db)
    street = next(iter(by_street.values()))
    elsewhere = next(c for c, s in by_street.items() if s != street)
    user = viewer_id(db)
    token = tokens.issue_access(
        user, ["camera_viewer"], jurisdiction=Jurisdiction(Scope.STREET, (street,))
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    r = client.post(
        f"/streams/cameras/{elsewhere}/whep", content=recvonly_offer_sync(), headers=headers
    )
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    with psycopg.connect(database_url) as conn:  # the refusal is committed
        refused = conn.execute(
            "SELECT detail->>'reason' FROM audit_log WHERE action = 'camera.view.refused' "
            "AND actor_id = %s AND object_id = %s",
            (user, str(elsewhere)),
        ).fetchall()
    assert ("jurisdiction",) in refused

    # the camera layer shows the same: only the street's cameras
    listed = client.get(
        "/ogc/collections/cameras/items?limit=10000", headers={"Authorization": f"Bearer {token}"}
    ).json()["features"]
    assert {f["id"] for f in listed} == {c for c, s in by_street.items() if s == street}
