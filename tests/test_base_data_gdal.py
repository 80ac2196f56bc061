"""GDAL's OAPIF driver (pyogrio) reads the internal ``buildings`` collection of a running
``onemap serve`` with a staff token (GDAL_HTTP_AUTH=BEARER; GDAL_HTTP_HEADERS is not sent by
the OAPIF driver of GDAL 3.12), as a desktop GIS of the city's staff
would; without a token the layer is not there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pyogrio  # type: ignore[import-untyped]
import pytest
import shapely

from server.kernel.auth.tokens import TokenService
from tests.running_server import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


def _box(db: psycopg.Connection[Any]) -> tuple[float, float, float, float]:
    row = db.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM buildings "
                     "ORDER BY id LIMIT 1) x").fetchone()  # fmt: skip
    assert row is not None
    return row[0] - 0.01, row[1] - 0.01, row[0] + 0.01, row[1] + 0.01


def test_gdal_reads_buildings_as_multipolygons_with_a_staff_token(
    server: str, db: psycopg.Connection[Any], tokens: TokenService
) -> None:
    box = _box(db)
    expected = db.execute(
        "SELECT id FROM buildings WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) ORDER BY id",
        box,
    ).fetchall()
    token = tokens.issue_access(9001, ["analyst"])
    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token})
    try:
        meta, _fids, geometry, _fields = pyogrio.raw.read(
            f"OAPIF:{server}/ogc", layer="buildings", bbox=box, PAGE_SIZE=1000
        )
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})
    assert meta["geometry_type"] in ("MultiPolygon", "Unknown")
    shapes = shapely.from_wkb(list(geometry))
    assert {s.geom_type for s in shapes} == {"MultiPolygon"}
    assert len(shapes) == len(expected) > 0
    names = set(meta["fields"])
    assert {"use", "floors", "height_m"} <= names
    assert not names & {"name", "id_number", "phone", "responsible_phone"}


def test_without_a_token_gdal_finds_no_buildings(server: str) -> None:
    with pytest.raises(pyogrio.errors.DataLayerError):
        pyogrio.raw.read(f"OAPIF:{server}/ogc", layer="buildings")
