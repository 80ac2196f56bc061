"""Downloads at ``/ogc/collections/{c}/items?f=csv|gpkg``, read as their users read them: the
CSV with Python's csv module (and Debian's GDAL), the GeoPackage with GDAL (pyogrio's 3.12 and
Debian's ``ogrinfo`` 3.6). The rows are compared with what SQL selects, the columns with the
caller's view; closed collections, bad parameters and oversized selections are refused before
any byte; internal downloads leave an audit row."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
import pyogrio  # type: ignore[import-untyped]
import pytest
import shapely
from pyproj import CRS
from starlette.testclient import TestClient

from geo.access import Jurisdiction, Scope
from server.kernel.auth.tokens import TokenService
from server.ogc import downloads
from tests.mobile_helpers import auth, seeded, user_with_role

Conn = psycopg.Connection[Any]
ITEMS = "/ogc/collections/{}/items"
PUBLIC_FACILITY = ["code", "category", "name_zh", "name_en", "address", "capacity", "grid_cell_id"]
#: The public facilities: hazard sources are internal (geo.enums.INTERNAL_FACILITY_CATEGORIES).
PUBLIC_ROWS = "SELECT id FROM facilities WHERE category <> 'hazard_source'"


def staff(tokens: TokenService, database_url: str, role: str, **kw: Any) -> dict[str, str]:
    return auth(tokens, user_with_role(database_url, role), role, **kw)


def read_csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    """The CSV as Excel or a script reads it: UTF-8 (with its BOM), one header row."""
    text = response.content.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def ids(db: Conn, query: str, *args: Any) -> list[int]:
    return [int(r[0]) for r in db.execute(query, args).fetchall()]


def download(client: TestClient, collection: str, **params: Any) -> Any:
    headers = params.pop("headers", None)
    return client.get(ITEMS.format(collection), params=params, headers=headers)


# --- CSV ----------------------------------------------------------------------------------


def test_csv_of_a_filtered_selection_holds_what_sql_selects(client: TestClient, db: Conn) -> None:
    box = (121.44, 31.20, 121.52, 31.28)
    r = download(client, "facilities", f="csv", category="school", bbox=",".join(map(str, box)))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel on Chinese Windows reads UTF-8
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="facilities-') and '.csv"' in disposition
    header, rows = read_csv(r)
    assert header == ["id", *PUBLIC_FACILITY, "lon", "lat"]
    expected = ids(
        db,
        "SELECT id FROM facilities WHERE category = 'school' AND "
        "ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326)) ORDER BY id",
        *box,
    )
    assert len(expected) > 5
    assert [int(row["id"]) for row in rows] == expected
    # Values as the database has them: Chinese names intact, coordinates to 7 decimals.
    first = db.execute(
        "SELECT name_zh, ST_X(geom), ST_Y(geom), capacity FROM facilities WHERE id = %s",
        (expected[0],),
    ).fetchone()
    assert first is not None
    assert rows[0]["name_zh"] == first[0] and any(ch >= "\u4e00" for ch in first[0])
    assert float(rows[0]["lon"]) == pytest.approx(first[1], abs=1e-7)
    assert float(rows[0]["lat"]) == pytest.approx(first[2], abs=1e-7)
    assert rows[0]["capacity"] == ("" if first[3] is None else str(first[3]))


def test_csv_of_a_cql2_filter_and_a_datetime_counts_what_sql_counts(
    client: TestClient, db: Conn
) -> None:
    cql = "status IN ('closed','resolved') AND priority <> 'low'"
    r = download(client, "cases", f="csv", filter=cql, datetime="2000-01-01T00:00:00Z/..")
    assert r.status_code == 200, r.text
    header, rows = read_csv(r)
    expected = ids(
        db,
        "SELECT id FROM cases_public WHERE status IN ('closed','resolved') AND "
        "priority <> 'low' AND reported_at >= '2000-01-01Z' ORDER BY id",
    )
    assert 0 < len(expected) == len(rows)
    assert [int(row["id"]) for row in rows] == expected
    # the public record: no description, address, source or assignee, times to the hour
    public = [
        "public_id",
        "category",
        "status",
        "priority",
        "grid_cell_id",
        "reported_at",
        "closed_at",
    ]
    assert header == ["id", *public, "lon", "lat"]
    assert all(row["reported_at"].endswith(":00:00Z") for row in rows)


def test_a_download_is_the_whole_selection_and_limit_takes_the_first(
    client: TestClient, db: Conn
) -> None:
    everything = ids(db, PUBLIC_ROWS + " ORDER BY id")
    assert len(everything) > 100  # more than a page (the default limit is 100)
    _, rows = read_csv(download(client, "facilities", f="csv"))
    assert [int(row["id"]) for row in rows] == everything
    _, first = read_csv(download(client, "facilities", f="csv", limit=7, sortby="-capacity,id"))
    top = ids(db, PUBLIC_ROWS + " ORDER BY capacity DESC NULLS FIRST, id LIMIT 7")
    assert [int(row["id"]) for row in first] == top


def test_csv_is_sent_a_batch_at_a_time_as_the_cursor_reads(
    client: TestClient, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "BATCH", 100)
    with client.stream("GET", ITEMS.format("facilities"), params={"f": "csv"}) as r:
        assert "content-length" not in r.headers
        chunks = [chunk.decode("utf-8-sig") for chunk in r.iter_raw()]
    lines = [chunk.count("\r\n") for chunk in chunks]
    total = len(ids(db, PUBLIC_ROWS))
    assert lines[0] == 1  # the header goes first, before a row is read
    assert sum(lines[1:]) == total and max(lines[1:]) == 100
    assert len(chunks) == 1 + -(-total // 100)


def test_csv_properties_skip_geometry_and_output_crs(client: TestClient, db: Conn) -> None:
    r = download(client, "facilities", f="csv", properties="code,name_en", skipGeometry="true")
    header, rows = read_csv(r)
    assert header == ["id", "code", "name_en"]
    r = download(client, "facilities", f="csv", properties="code", crs="EPSG:3857", limit=3)
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/3857>"
    header, rows = read_csv(r)
    assert header == ["id", "code", "x", "y"]
    x, y = db.execute(
        "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, 3857) g "
        "FROM facilities WHERE id = %s) p",
        (int(rows[0]["id"]),),
    ).fetchone()  # type: ignore[misc]
    assert float(rows[0]["x"]) == pytest.approx(x, abs=0.01)
    assert float(rows[0]["y"]) == pytest.approx(y, abs=0.01)


def test_areas_come_as_wkt_that_gdal_reads(client: TestClient, db: Conn, tmp_path: Path) -> None:
    r = download(client, "admin_areas", f="csv", level="district")
    header, rows = read_csv(r)
    assert header[-1] == "wkt" and "lon" not in header
    expected = ids(db, "SELECT id FROM admin_areas WHERE level = 'district' ORDER BY id")
    assert [int(row["id"]) for row in rows] == expected
    area = db.execute("SELECT ST_Area(geom) FROM admin_areas WHERE id = %s", (expected[0],))
    assert shapely.from_wkt(rows[0]["wkt"]).area == pytest.approx(area.fetchone()[0], rel=1e-4)  # type: ignore[index]
    # Debian's GDAL (the analysts' ogr2ogr) finds the geometry in the wkt column by itself.
    path = tmp_path / "districts.csv"
    path.write_bytes(r.content)
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert f"Feature Count: {len(expected)}" in info
    assert "Extent: (121." in info  # read from the wkt column, in the city
    assert "name_zh: String" in info


# --- who gets what ------------------------------------------------------------------------


def test_public_callers_never_get_attributes_or_hazard_sources_staff_do(
    client: TestClient, tokens: TokenService, database_url: str, db: Conn
) -> None:
    header, rows = read_csv(download(client, "facilities", f="csv"))
    assert "attributes" not in header
    assert "hazard_source" not in {row["category"] for row in rows}
    # A filter naming a hidden column is refused, not answered with everything.
    hidden = download(client, "facilities", f="csv", filter="attributes IS NOT NULL")
    assert hidden.status_code == 400
    headers = staff(tokens, database_url, "analyst")
    header, rows = read_csv(download(client, "facilities", f="csv", headers=headers))
    assert header == ["id", *PUBLIC_FACILITY[:-1], "attributes", "grid_cell_id", "lon", "lat"]
    assert [int(row["id"]) for row in rows] == ids(db, "SELECT id FROM facilities ORDER BY id")
    assert "hazard_source" in {row["category"] for row in rows}
    assert any(row["attributes"].startswith("{") for row in rows)


def test_staff_download_only_their_jurisdiction(
    client: TestClient, tokens: TokenService, database_url: str, db: Conn
) -> None:
    district = int(
        seeded(
            database_url,
            "SELECT id FROM admin_areas WHERE level = 'district' ORDER BY code LIMIT 1",
        )
    )
    mine = Jurisdiction(Scope.DISTRICT, (district,))
    headers = staff(tokens, database_url, "dispatcher", jurisdiction=mine)
    header, rows = read_csv(download(client, "cases", f="csv", headers=headers))
    assert "description" in header and "reporter_id" not in header
    expected = ids(
        db,
        "SELECT c.id FROM cases c JOIN grid_cells g ON g.id = c.grid_cell_id "
        "JOIN admin_areas cm ON cm.id = g.community_id JOIN admin_areas s "
        "ON s.id = cm.parent_id WHERE s.parent_id = %s ORDER BY c.id",
        district,
    )
    assert 0 < len(expected) < int(seeded(database_url, "SELECT count(*) FROM cases"))
    assert [int(row["id"]) for row in rows] == expected


@pytest.mark.parametrize("fmt", ["csv", "gpkg"])
def test_cameras_need_a_token_with_the_capability(
    client: TestClient, tokens: TokenService, database_url: str, fmt: str
) -> None:
    r = download(client, "cameras", f=fmt)
    assert r.status_code == 401 and r.headers["content-type"] == "application/json"
    assert r.json()["code"]
    citizen = staff(tokens, database_url, "citizen")
    assert download(client, "cameras", f=fmt, headers=citizen).status_code == 403


def _audit_rows(database_url: str, actor: int, since: int) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT object_type, detail FROM audit_log WHERE actor_id = %s "
            "AND action = 'ogc.items.download' AND seq > %s ORDER BY seq",
            (actor, since),
        ).fetchall()


def test_internal_downloads_are_audited_with_format_and_count(
    client: TestClient, tokens: TokenService, database_url: str, db: Conn
) -> None:
    since = int(seeded(database_url, "SELECT coalesce(max(seq), 0) FROM audit_log"))
    dispatcher = user_with_role(database_url, "dispatcher")
    headers = auth(tokens, dispatcher, "dispatcher")
    _, rows = read_csv(download(client, "cameras", f="csv", status="online", headers=headers))
    r = download(client, "cases", f="gpkg", limit=25, headers=headers)
    assert r.status_code == 200
    download(client, "grid_cells", f="csv", headers=headers)  # public: not audited
    audited = _audit_rows(database_url, dispatcher, since)
    assert [(t, d["format"], d["features"]) for t, d in audited] == [
        ("cameras", "csv", len(rows)),
        ("cases", "gpkg", 25),
    ]
    assert "status=online" in audited[0][1]["query"]
    online = ids(db, "SELECT id FROM cameras WHERE status = 'online'")
    assert len(rows) == len(online) > 0


# --- GeoPackage ---------------------------------------------------------------------------


@pytest.fixture
def gpkg_file(tmp_path: Path) -> Any:
    def save(response: Any, name: str = "download.gpkg") -> Path:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/geopackage+sqlite3"
        assert int(response.headers["content-length"]) == len(response.content)
        path = tmp_path / name
        path.write_bytes(response.content)
        return path

    return save


def test_geopackage_holds_the_selection_with_its_crs_and_fields(
    client: TestClient, db: Conn, gpkg_file: Any
) -> None:
    r = download(client, "facilities", f="gpkg", category="hospital")
    assert '.gpkg"' in r.headers["content-disposition"]
    path = gpkg_file(r)
    info = pyogrio.read_info(path, layer="facilities")
    expected = ids(db, "SELECT id FROM facilities WHERE category = 'hospital' ORDER BY id")
    assert info["features"] == len(expected) > 0
    assert CRS.from_user_input(info["crs"]).to_epsg() == 4326
    assert info["geometry_type"] == "Point"
    assert list(info["fields"]) == ["id", *PUBLIC_FACILITY]
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["capacity"] == "int64"
    _meta, _fids, geometry, fields = pyogrio.raw.read(path, layer="facilities")
    assert sorted(int(i) for i in fields[0]) == expected
    lon, lat = db.execute(
        "SELECT ST_X(geom), ST_Y(geom) FROM facilities WHERE id = %s", (int(fields[0][0]),)
    ).fetchone()  # type: ignore[misc]
    point = shapely.from_wkb(geometry[0])
    assert (point.x, point.y) == (pytest.approx(lon), pytest.approx(lat))


def test_debian_ogrinfo_reads_a_geopackage_in_cgcs2000_and_one_in_web_mercator(
    client: TestClient, tokens: TokenService, database_url: str, db: Conn, gpkg_file: Any
) -> None:
    headers = staff(tokens, database_url, "dispatcher")
    path = gpkg_file(download(client, "cases", f="gpkg", crs="EPSG:4490", headers=headers))
    run = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(path), "cases"], capture_output=True, text=True, check=True
    )
    total = int(seeded(database_url, "SELECT count(*) FROM cases"))
    assert f"Feature Count: {total}" in run.stdout
    assert 'ID["EPSG",4490]' in run.stdout and "reported_at: DateTime" in run.stdout
    assert "description: String" in run.stdout and "Warning" not in run.stderr
    mercator = gpkg_file(download(client, "grid_cells", f="gpkg", crs="EPSG:3857"), "g.gpkg")
    info = pyogrio.read_info(mercator)
    assert CRS.from_user_input(info["crs"]).to_epsg() == 3857
    assert info["geometry_type"] == "MultiPolygon"
    cells = int(seeded(database_url, "SELECT count(*) FROM grid_cells"))
    assert info["features"] == cells and info["total_bounds"][0] > 1e7  # metres


def test_a_geopackage_built_in_many_batches_holds_every_feature_and_its_instants(
    client: TestClient,
    tokens: TokenService,
    database_url: str,
    db: Conn,
    gpkg_file: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(downloads, "BATCH", 100)
    headers = staff(tokens, database_url, "dispatcher")
    path = gpkg_file(download(client, "cases", f="gpkg", headers=headers))
    expected = db.execute("SELECT id, reported_at, closed_at FROM cases ORDER BY id").fetchall()
    assert len(expected) > 500  # appended in more than five batches
    _meta, _fids, _geometry, fields = pyogrio.raw.read(
        path, columns=["id", "reported_at", "closed_at"], datetime_as_string=True
    )
    assert [int(i) for i in fields[0]] == [row[0] for row in expected]

    def utc(value: Any) -> str | None:
        return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    assert [str(v)[:19] if v else None for v in fields[1]] == [utc(r[1]) for r in expected]
    closed = [str(v)[:19] if v else None for v in fields[2]]
    assert closed == [utc(r[2]) for r in expected] and None in closed  # nulls stay null


def test_an_empty_selection_is_an_empty_layer_with_its_fields(
    client: TestClient, gpkg_file: Any
) -> None:
    path = gpkg_file(download(client, "facilities", f="gpkg", code="no-such-code"))
    info = pyogrio.read_info(path)
    assert info["features"] == 0 and list(info["fields"]) == ["id", *PUBLIC_FACILITY]
    header, rows = read_csv(download(client, "facilities", f="csv", code="no-such-code"))
    assert rows == [] and header[0] == "id"


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "category = "},
        {"filter": "nosuchcolumn = 1"},
        {"bbox": "1,2,3"},
        {"wat": "1"},
        {"crs": "EPSG:2000"},
        {"limit": "0"},
        {"limit": str(10**9)},
        {"datetime": "yesterday"},
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "gpkg"])
def test_bad_parameters_are_a_400_before_any_byte(
    client: TestClient, params: dict[str, str], fmt: str
) -> None:
    r = download(client, "facilities", f=fmt, **params)
    assert r.status_code == 400, r.text
    assert (
        r.headers["content-type"] == "application/json" and "content-disposition" not in r.headers
    )
    assert r.json()["code"] == "InvalidParameterValue"


def test_a_selection_over_the_maximum_is_a_400_unless_a_limit_asks_for_less(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ogc = client.app.state.ogc  # type: ignore[attr-defined]
    monkeypatch.setattr(ogc.settings.ogc, "download_max", 50)
    r = download(client, "facilities", f="csv")
    assert r.status_code == 400
    assert "ONEMAP_OGC_DOWNLOAD_MAX" in r.json()["description"]
    _, rows = read_csv(download(client, "facilities", f="csv", limit=50))
    assert len(rows) == 50
    assert download(client, "facilities", f="csv", limit=51).status_code == 400
    assert download(client, "facilities", f="gpkg", category="hospital").status_code == 200


def test_when_every_slot_is_taken_a_download_is_a_503_with_retry_after(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ogc = client.app.state.ogc  # type: ignore[attr-defined]
    monkeypatch.setitem(downloads._SLOTS, ogc, asyncio.Semaphore(0))
    r = download(client, "facilities", f="csv")
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    monkeypatch.undo()
    assert download(client, "facilities", f="csv", limit=1).status_code == 200


def test_other_formats_stay_refused(client: TestClient) -> None:
    assert download(client, "facilities", f="xlsx").status_code == 400
    assert client.get("/ogc/", params={"f": "csv"}).status_code == 400


def test_the_openapi_document_declares_both_downloads(client: TestClient) -> None:
    doc = client.get("/ogc/openapi", params={"f": "json"}).json()
    get = doc["paths"]["/collections/facilities/items"]["get"]
    f = next(p for p in get["parameters"] if p.get("name") == "f")
    assert f["schema"]["enum"] == ["json", "html", "jsonld", "csv", "gpkg"]
    content = get["responses"]["200"]["content"]
    assert {"application/geo+json", "text/csv", "application/geopackage+sqlite3"} <= set(content)
