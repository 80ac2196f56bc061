"""Departments' API keys (docs/open-data.md) driven from the outside: made with the CLI
(`onemap apikeys create`) and the admin API, used by GDAL's OAPIF driver (pyogrio) against a
running server, refused for what they were not granted, refused once revoked or expired — with
a message a person can act on — held to their per-minute quota, and counted in the usage report
(`onemap apikeys usage`, `/api/v1/admin/api-keys/usage`)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyogrio.errors  # type: ignore[import-untyped]
import pyogrio.raw  # type: ignore[import-untyped]
import pytest

from server.kernel.auth.tokens import TokenService
from tests.conftest import ROOT
from tests.mobile_helpers import auth, user_with_role
from tests.running_server import running_server

pytestmark = pytest.mark.slow
Conn = psycopg.Connection[Any]
ONEMAP = str(Path(sys.executable).with_name("onemap"))


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    # usage written every 0.3 s, so the report is read within a second of the reads
    with running_server(database_url, ONEMAP_OGC_KEY_USAGE_FLUSH_S="0.3") as base:
        yield base


def onemap(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING",
           "ONEMAP_DATA_DIR": str(ROOT / ".data" / "test")}  # fmt: skip
    return subprocess.run([ONEMAP, *args], capture_output=True, text=True, env=env, timeout=60,
                          cwd=ROOT)  # fmt: skip


def new_key(database_url: str, *datasets: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    args = [a for d in datasets for a in ("--dataset", d)]
    done = onemap(database_url, "apikeys", "create", "--department", "emergency_management",
                  "--name", "应急局数据同步 test", *args, *extra, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    made: dict[str, Any] = json.loads(done.stdout)
    return made


def _box(db: Conn) -> tuple[float, float, float, float]:
    row = db.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM buildings "
                     "ORDER BY id LIMIT 1) x").fetchone()  # fmt: skip
    assert row is not None
    return row[0] - 0.01, row[1] - 0.01, row[0] + 0.01, row[1] + 0.01


def usage(database_url: str, key_id: int, wanted: int) -> list[dict[str, Any]]:
    """The key's usage report, once it counts ``wanted`` requests (written in batches)."""
    deadline = time.monotonic() + 10
    while True:
        done = onemap(database_url, "apikeys", "usage", "--key", str(key_id), "--format", "json")
        assert done.returncode == 0, done.stderr
        rows: list[dict[str, Any]] = json.loads(done.stdout)
        if sum(r["requests"] for r in rows) >= wanted or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def test_gdal_reads_the_granted_dataset_and_not_another(
    server: str, database_url: str, db: Conn, tmp_path: Path
) -> None:
    made = new_key(database_url, "buildings", "roads")
    assert made["datasets"] == ["buildings", "roads"] and made["state"] == "active"
    # only the hash is kept, never the key
    stored = db.execute("SELECT key_hash, prefix FROM api_keys WHERE id = %s",
                        (made["id"],)).fetchone()  # fmt: skip
    assert stored == (hashlib.sha256(made["key"].encode()).hexdigest(), made["key"][:12])

    box = _box(db)
    expected = db.execute("SELECT count(*) FROM buildings WHERE geom && "
                          "ST_MakeEnvelope(%s, %s, %s, %s, 4326)", box).fetchone()  # fmt: skip
    assert expected is not None and expected[0] > 0
    # GDAL 3.12's OAPIF driver does not send GDAL_HTTP_HEADERS; it sends a header file's lines
    headers = tmp_path / "headers.txt"
    headers.write_text(f"X-API-Key: {made['key']}\n")
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": str(headers)})
    try:
        meta, _fids, geometry, _fields = pyogrio.raw.read(
            f"OAPIF:{server}/ogc", layer="buildings", bbox=box, PAGE_SIZE=500
        )
        assert len(geometry) == expected[0]
        assert {"use", "floors", "height_m"} <= set(meta["fields"])
        # facilities were not granted: the key's catalogue has no such layer
        with pytest.raises(pyogrio.errors.DataLayerError):
            pyogrio.raw.read(f"OAPIF:{server}/ogc", layer="facilities")
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": None})

    key = {"X-API-Key": made["key"]}
    listed = httpx.get(f"{server}/ogc/collections", headers=key, params={"f": "json"}).json()
    assert {c["id"] for c in listed["collections"]} == {"buildings", "roads"}
    refused = httpx.get(f"{server}/ogc/collections/facilities/items", headers=key)
    assert refused.status_code == 403
    assert "has not been granted the dataset 'facilities'" in refused.json()["description"]
    assert httpx.get(f"{server}/ogc/collections/nothing/items", headers=key).status_code == 404
    # the other spellings of the same key
    for header in (f"ApiKey {made['key']}", f"Bearer {made['key']}"):
        answer = httpx.get(f"{server}/ogc/collections/roads/items", params={"limit": 7},
                           headers={"Authorization": header})  # fmt: skip
        assert answer.status_code == 200 and answer.json()["numberReturned"] == 7

    # the usage report counts what was served: every buildings feature GDAL paged through (and
    # the first page it reads once more to learn the layer's fields), the roads read by hand
    rows = usage(database_url, made["id"], 4)
    by_dataset = {r["dataset"]: r for r in rows}
    assert by_dataset["buildings"]["rows"] >= expected[0]
    assert by_dataset["buildings"]["requests"] >= 2 and by_dataset["buildings"]["bytes"] > 0
    assert by_dataset["roads"] == {**by_dataset["roads"], "requests": 2, "rows": 14}
    assert "facilities" not in by_dataset  # refused reads are not usage
    listed_keys = json.loads(onemap(database_url, "apikeys", "list", "--json").stdout)
    mine = next(k for k in listed_keys if k["id"] == made["id"])
    assert mine["last_used_at"] is not None and "key" not in mine


def test_a_key_downloads_its_internal_dataset_and_it_is_audited(
    server: str, database_url: str, db: Conn
) -> None:
    made = new_key(database_url, "facilities")
    answer = httpx.get(f"{server}/open/datasets/facilities.csv", headers={"X-API-Key": made["key"]},
                       params={"category": "hazard_source"}, timeout=60)  # fmt: skip
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    hazards = db.execute("SELECT count(*) FROM facilities WHERE category = 'hazard_source'")
    assert len(rows) == hazards.fetchone()[0] > 0  # type: ignore[index]
    assert "attributes" in rows[0]  # the internal view: shared in full
    audited = db.execute(
        "SELECT detail->>'format', (detail->>'api_key')::int FROM audit_log "
        "WHERE action = 'ogc.items.download' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert audited == ("csv", made["id"])
    # the public cannot: the same file without the key is the public view
    public = httpx.get(f"{server}/open/datasets/facilities.csv", timeout=60,
                       params={"category": "hazard_source"})  # fmt: skip
    assert public.status_code == 200
    assert public.content.decode("utf-8-sig").strip().count("\n") == 0  # the header alone


def test_a_revoked_or_expired_key_is_refused_with_the_reason(
    server: str, database_url: str, db: Conn
) -> None:
    made = new_key(database_url, "roads")
    url = f"{server}/ogc/collections/roads/items"
    key = {"X-API-Key": made["key"]}
    assert httpx.get(url, headers=key).status_code == 200

    done = onemap(database_url, "apikeys", "revoke", str(made["id"]))
    assert done.returncode == 0 and "revoked" in done.stdout
    refused = httpx.get(url, headers=key)
    assert refused.status_code == 401
    assert "This API key was revoked on" in refused.json()["detail"]

    other = new_key(database_url, "roads", extra=("--expires", "1h"))
    assert httpx.get(url, headers={"X-API-Key": other["key"]}).status_code == 200
    db.execute("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = %s",
               (other["id"],))  # fmt: skip
    db.commit()
    expired = httpx.get(url, headers={"X-API-Key": other["key"]})
    assert expired.status_code == 401
    assert "This API key expired on" in expired.json()["detail"]
    unknown = httpx.get(url, headers={"X-API-Key": "omk_" + "x" * 40})
    assert unknown.status_code == 401 and "Unknown API key" in unknown.json()["detail"]
    states = {k["id"]: k["state"] for k in json.loads(
        onemap(database_url, "apikeys", "list", "--json").stdout)}  # fmt: skip
    assert states[made["id"]] == "revoked" and states[other["id"]] == "expired"


def test_a_key_is_held_to_its_quota(server: str, database_url: str) -> None:
    made = new_key(database_url, "roads", extra=("--rate", "3"))
    url = f"{server}/ogc/collections/roads/items"
    statuses = [httpx.get(url, headers={"X-API-Key": made["key"]}, params={"limit": 1})
                for _ in range(4)]  # fmt: skip
    assert [s.status_code for s in statuses] == [200, 200, 200, 429]
    assert int(statuses[-1].headers["Retry-After"]) > 0
    assert "quota of 3 requests a minute" in statuses[-1].json()["detail"]


def test_grants_follow_the_policy(database_url: str) -> None:
    for dataset in ("cameras", "persons"):
        done = onemap(database_url, "apikeys", "create", "--department", "transport",
                      "--name", "x", "--dataset", dataset)  # fmt: skip
        assert done.returncode == 2
        assert "A key may be granted datasets among" in done.stderr and dataset in done.stderr
    done = onemap(database_url, "apikeys", "create", "--department", "nowhere", "--name", "x",
                  "--dataset", "roads")  # fmt: skip
    assert done.returncode == 2 and "No department 'nowhere'" in done.stderr
    assert "emergency_management" in done.stderr  # the departments one may name


def test_the_admin_api_makes_lists_revokes_and_reports(
    server: str, database_url: str, tokens: TokenService
) -> None:
    admin = auth(tokens, user_with_role(database_url, "admin"), "admin")
    analyst = auth(tokens, user_with_role(database_url, "analyst"), "analyst")
    api = f"{server}/api/v1/admin/api-keys"
    body = {"department": "water_authority", "name": "水务局 pipes", "datasets": ["roads"]}
    assert httpx.post(api, json=body, headers=analyst).status_code == 403
    assert httpx.get(api, headers=analyst).status_code == 403
    cameras = httpx.post(api, json={**body, "datasets": ["cameras"]}, headers=admin)
    assert cameras.status_code == 400 and "cameras" in cameras.json()["detail"]

    created = httpx.post(api, json=body, headers=admin)
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["key"].startswith("omk_") and made["department"] == "water_authority"
    listing = httpx.get(api, headers=admin, params={"department": "water_authority"})
    assert listing.status_code == 200 and made["key"] not in listing.text
    assert made["id"] in [k["id"] for k in listing.json()["items"]]

    read = httpx.get(f"{server}/ogc/collections/roads/items", params={"limit": 5},
                     headers={"X-API-Key": made["key"]})  # fmt: skip
    assert read.status_code == 200
    deadline = time.monotonic() + 10
    while True:
        report = httpx.get(f"{api}/usage", headers=admin, params={"key_id": made["id"]})
        assert report.status_code == 200
        if report.json()["items"] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    (row,) = report.json()["items"]
    assert (row["dataset"], row["requests"], row["rows"]) == ("roads", 1, 5)
    assert row["bytes"] == len(read.content)
    as_csv = httpx.get(f"{api}/usage", headers=admin,
                       params={"key_id": made["id"], "format": "csv"})  # fmt: skip
    assert as_csv.headers["content-type"].startswith("text/csv")
    (line,) = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (line["dataset"], line["requests"], line["rows"]) == ("roads", "1", "5")

    revoked = httpx.post(f"{api}/{made['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    after = httpx.get(f"{server}/ogc/collections/roads/items", headers={"X-API-Key": made["key"]})
    assert after.status_code == 401


def test_a_key_reads_a_granted_department_layer_of_the_catalogue(
    server: str, database_url: str, db: Conn
) -> None:
    """Catalogue layers are granted like built-in ones: the internal water pipes (read whole,
    as a department shares them), not the planning zones it was not granted."""
    made = new_key(database_url, "water_pipes")
    key = {"X-API-Key": made["key"]}
    pipes = httpx.get(f"{server}/ogc/collections/water_pipes/items", headers=key,
                      params={"limit": 5}, timeout=60)  # fmt: skip
    assert pipes.status_code == 200, pipes.text
    assert len(pipes.json()["features"]) == 5
    assert httpx.get(f"{server}/ogc/collections/water_pipes/items", timeout=60).status_code in (
        401, 403, 404)  # fmt: skip
    other = httpx.get(f"{server}/ogc/collections/planning_zones/items", headers=key, timeout=60)
    assert other.status_code == 403 and "has not been granted" in other.json()["description"]
