"""Vector tiles at /ogc/collections/{c}/tiles, read back with GDAL's MVT driver (pyogrio)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import psycopg
import pyogrio
import pytest
from starlette.testclient import TestClient

from geo.layers import GRID_CELLS
from geo.queries import fetch_sync
from geo.queries.tiles import Tile, mvt
from server.kernel.auth.tokens import TokenService

Z = 14
LON, LAT = 121.4737, 31.2304
X = int((LON + 180) / 360 * (1 << Z))
Y = int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * (1 << Z))


def read_tile(
    tmp: Path, data: bytes, layer: str, z: int = Z, x: int = X, y: int = Y
) -> dict[str, Any]:
    """GDAL finds a tile's place from a z/x/y.pbf path."""
    path = tmp / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if not data:
        return {}
    meta, _fids, geometry, fields = pyogrio.raw.read(path, layer=layer)
    return {name: list(values) for name, values in zip(meta["fields"], fields, strict=True)} | {
        "_count": len(geometry)
    }


def tile_url(layer: str, z: int = Z, y: int = Y, x: int = X) -> str:
    return f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}"


def in_tile(db: psycopg.Connection[Any], where: str, z: int = Z, x: int = X, y: int = Y) -> int:
    row = db.execute(
        f"SELECT count(*) FROM facilities WHERE {where} AND "
        "ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(%s, %s, %s))", (z, x, y)
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def test_a_public_tile_holds_the_public_features(
    client: TestClient, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    r = client.get(tile_url("facilities"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["cache-control"].startswith("public")
    got = read_tile(tmp_path, r.content, "facilities")
    inside = in_tile(db, "category <> 'hazard_source'")
    assert inside > 0
    # the tile also carries the features of its 64/4096 buffer, never a hazard source
    assert inside <= got["_count"] <= inside * 1.2 + 5
    assert "hazard_source" not in got["category"]
    assert set(got) >= {"code", "category", "name_zh", "grid_cell_id"}


def test_staff_tiles_include_hazard_sources_and_are_private(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    hazard = db.execute(
        "SELECT ST_X(geom), ST_Y(geom) FROM facilities WHERE category = 'hazard_source' LIMIT 1"
    ).fetchone()
    assert hazard is not None
    x = int((hazard[0] + 180) / 360 * (1 << Z))
    y = int((1 - math.asinh(math.tan(math.radians(hazard[1]))) / math.pi) / 2 * (1 << Z))
    headers = {"Authorization": "Bearer " + tokens.issue_access(5, ["dispatcher"])}
    staff = client.get(tile_url("facilities", y=y, x=x), headers=headers)
    assert staff.headers["cache-control"].startswith("private")
    assert "hazard_source" in read_tile(tmp_path, staff.content, "facilities", x=x, y=y)["category"]
    public = client.get(tile_url("facilities", y=y, x=x)).content
    assert "hazard_source" not in read_tile(tmp_path / "p", public, "facilities", x=x, y=y).get(
        "category", []
    )


def test_camera_tiles_need_a_token(client: TestClient, tokens: TokenService) -> None:
    assert client.get(tile_url("cameras")).status_code == 401
    headers = {"Authorization": "Bearer " + tokens.issue_access(5, ["camera_viewer"])}
    assert client.get(tile_url("cameras"), headers=headers).status_code == 200


def test_polygons_at_a_low_zoom(client: TestClient, tmp_path: Path) -> None:
    z, x = 10, int((LON + 180) / 360 * 1024)
    y = int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * 1024)
    r = client.get(tile_url("grid_cells", z=z, y=y, x=x))
    got = read_tile(tmp_path, r.content, "grid_cells", z=z, x=x, y=y)
    assert got["_count"] > 100


def test_etag_gives_304(client: TestClient) -> None:
    first = client.get(tile_url("cases"))
    etag = first.headers["etag"]
    again = client.get(tile_url("cases"), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_polygon_tiles_hold_at_most_the_cap(db: psycopg.Connection[Any], tmp_path: Path) -> None:
    """Polygon layers are not aggregated (points are: tests/test_tiles_honest.py)."""
    z, x = 10, int((LON + 180) / 360 * 1024)
    y = int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * 1024)
    data = fetch_sync(db, mvt(GRID_CELLS, Tile(z, x, y), 5))
    assert read_tile(tmp_path, data, "grid_cells", z=z, x=x, y=y)["_count"] == 5


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/WebMercatorQuad/23/0/0", 400),
        ("/WebMercatorQuad/3/8/0", 400),
        ("/WebMercatorQuad/3/0/-1", 400),
        ("/WebMercatorQuad/x/0/0", 400),
        ("/WorldCRS84Quad/3/0/0", 404),
        ("/WebMercatorQuad/3/0/0?x=1", 400),
    ],
)
def test_bad_tiles(client: TestClient, path: str, status: int) -> None:
    r = client.get("/ogc/collections/facilities/tiles" + path)
    assert r.status_code == status
    assert r.json()["code"]


def test_tileset_and_tilejson_documents(client: TestClient, settings: Any) -> None:
    base = f"{settings.server.base_url}/ogc/collections/grid_cells/tiles"
    sets = client.get("/ogc/collections/grid_cells/tiles").json()["tilesets"]
    assert sets[0]["tileMatrixSetURI"].endswith("WebMercatorQuad")
    one = client.get("/ogc/collections/grid_cells/tiles/WebMercatorQuad").json()
    template = next(link for link in one["links"] if link["rel"] == "item")
    assert template["href"] == f"{base}/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    tj = client.get("/ogc/collections/grid_cells/tiles/WebMercatorQuad/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"] == [f"{base}/WebMercatorQuad/{{z}}/{{x}}/{{y}}.pbf"]
    assert tj["vector_layers"][0]["id"] == "grid_cells"
    assert tj["vector_layers"][0]["fields"]["population"] == "Number"
    assert -180 <= tj["bounds"][0] < tj["bounds"][2] <= 180
