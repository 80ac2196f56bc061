"""QGIS 3.22 (Debian's ``python3-qgis``, offscreen, the system Python) opens catalogue layers
of a running ``onemap serve`` through its OGC API - Features provider, as an analyst's desktop
does: a department layer registered from the command line while the server runs, and the demo
city's planning zones — each valid, with the feature count the table holds and its fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import ROOT, database_roles
from tests.running_server import running_server

pytestmark = pytest.mark.slow
SYSTEM_PYTHON = "/usr/bin/python3"
ONEMAP = str(Path(sys.executable).with_name("onemap"))
QGIS_SCRIPT = """
import json, os, sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = {}
for name in sys.argv[2:]:
    layer = QgsVectorLayer(f"url='{sys.argv[1]}' typename='{name}'", name, "OAPIF")
    out[name] = {"valid": layer.isValid(), "count": layer.featureCount(),
                 "fields": [f.name() for f in layer.fields()],
                 "geometry": layer.wkbType()}
print(json.dumps(out), flush=True)
os._exit(0)  # QGIS 3.22 offscreen can crash in exitQgis(): what it showed is printed already
"""


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS test_qgis_drains; "
            "CREATE TABLE test_qgis_drains (id integer PRIMARY KEY, drain_code text, "
            "depth_m double precision, geom geometry(MultiLineString, 4326)); "
            "INSERT INTO test_qgis_drains SELECT i, 'YS-' || i, 1.5 + i / 10.0, "
            "ST_Multi(ST_MakeLine(ST_MakePoint(121.44, 31.19 + i * 0.002), "
            "ST_MakePoint(121.46, 31.19 + i * 0.002))) FROM generate_series(1, 137) i"
        )
        conn.execute(f'GRANT SELECT ON test_qgis_drains TO "{database_roles().app}"')
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING"}
    with running_server(database_url) as base:
        done = subprocess.run(
            [ONEMAP, "layers", "register", "test_qgis_drains", "public.test_qgis_drains",
             "--title", "排水管渠 Drains", "--owner", "water_authority", "--data-class",
             "public", "--licence", "CC-BY-4.0", "--keyword", "drainage"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        try:
            yield base
        finally:
            subprocess.run([ONEMAP, "layers", "unregister", "test_qgis_drains"], env=env,
                           cwd=ROOT, capture_output=True, timeout=60, check=False)  # fmt: skip
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("DROP TABLE test_qgis_drains")


def _count(db: psycopg.Connection[Any], statement: str) -> int:
    row = db.execute(statement).fetchone()
    assert row is not None
    return int(row[0])


def test_qgis_opens_registered_department_layers(
    server: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail("/usr/bin/python3 is missing")
    script = tmp_path / "qgis_catalogue.py"
    script.write_text(QGIS_SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    layers = ["test_qgis_drains", "planning_zones"]
    seen: dict[str, Any] = {}
    for _ in range(3):  # the server learns of the registration by NOTIFY, within a second
        done = subprocess.run([SYSTEM_PYTHON, str(script), f"{server}/ogc", *layers],
                              capture_output=True, text=True, timeout=300, env=env,
                              check=False)  # fmt: skip
        if "No module named 'qgis'" in done.stderr:
            pytest.fail("python3-qgis is missing: scripts/dev installs it")
        assert done.returncode == 0, done.stderr[-2000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        if seen["test_qgis_drains"]["valid"]:
            break
    drains = seen["test_qgis_drains"]
    assert drains["valid"] and drains["count"] == 137
    assert {"drain_code", "depth_m"} <= set(drains["fields"])
    zones = seen["planning_zones"]
    assert zones["valid"]
    assert zones["count"] == _count(db, "SELECT count(*) FROM dept_planning_zones") > 0
    assert {"zone_code", "land_use", "plot_ratio"} <= set(zones["fields"])
