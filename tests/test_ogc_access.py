"""What each caller sees of the cases at /ogc (items, one item, HTML, tiles): the access policy.

Full cases only for READ_CASES principals, and only those of their jurisdiction; everyone else
(analysts, anonymous callers, camera viewers) the generalised public record ``cases_public``.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import psycopg
import pyogrio  # type: ignore[import-untyped]
import pytest
from starlette.testclient import TestClient

from geo.access import CITY, Jurisdiction, Scope
from server.kernel.auth.tokens import TokenService

Conn = psycopg.Connection[Any]
HALF = 20037508.342789244
ALL = "/ogc/collections/cases/items?limit=10000"
#: The cases of a district: cell → community → street → district.
IN_DISTRICT = (
    "SELECT c.id, c.public_id FROM cases c JOIN grid_cells g ON g.id = c.grid_cell_id "
    "JOIN admin_areas cm ON cm.id = g.community_id JOIN admin_areas s ON s.id = cm.parent_id "
    "WHERE s.parent_id = %s"
)


def bearer(tokens: TokenService, role: str, jurisdiction: Jurisdiction = CITY) -> Any:
    return {
        "Authorization": "Bearer " + tokens.issue_access(9001, [role], jurisdiction=jurisdiction)
    }


def first_district(db: Conn) -> int:
    row = db.execute(
        "SELECT id FROM admin_areas WHERE level = 'district' ORDER BY code LIMIT 1"
    ).fetchone()
    assert row is not None
    return int(row[0])


def public_positions(db: Conn) -> dict[str, tuple[float, float]]:
    rows = db.execute("SELECT public_id, ST_X(geom), ST_Y(geom) FROM cases_public").fetchall()
    return {str(p): (float(x), float(y)) for p, x, y in rows}


def city_tile(db: Conn) -> tuple[int, int, int]:
    """The largest-zoom tile holding every case (so one tile shows the whole record)."""
    row = db.execute(
        "SELECT min(ST_X(geom)), min(ST_Y(geom)), max(ST_X(geom)), max(ST_Y(geom)) FROM cases"
    ).fetchone()
    assert row is not None
    for z in range(12, 0, -1):
        corners = {_tile_of(z, lon, lat) for lon in (row[0], row[2]) for lat in (row[1], row[3])}
        if len(corners) == 1:
            x, y = corners.pop()
            return z, x, y
    raise AssertionError("the cases span no single tile")


def _tile_of(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def read_tile(tmp: Path, data: bytes, z: int, x: int, y: int) -> list[dict[str, Any]]:
    """The tile's cases: properties plus ``_lonlat`` (GDAL reads the tile in EPSG:3857)."""
    path = tmp / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if not data:
        return []
    meta, _fids, geometry, fields = pyogrio.raw.read(path, layer="cases")
    found = []
    for i, wkb in enumerate(geometry):
        mx, my = struct.unpack("<dd", bytes(wkb)[5:21])  # a little-endian WKB point
        lonlat = (mx / HALF * 180, math.degrees(math.atan(math.sinh(my / HALF * math.pi))))
        props = {name: values[i] for name, values in zip(meta["fields"], fields, strict=True)}
        found.append(props | {"_lonlat": lonlat})
    return found


def tile(client: TestClient, z: int, x: int, y: int, headers: Any = None) -> bytes:
    r = client.get(f"/ogc/collections/cases/tiles/WebMercatorQuad/{z}/{y}/{x}", headers=headers)
    assert r.status_code == 200
    return r.content


@pytest.mark.parametrize("role", ["analyst", "camera_viewer", None])
def test_without_read_cases_the_items_are_the_public_record(
    client: TestClient, tokens: TokenService, db: Conn, role: str | None
) -> None:
    headers = bearer(tokens, role) if role else None
    body = client.get(ALL, headers=headers).json()
    features = body["features"]
    expected = public_positions(db)
    assert body["numberMatched"] == len(features) == len(expected) > 0
    for f in features:
        assert not {"description", "address", "assignee_id", "source"} & set(f["properties"])
        lon, lat = f["geometry"]["coordinates"]
        assert (lon, lat) == pytest.approx(expected[f["properties"]["public_id"]], abs=1e-7)
    # the record is generalised: most published positions are not the exact ones
    exact = dict(db.execute("SELECT public_id, ST_AsText(geom) FROM cases").fetchall())
    moved = sum(exact[p] != f"POINT({x} {y})" for p, (x, y) in expected.items())
    assert moved > len(expected) / 2


def test_sensitive_and_duplicate_cases_are_never_public(
    client: TestClient, tokens: TokenService, db: Conn, tmp_path: Path
) -> None:
    sensitive = db.execute("SELECT min(id), count(*) FROM cases WHERE category = 'elderly_help'")
    row = sensitive.fetchone()
    assert row is not None and row[1] > 0
    for headers in (None, bearer(tokens, "analyst")):
        r = client.get("/ogc/collections/cases/items?category=elderly_help", headers=headers)
        assert r.json()["numberMatched"] == 0
        assert (
            client.get(f"/ogc/collections/cases/items/{row[0]}", headers=headers).status_code == 404
        )
        html = client.get(f"/ogc/collections/cases/items/{row[0]}?f=html", headers=headers)
        assert html.status_code == 404
    z, x, y = city_tile(db)
    cases = read_tile(tmp_path, tile(client, z, x, y), z, x, y)
    assert len(cases) == len(public_positions(db))
    assert "elderly_help" not in {c["category"] for c in cases}
    duplicates = {str(p) for (p,) in db.execute(
        "SELECT public_id FROM cases WHERE status = 'duplicate'").fetchall()}  # fmt: skip
    assert not duplicates & {c["public_id"] for c in cases}


def test_anonymous_tiles_hold_the_public_positions(
    client: TestClient, db: Conn, tmp_path: Path
) -> None:
    z = 14
    row = db.execute("SELECT ST_X(geom), ST_Y(geom) FROM cases_public LIMIT 1").fetchone()
    assert row is not None
    x, y = _tile_of(z, row[0], row[1])
    cases = read_tile(tmp_path, tile(client, z, x, y), z, x, y)
    assert cases
    expected = public_positions(db)
    pixel = 360 / (1 << z) / 4096  # one tile grid unit, in degrees of longitude
    for c in cases:
        assert set(c) <= {"public_id", "category", "status", "priority", "grid_cell_id",
                          "reported_at", "closed_at", "_lonlat", "mvt_id"}  # fmt: skip
        assert c["_lonlat"] == pytest.approx(expected[c["public_id"]], abs=2 * pixel)


def test_a_district_dispatcher_sees_only_their_district(
    client: TestClient, tokens: TokenService, db: Conn, tmp_path: Path
) -> None:
    district = first_district(db)
    mine = {int(i): str(p) for i, p in db.execute(IN_DISTRICT, (district,)).fetchall()}
    total = db.execute("SELECT count(*) FROM cases").fetchone()
    assert total is not None and 0 < len(mine) < total[0]
    headers = bearer(tokens, "dispatcher", Jurisdiction(Scope.DISTRICT, (district,)))

    body = client.get(ALL, headers=headers).json()
    assert {f["id"] for f in body["features"]} == set(mine)
    assert body["numberMatched"] == len(mine)
    assert "description" in body["features"][0]["properties"]

    inside = next(iter(mine))
    outside = db.execute(
        "SELECT min(id) FROM cases WHERE NOT id = ANY(%s)", (list(mine),)
    ).fetchone()
    assert outside is not None
    for fmt in ("json", "html"):  # the fast path and pygeoapi's provider
        item = f"/ogc/collections/cases/items/{{}}?f={fmt}"
        assert client.get(item.format(inside), headers=headers).status_code == 200
        assert client.get(item.format(outside[0]), headers=headers).status_code == 404
    html = client.get("/ogc/collections/cases/items?f=html&limit=10000", headers=headers).text
    assert all(p in html for p in list(mine.values())[:20])

    z, x, y = city_tile(db)
    cases = read_tile(tmp_path, tile(client, z, x, y, headers), z, x, y)
    assert {c["public_id"] for c in cases} == set(mine.values())
    city = read_tile(
        tmp_path / "city", tile(client, z, x, y, bearer(tokens, "dispatcher")), z, x, y
    )
    assert len(city) == total[0]
