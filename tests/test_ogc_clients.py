"""Clients no one here wrote, against a running ``onemap serve``: GDAL's OAPIF driver (pyogrio),
OWSLib's OGC API - Features client, and schemathesis on /ogc/openapi."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyogrio
import pytest

from tests.conftest import ROOT
from tests.running_server import running_server

pytestmark = pytest.mark.slow

COUNTS = {
    "admin_areas": "SELECT count(*) FROM admin_areas",
    "grid_cells": "SELECT count(*) FROM grid_cells",
    "facilities": "SELECT count(*) FROM facilities WHERE category <> 'hazard_source'",
    "cases": "SELECT count(*) FROM cases_public",
    "sensors": "SELECT count(*) FROM sta_things WHERE NOT critical AND geom IS NOT NULL",
    "roads": "SELECT count(*) FROM roads",
}
BOX = (121.45, 31.20, 121.50, 31.25)


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


def count(db: psycopg.Connection[Any], query: str, *args: Any) -> int:
    row = db.execute(query, args).fetchone()
    assert row is not None
    return int(row[0])


def read(server: str, layer: str, **kwargs: Any) -> tuple[dict[str, Any], Any, list[Any]]:
    meta, _fids, geometry, fields = pyogrio.raw.read(
        f"OAPIF:{server}/ogc", layer=layer, datetime_as_string=True, **kwargs
    )
    return meta, geometry, fields


@pytest.mark.parametrize("layer", sorted(COUNTS))
def test_gdal_reads_every_public_layer_completely(
    server: str, db: psycopg.Connection[Any], layer: str
) -> None:
    meta, geometry, _ = read(server, layer, PAGE_SIZE=1000)
    assert len(geometry) == count(db, COUNTS[layer]) > 0
    assert "CRS84" in meta["crs"]


def test_gdal_bbox_and_attribute_filters(server: str, db: psycopg.Connection[Any]) -> None:
    _, geometry, _ = read(server, "facilities", bbox=BOX, PAGE_SIZE=1000)
    expected = count(
        db,
        "SELECT count(*) FROM facilities WHERE category <> 'hazard_source' "
        "AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))",
        *BOX,
    )
    assert len(geometry) == expected > 0
    meta, geometry, fields = read(server, "facilities", where="category = 'school'", PAGE_SIZE=1000)
    category = list(meta["fields"]).index("category")
    assert set(fields[category]) == {"school"}
    assert len(geometry) == count(db, "SELECT count(*) FROM facilities WHERE category = 'school'")


def test_owslib_lists_collections_reads_items_and_queryables(server: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # OWSLib's own imports
        from owslib.ogcapi.features import Features

    api = Features(f"{server}/ogc")
    names = {c["id"] for c in api.collections()["collections"]}
    # and the demo city's public department layers (docs/catalogue.md)
    assert names == set(COUNTS) | {"planning_zones", "ecological_red_lines"}
    items = api.collection_items("facilities", limit=7, category="school")
    assert items["numberReturned"] == 7
    assert {f["properties"]["category"] for f in items["features"]} == {"school"}
    queryables = api.collection_queryables("cases")
    assert "reported_at" in queryables["properties"]
    assert "description" not in queryables["properties"]


def test_schemathesis_finds_no_server_error(server: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run", f"{server}/ogc/openapi",
         "--checks", "not_a_server_error", "--max-examples", "8", "--phases", "examples,fuzzing",
         "--request-timeout", "30", "--generation-deterministic", "--no-color"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
