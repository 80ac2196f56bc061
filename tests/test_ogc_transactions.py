"""OGC API - Features Part 4 on facilities and cameras: admin only, checked, audited."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService

GEOJSON = {"Content-Type": "application/geo+json"}
INSIDE = [121.4737, 31.2304]  # People's Square, well inside the demo city


def admin(tokens: TokenService) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.issue_access(1, ["admin"])} | GEOJSON


def facility(code: str, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": INSIDE},
            "properties": {"code": code, "category": "shelter", "name_zh": "测试避难所",
                           "name_en": "Test shelter", "capacity": 300} | props}  # fmt: skip


def test_anonymous_and_non_admin_writes_are_refused(
    client: TestClient, tokens: TokenService
) -> None:
    body = json.dumps(facility("T-" + uuid.uuid4().hex[:8]))
    r = client.post("/ogc/collections/facilities/items", content=body, headers=GEOJSON)
    assert r.status_code == 401 and r.json()["code"] == "NotAuthorized"
    staff = {"Authorization": "Bearer " + tokens.issue_access(2, ["dispatcher"])} | GEOJSON
    r = client.post("/ogc/collections/facilities/items", content=body, headers=staff)
    assert r.status_code == 403
    assert client.delete("/ogc/collections/facilities/items/1", headers=staff).status_code == 403
    r = client.post("/ogc/collections/grid_cells/items", content=body, headers=admin(tokens))
    assert r.status_code == 405


def test_create_replace_delete_a_facility(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any]
) -> None:
    code = "T-" + uuid.uuid4().hex[:8]
    r = client.post("/ogc/collections/facilities/items", content=json.dumps(facility(code)),
                    headers=admin(tokens))  # fmt: skip
    assert r.status_code == 201, r.text
    location = r.headers["location"]
    path = location.split("127.0.0.1:8000", 1)[1]
    got = client.get(path).json()
    assert got["properties"]["code"] == code and got["properties"]["grid_cell_id"] > 0
    assert got["geometry"]["coordinates"] == pytest.approx(INSIDE)

    r = client.put(path, content=json.dumps(facility(code, capacity=450, name_en="Renamed")),
                   headers=admin(tokens))  # fmt: skip
    assert r.status_code == 204, r.text
    assert client.get(path).json()["properties"]["capacity"] == 450

    fid = int(path.rsplit("/", 1)[1])
    actions = [
        row[0]
        for row in db.execute(
            "SELECT action FROM audit_log WHERE object_type = 'facility' AND object_id = %s "
            "ORDER BY id",
            (str(fid),),
        )
    ]
    assert actions == ["facility.create", "facility.replace"]

    assert client.delete(path, headers=admin(tokens)).status_code == 204
    assert client.get(path).status_code == 404
    assert client.delete(path, headers=admin(tokens)).status_code == 404


def test_duplicate_code_is_a_conflict(client: TestClient, tokens: TokenService) -> None:
    code = "T-" + uuid.uuid4().hex[:8]
    first = client.post("/ogc/collections/facilities/items", content=json.dumps(facility(code)),
                        headers=admin(tokens))  # fmt: skip
    again = client.post("/ogc/collections/facilities/items", content=json.dumps(facility(code)),
                        headers=admin(tokens))  # fmt: skip
    assert again.status_code == 409
    client.delete(first.headers["location"].split("127.0.0.1:8000", 1)[1], headers=admin(tokens))


BAD_FEATURES = {
    "not json": "{nope",
    "not a feature": json.dumps({"type": "Point", "coordinates": INSIDE}),
    "a line": json.dumps(facility("X") | {"geometry": {"type": "LineString",
                                                       "coordinates": [INSIDE, INSIDE]}}),
    "outside the city": json.dumps(facility("X") | {"geometry": {"type": "Point",
                                                                 "coordinates": [2.35, 48.85]}}),
    "latitude above 90": json.dumps(facility("X") | {"geometry": {"type": "Point",
                                                                  "coordinates": [121.4, 95]}}),
    "another crs": json.dumps(facility("X") | {"crs": {"type": "name", "properties":
                                                        {"name": "EPSG:3857"}}}),
    "missing name": json.dumps(facility("X", name_zh=None)),
    "bad category": json.dumps(facility("X", category="volcano")),
    "negative capacity": json.dumps(facility("X", capacity=-1)),
    "string capacity": json.dumps(facility("X", capacity="many")),
    "unknown property": json.dumps(facility("X", colour="red")),
}  # fmt: skip


@pytest.mark.parametrize("body", list(BAD_FEATURES.values()), ids=list(BAD_FEATURES))
def test_bad_features_are_4xx_with_the_reason(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], body: str
) -> None:
    """400, or 422 for a place outside the city — the same status as every other surface."""
    before = db.execute("SELECT count(*) FROM facilities").fetchone()
    r = client.post("/ogc/collections/facilities/items", content=body, headers=admin(tokens))
    outside = body == BAD_FEATURES["outside the city"]
    assert r.status_code == (422 if outside else 400), r.text
    assert r.json()["code"] == "InvalidParameterValue" and r.json()["description"]
    assert db.execute("SELECT count(*) FROM facilities").fetchone() == before


def test_camera_source_is_write_only(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any]
) -> None:
    code = "TC-" + uuid.uuid4().hex[:6]
    camera = {"type": "Feature", "geometry": {"type": "Point", "coordinates": INSIDE},
              "properties": {"code": code, "name": "测试摄像头", "heading": 90, "fov": 60,
                             "status": "online", "source": "rtsp://10.0.0.1/secret"}}  # fmt: skip
    r = client.post(
        "/ogc/collections/cameras/items", content=json.dumps(camera), headers=admin(tokens)
    )
    assert r.status_code == 201, r.text
    path = r.headers["location"].split("127.0.0.1:8000", 1)[1]
    shown = client.get(path, headers=admin(tokens))
    assert "source" not in shown.json()["properties"] and "secret" not in shown.text
    del camera["properties"]["source"]  # type: ignore[attr-defined]
    camera["properties"]["heading"] = 180  # type: ignore[index]
    assert client.put(path, content=json.dumps(camera), headers=admin(tokens)).status_code == 204
    cid = int(path.rsplit("/", 1)[1])
    row = db.execute("SELECT heading, source FROM cameras WHERE id = %s", (cid,)).fetchone()
    assert row == (180, "rtsp://10.0.0.1/secret")
    assert client.delete(path, headers=admin(tokens)).status_code == 204
