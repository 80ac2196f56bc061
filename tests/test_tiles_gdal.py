"""Debian 12's GDAL 3.6 (ogrinfo, gdalinfo, gdal_translate) at default options against a running
server: the OGCAPI driver opens a collection and the landing page, the tile matrix set parses,
and the MVT driver reads a tile from the URL TileJSON publishes, placed where the features are.

Debian's GDAL 3.6.2 OGCAPI driver was built without its vector-tiles branch (docs/ogc.md), so
through OGCAPI it reads the features from ``items``; GDAL 3.12 (pyogrio) sees the tile layers.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyogrio
import pytest

from tests.running_server import running_server
from tests.tile_helpers import tile_at

PUBLIC = "t.category <> 'hazard_source'"


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_ogcapi_opens_a_collection_with_its_features(
    base: str, db: psycopg.Connection[Any]
) -> None:
    url = f"OGCAPI:{base}/ogc/collections/facilities"
    out = run("ogrinfo", "-ro", "-so", url, "facilities")
    total = db.execute(f"SELECT count(*) FROM facilities t WHERE {PUBLIC}").fetchone()
    assert total is not None
    assert f"Feature Count: {total[0]}" in out
    box = (121.470, 31.228, 121.477, 31.233)
    rows = db.execute(
        f"SELECT code FROM facilities t WHERE {PUBLIC} AND "
        "t.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)", box,
    ).fetchall()  # fmt: skip
    assert rows
    out = run("ogrinfo", "-ro", "-q", url, "facilities", "-spat", *map(str, box))
    assert sorted(re.findall(r"code \(String\) = (\S+)", out)) == sorted(r[0] for r in rows)


def test_ogcapi_lists_the_collections_of_the_landing_page(base: str) -> None:
    out = run("gdalinfo", f"OGCAPI:{base}/ogc")
    for name in ("admin_areas", "grid_cells", "facilities", "cases"):
        assert f"OGCAPI:{base}/ogc/collections/{name}" in out


def test_gdal_36_reads_the_tile_matrix_set(base: str, tmp_path: Path) -> None:
    """GDAL 3.6 parses a TMS document where a COG's tiling scheme is asked for: ours."""
    src, out = tmp_path / "src.tif", tmp_path / "cog.tif"
    run("gdal_create", "-of", "GTiff", "-outsize", "16", "16", "-bands", "1",
        "-a_srs", "EPSG:4326", "-a_ullr", "121.4", "31.3", "121.5", "31.2", str(src))  # fmt: skip
    run("gdal_translate", "-q", "-of", "COG", "-co",
        f"TILING_SCHEME={base}/ogc/tileMatrixSets/WebMercatorQuad", str(src), str(out))  # fmt: skip
    info = run("gdalinfo", str(out))
    assert f"NAME={base}/ogc/tileMatrixSets/WebMercatorQuad" in info
    assert re.search(r"ZOOM_LEVEL=\d+", info)
    assert "Pseudo-Mercator" in info


def test_the_mvt_driver_reads_a_tile_where_its_features_are(
    base: str, db: psycopg.Connection[Any]
) -> None:
    tj = httpx.get(f"{base}/ogc/collections/facilities/tiles/WebMercatorQuad/tilejson.json")
    z, x, y = tile_at(14)
    tile_url = tj.json()["tiles"][0].replace("{z}", str(z)).replace("{x}", str(x))
    tile_url = tile_url.replace("{y}", str(y))
    assert "?" not in tile_url
    out = run("ogrinfo", "-ro", "-q", "-al", f"MVT:{tile_url}")
    found = dict(re.findall(r"code \(String\) = (\S+)\n(?:.*\n)*?\s+POINT \(([-\d. ]+)\)", out))
    assert len(found) > 5
    placed = {
        code: (float(a), float(b)) for code, (a, b) in
        ((c, p.split()) for c, p in found.items())
    }  # fmt: skip
    rows = db.execute(
        "SELECT code, ST_X(ST_Transform(geom, 3857)), ST_Y(ST_Transform(geom, 3857)) "
        "FROM facilities WHERE code = ANY(%s)", (list(placed),),
    ).fetchall()  # fmt: skip
    assert len(rows) == len(placed)
    pixel = 2 * 20037508.34 / (1 << z) / 4096  # one unit of the tile's grid, metres
    for code, mx, my in rows:
        assert placed[code][0] == pytest.approx(mx, abs=pixel)
        assert placed[code][1] == pytest.approx(my, abs=pixel)


def test_newer_gdal_finds_the_vector_tiles(base: str) -> None:
    """GDAL 3.12 (pyogrio) follows the untyped tilesets link: one layer per zoom."""
    layers = pyogrio.list_layers(f"OGCAPI:{base}/ogc/collections/cases")
    assert "Zoom level 14" in [name for name, _ in layers]
