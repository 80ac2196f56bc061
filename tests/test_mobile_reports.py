"""Citizen reports (随手拍) from the outside: photos cleaned, idempotent retries, routing,
duplicates nearby (the public record only), my reports (mine only), links, ratings, who may see
photos (the reporter, staff within their jurisdiction)."""

from __future__ import annotations

import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import anyio
import psycopg
import pytest
from PIL import Image
from starlette.testclient import TestClient

from geo.access import CITY, Jurisdiction, Principal, Scope
from geo.services.cases import transition
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings
from tests.mobile_helpers import a_point, auth, key, public_case, seeded, user_with_role

REPORTS = "/api/v1/reports"


def photo_with_gps(width: int = 3000, height: int = 1000) -> bytes:
    """A JPEG as phones make them: EXIF with GPS and an orientation (rotate 90°)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 14.0, 5.5), 3: "E", 4: (121.0, 28.0, 1.0)})
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


@pytest.fixture(scope="module")
def citizen(database_url: str, tokens: TokenService) -> dict[str, str]:
    return auth(tokens, user_with_role(database_url, "citizen"), "citizen")


def _fields(database_url: str, text: str, offset: int = 3, **extra: str) -> dict[str, str]:
    lon, lat = a_point(database_url, offset)
    return {"category": "road_damage", "description": text, "lon": str(lon), "lat": str(lat),
            **extra}  # fmt: skip


def _post(client: TestClient, headers: dict[str, str], data: dict[str, str],
          files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
          idem: str | None = None) -> Any:  # fmt: skip
    return client.post(REPORTS, headers={**headers, "Idempotency-Key": idem or key()},
                       data=data, files=files)  # fmt: skip


def test_a_report_becomes_a_routed_case_with_clean_photos(
    client: TestClient, citizen: dict[str, str], database_url: str, settings: Settings
) -> None:
    text = f"人行道破损 {uuid.uuid4().hex[:8]}"
    fields = _fields(database_url, text)
    r = _post(
        client, citizen, fields, [("photos", ("IMG_0001.jpg", photo_with_gps(), "image/jpeg"))]
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert r.headers["location"] == f"{REPORTS}/{report['id']}"
    assert report["status"] == "reported" and report["department"]["code"] == "transport"
    cell, dept = seeded(
        database_url, "SELECT c.grid_cell_id, c.department_id = d.id FROM cases c, departments d "
        "WHERE c.public_id = %s AND d.code = 'transport'", report["id"],
    )  # fmt: skip
    expected_cell = seeded(
        database_url, "SELECT id FROM grid_cells WHERE ST_Intersects(geom, ST_SetSRID("
        "ST_MakePoint(%s, %s), 4326)) ORDER BY id LIMIT 1", float(fields["lon"]),
        float(fields["lat"]),
    )  # fmt: skip
    assert cell == expected_cell and dept is True
    # The write is in the audit trail with the address it came from (the test client's).
    audited = seeded(
        database_url, "SELECT a.action, a.detail->>'client' FROM audit_log a JOIN cases c "
        "ON a.object_type = 'case' AND a.object_id = c.id::text WHERE c.public_id = %s",
        report["id"],
    )  # fmt: skip
    assert audited == ("case.reported", "testclient")
    (photo,) = report["photos"]
    # Rotation applied (portrait now), scaled to 2048, and no metadata left at all.
    assert (photo["width"], photo["height"]) == (683, 2048)
    got = client.get(photo["url"], headers=citizen)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in got.content and b"TestCam" not in got.content
    stored = Image.open(io.BytesIO(got.content))
    assert dict(stored.getexif()) == {} and stored.size == (683, 2048)
    on_disk = list((settings.data.dir / "files" / "photos").rglob("*.jpg"))
    assert on_disk and all(b"Exif" not in p.read_bytes()[:4096] for p in on_disk)


def test_a_retry_with_the_same_key_returns_the_same_case(
    client: TestClient, citizen: dict[str, str], database_url: str
) -> None:
    text = f"重试 {uuid.uuid4().hex[:8]}"
    fields, idem = _fields(database_url, text), key()
    first = _post(client, citizen, fields, idem=idem)
    again = _post(client, citizen, fields, idem=idem)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert seeded(database_url, "SELECT count(*) FROM cases WHERE description = %s", text) == 1
    other = _post(client, citizen, {**fields, "description": text + "!"}, idem=idem)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:onemap:problem:idempotency_key_reused"
    keyless = client.post(REPORTS, headers=citizen, data=fields)
    assert keyless.status_code == 400
    assert keyless.json()["type"] == "urn:onemap:problem:idempotency_key_missing"


def test_concurrent_requests_with_one_key_create_one_case(
    client: TestClient, citizen: dict[str, str], database_url: str
) -> None:
    text = f"并发 {uuid.uuid4().hex[:8]}"
    fields, idem = _fields(database_url, text), key()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _post(client, citizen, fields, idem=idem), range(8)))
    statuses = sorted(r.status_code for r in results)
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert len({r.json()["id"] for r in results if r.status_code == 201}) == 1
    assert seeded(database_url, "SELECT count(*) FROM cases WHERE description = %s", text) == 1


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [("fake.jpg", b"MZ\x90\x00 this is a program, not a photo" * 10, 415),
     ("broken.jpg", b"\xff\xd8\xff\xe0 truncated", 415),
     ("page.jpg", b"<html><body>hi</body></html>", 415)],
)  # fmt: skip
def test_non_images_are_refused_with_415(
    client: TestClient,
    citizen: dict[str, str],
    database_url: str,
    name: str,
    content: bytes,
    status: int,
) -> None:
    text = f"非图片 {uuid.uuid4().hex[:8]}"
    r = _post(
        client, citizen, _fields(database_url, text), [("photos", (name, content, "image/jpeg"))]
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert seeded(database_url, "SELECT count(*) FROM cases WHERE description = %s", text) == 0


def test_bounds_outside_the_city_and_bad_fields(
    client: TestClient, citizen: dict[str, str], database_url: str
) -> None:
    outside = _post(client, citizen, {"category": "road_damage", "lon": "116.39", "lat": "39.9"})
    assert outside.status_code == 422
    assert outside.json()["type"] == "urn:onemap:problem:outside_city"
    assert "outside the city" in outside.json()["detail"]
    unknown = _post(client, citizen, _fields(database_url, "x", category="dragons"))
    assert unknown.status_code == 400 and "dragons" in unknown.json()["detail"]
    too_many = _post(client, citizen, _fields(database_url, "x"),
                     [("photos", (f"{i}.png", b"x", "image/png")) for i in range(6)])  # fmt: skip
    assert too_many.status_code in (400, 413)
    json_body = client.post(REPORTS, headers={**citizen, "Idempotency-Key": key()}, json={})
    assert json_body.status_code == 415
    declared = {"Content-Type": "multipart/form-data; boundary=x",
                "Content-Length": str(200 * 1024 * 1024), "Idempotency-Key": key()}  # fmt: skip
    huge = client.post(REPORTS, headers={**citizen, **declared}, content=b"")
    assert huge.status_code == 413


def test_nearby_open_cases_are_anonymised_and_a_report_links_to_one(
    client: TestClient, citizen: dict[str, str], database_url: str, tokens: TokenService
) -> None:
    first = _post(client, citizen, _fields(database_url, f"原报告 {key()}", offset=7)).json()
    lon, lat = a_point(database_url, 7)
    other = auth(tokens, int(seeded(database_url, "SELECT id FROM users WHERE phone = "
                                    "'13700000002'")), "citizen")  # fmt: skip
    where: dict[str, Any] = {"lon": lon + 0.0005, "lat": lat, "category": "road_damage"}
    near = client.get(f"{REPORTS}/nearby", params=where, headers=other)
    assert near.status_code == 200
    items = near.json()["items"]
    assert first["id"] in [i["id"] for i in items] and len(items) <= 5
    assert all(set(i) == {"id", "category", "status", "reported_at", "distance_m", "lon", "lat"}
               for i in items)  # fmt: skip
    assert items == sorted(items, key=lambda i: i["distance_m"])
    # Exactly the public record: the same snapped position and hour as cases_public.
    for item in items:
        status, at, lon_, lat_ = public_case(database_url, item["id"])
        assert (item["status"], item["lon"], item["lat"]) == (status, lon_, lat_)
        assert datetime.fromisoformat(item["reported_at"]) == at
    mine = _post(client, other, {**_fields(database_url, f"同一处 {key()}", offset=7),
                                 "link_to": first["id"]}).json()  # fmt: skip
    assert mine["linked_case"] == first["id"]
    far = client.put(f"{REPORTS}/{mine['id']}/link", headers=other, json={"case_id": "nope"})
    assert far.status_code == 404


def test_my_reports_pages_and_details_are_mine_only(
    client: TestClient, citizen: dict[str, str], database_url: str, tokens: TokenService
) -> None:
    for _ in range(3):
        _post(client, citizen, _fields(database_url, f"分页 {key()}"))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(REPORTS, headers=citizen, params=params)
        assert page.status_code == 200
        seen += [i["id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3
    detail = client.get(f"{REPORTS}/{seen[0]}", headers=citizen).json()
    assert detail["timeline"][0]["to_status"] == "reported"
    stranger = auth(tokens, int(seeded(database_url, "SELECT id FROM users WHERE phone = "
                                       "'13700000003'")), "citizen")  # fmt: skip
    assert client.get(f"{REPORTS}/{seen[0]}", headers=stranger).status_code == 404
    theirs = client.get(REPORTS, headers=stranger, params={"limit": 100}).json()["items"]
    assert not set(seen) & {i["id"] for i in theirs}
    assert client.put(f"{REPORTS}/{seen[0]}/rating", headers=stranger,
                      json={"score": 1}).status_code == 404  # fmt: skip
    assert client.get(REPORTS, headers=citizen, params={"cursor": "garbage"}).status_code == 400


def _resolve(database_url: str, public_id: str) -> None:
    """Staff handle the case through the case service, as GraphQL would."""

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            row = await (await conn.execute(
                "SELECT c.id, u.id, u.roles, c.department_id FROM cases c JOIN users u ON "
                "u.department_id = c.department_id AND u.phone LIKE '1381%%' "
                "WHERE c.public_id = %s LIMIT 1", (public_id,))).fetchone()  # fmt: skip
            assert row is not None
            dispatcher_id = user_with_role(database_url, "dispatcher")
            dispatcher = Principal(dispatcher_id, frozenset({"dispatcher"}), None, CITY)
            staff = Principal(row[1], frozenset(row[2]), None,
                              Jurisdiction(Scope.DEPARTMENT, (row[3],)))  # fmt: skip
            await transition(conn, row[0], "dispatch", dispatcher)
            await transition(conn, row[0], "start", staff)
            await transition(conn, row[0], "resolve", staff)

    anyio.run(run)


def test_rating_after_resolution_and_the_inbox(
    client: TestClient, citizen: dict[str, str], database_url: str
) -> None:
    report = _post(client, citizen, _fields(database_url, f"评价 {key()}")).json()
    rating = f"{REPORTS}/{report['id']}/rating"
    early = client.put(rating, headers=citizen, json={"score": 5})
    assert early.status_code == 409
    _resolve(database_url, report["id"])
    assert (
        client.put(rating, headers=citizen, json={"score": 4, "comment": "快"}).status_code == 201
    )
    assert (
        client.put(rating, headers=citizen, json={"score": 4, "comment": "快"}).status_code == 200
    )
    assert client.put(rating, headers=citizen, json={"score": 1}).status_code == 409
    detail = client.get(f"{REPORTS}/{report['id']}", headers=citizen).json()
    assert detail["rating"] == {"score": 4, "comment": "快"}
    assert [e["to_status"] for e in detail["timeline"]] == [
        "reported", "dispatched", "in_progress", "resolved"]  # fmt: skip
    inbox = client.get("/api/v1/me/notifications", headers=citizen, params={"limit": 50}).json()
    mine = [n for n in inbox["items"] if n["object_id"] == report["id"]]
    assert [n["status"] for n in mine] == ["resolved", "in_progress", "dispatched"]
    assert not any(n["read"] for n in mine)
    through = mine[0]["at"]
    put = client.put("/api/v1/me/notifications/read", headers=citizen, json={"through": through})
    assert put.status_code == 204
    again = client.get("/api/v1/me/notifications", headers=citizen, params={"limit": 50}).json()
    assert all(n["read"] for n in again["items"] if n["object_id"] == report["id"])


def _staff_of(database_url: str, tokens: TokenService, role: str, scope: Scope,
              ids: tuple[int, ...]) -> tuple[int, dict[str, str]]:  # fmt: skip
    uid = user_with_role(database_url, role)
    return uid, auth(tokens, uid, role, jurisdiction=Jurisdiction(scope, ids))


def _views(database_url: str, user_id: int) -> int:
    return int(seeded(database_url, "SELECT count(*) FROM audit_log WHERE action = "
                      "'report_photo.view' AND actor_id = %s", user_id))  # fmt: skip


def test_photos_are_for_the_reporter_and_staff_within_their_jurisdiction(
    client: TestClient, citizen: dict[str, str], database_url: str, tokens: TokenService
) -> None:
    png = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 0, 255, 128)).save(png, "PNG")
    report = _post(client, citizen, _fields(database_url, f"照片 {key()}"),
                   [("photos", ("a.png", png.getvalue(), "image/png"))]).json()  # fmt: skip
    url = report["photos"][0]["url"]
    cell, dept = seeded(database_url, "SELECT grid_cell_id, department_id FROM cases "
                        "WHERE public_id = %s", report["id"])  # fmt: skip
    stranger = auth(tokens, int(seeded(database_url, "SELECT id FROM users WHERE phone = "
                                       "'13700000004'")), "citizen")  # fmt: skip
    assert client.get(url).status_code == 401
    assert client.get(url, headers=stranger).status_code == 404  # another citizen's report
    assert client.get(url, headers=citizen).status_code == 200
    # Staff without READ_PHOTOS are refused outright.
    verifier = auth(tokens, user_with_role(database_url, "verifier"), "verifier")
    assert client.get(url, headers=verifier).status_code == 403
    # Staff with READ_PHOTOS, outside the case's jurisdiction: not found, nothing audited.
    outside = [
        _staff_of(database_url, tokens, "department_staff", Scope.DEPARTMENT, (dept + 1000,)),
        _staff_of(database_url, tokens, "grid_worker", Scope.GRID_CELLS, (cell + 100000,)),
        _staff_of(database_url, tokens, "dispatcher", Scope.NONE, ()),
    ]
    for uid, headers in outside:
        before = _views(database_url, uid)
        assert client.get(url, headers=headers).status_code == 404
        assert _views(database_url, uid) == before
    # ... and inside it: the photo, and an audit row for each read.
    inside = [
        _staff_of(database_url, tokens, "department_staff", Scope.DEPARTMENT, (dept,)),
        _staff_of(database_url, tokens, "grid_worker", Scope.GRID_CELLS, (cell,)),
        _staff_of(database_url, tokens, "dispatcher", Scope.CITY, ()),
    ]
    for uid, headers in inside:
        before = _views(database_url, uid)
        got = client.get(url, headers=headers)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert _views(database_url, uid) == before + 1


def test_sensitive_cases_are_never_nearby(
    client: TestClient, citizen: dict[str, str], database_url: str
) -> None:
    lon, lat = seeded(database_url, "SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE category "
                      "= 'elderly_help' AND status IN ('reported', 'dispatched', 'in_progress') "
                      "LIMIT 1")  # fmt: skip
    where = {"lon": lon, "lat": lat, "category": "elderly_help"}
    near = client.get(f"{REPORTS}/nearby", params=where, headers=citizen)
    assert near.status_code == 200 and near.json()["items"] == []


def test_heic_photos_are_accepted_and_stored_as_jpeg(
    client: TestClient, citizen: dict[str, str], database_url: str
) -> None:
    heic = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(heic, format="HEIF")  # pillow-heif
    report = _post(client, citizen, _fields(database_url, f"HEIC {key()}"),
                   [("photos", ("IMG_1.HEIC", heic.getvalue(), "image/heic"))]).json()  # fmt: skip
    assert report["photos"][0]["content_type"] == "image/jpeg"
    got = client.get(report["photos"][0]["url"], headers=citizen)
    assert Image.open(io.BytesIO(got.content)).format == "JPEG"
