"""The GIS tools a city's analysts have, as their distribution ships them, with default options:
Debian 12's ``gdal-bin`` (GDAL 3.6: ``ogrinfo``, ``ogr2ogr``) and QGIS 3.22 (``python3-qgis``,
offscreen, in the system Python), against a running ``onemap serve``.

What users hit before: ``ogrinfo -so`` paged through every case ten at a time (9+ minutes on
the demo city) because ``numberMatched`` was left out; QGIS showed 0 features. Both read the
count from the first page; GDAL 3.6 pages with limit=10 and then follows next links as given,
which ask for bigger pages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.running_server import running_server

pytestmark = pytest.mark.slow
SYSTEM_PYTHON = "/usr/bin/python3"
COUNTS = {
    "facilities": "SELECT count(*) FROM facilities WHERE category <> 'hazard_source'",
    "cases": "SELECT count(*) FROM cases_public",
}


def _have(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: scripts/dev installs gdal-bin and python3-qgis")


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


def _count(db: psycopg.Connection[Any], layer: str) -> int:
    row = db.execute(COUNTS[layer]).fetchone()
    assert row is not None
    return int(row[0])


def _gdal(*args: str) -> subprocess.CompletedProcess[str]:
    """A GDAL command with its HTTP requests in the debug output (``HTTP: Fetch(url)``)."""
    env = {**os.environ, "CPL_DEBUG": "ON", "GDAL_HTTP_TIMEOUT": "60"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _fetches(done: subprocess.CompletedProcess[str]) -> list[str]:
    return re.findall(r"HTTP: Fetch\((.*?)\)", done.stderr)


@pytest.mark.parametrize("layer", sorted(COUNTS))
def test_ogrinfo_summary_counts_from_the_first_page(
    server: str, db: psycopg.Connection[Any], layer: str
) -> None:
    _have("ogrinfo")
    done = _gdal("ogrinfo", "-so", f"OAPIF:{server}/ogc", layer)
    assert f"Feature Count: {_count(db, layer)}" in done.stdout
    items = [u for u in _fetches(done) if "/items" in u]
    assert len(items) <= 2, items  # the first page (read twice by GDAL), never a page-through


@pytest.mark.parametrize("layer", sorted(COUNTS))
def test_ogr2ogr_copies_every_feature_in_a_few_big_pages(
    server: str, db: psycopg.Connection[Any], layer: str, tmp_path: Path
) -> None:
    _have("ogr2ogr")
    out = tmp_path / f"{layer}.gpkg"
    done = _gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server}/ogc", layer)
    total = _count(db, layer)
    copied = _gdal("ogrinfo", "-so", str(out), layer)
    assert f"Feature Count: {total}" in copied.stdout
    pages = [u for u in _fetches(done) if "/items" in u]
    # limit=10 (GDAL 3.6's default), then next links of 100 and 1,000: about total / 1000.
    assert len(pages) <= total // 1000 + 4, len(pages)
    assert any("limit=1000" in u and "after=" in u for u in pages) or total < 110


QGIS_SCRIPT = """
import json, os, sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = {}
for name in sys.argv[2:]:
    layer = QgsVectorLayer(f"url='{sys.argv[1]}' typename='{name}'", name, "OAPIF")
    out[name] = {"valid": layer.isValid(), "count": layer.featureCount()}
hospitals = QgsVectorLayer(f"url='{sys.argv[1]}' typename='facilities'", "h", "OAPIF")
hospitals.setSubsetString("category = 'hospital'")
out["hospitals"] = sum(1 for _ in hospitals.getFeatures())
print(json.dumps(out), flush=True)
os._exit(0)  # QGIS 3.22 offscreen can crash in exitQgis(): what it showed is printed already
"""


def test_qgis_shows_the_right_counts_and_a_subset(
    server: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    """QGIS 3.22's OGC API provider, as the desktop app runs it (offscreen). It has no
    server-side filters (no CQL2 in 3.22): a subset is evaluated on the features it pages
    through, so this checks the count it shows, not how it fetched them."""
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail("/usr/bin/python3 is missing")
    script = tmp_path / "qgis_probe.py"
    script.write_text(QGIS_SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([SYSTEM_PYTHON, str(script), f"{server}/ogc", *sorted(COUNTS)],
                          capture_output=True, text=True, timeout=300, env=env,
                          check=False)  # fmt: skip
    if "No module named 'qgis'" in done.stderr:
        pytest.fail("python3-qgis is missing: scripts/dev installs it")
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    for layer in COUNTS:
        assert seen[layer] == {"valid": True, "count": _count(db, layer)}
    row = db.execute("SELECT count(*) FROM facilities WHERE category = 'hospital'").fetchone()
    assert row is not None and seen["hospitals"] == row[0] > 0
