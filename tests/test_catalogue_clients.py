"""The layer catalogue from the outside (docs/catalogue.md): department tables made here,
registered with ``onemap layers register`` while a real ``onemap serve`` runs, then read as
analysts and front ends read them — GDAL's OAPIF driver (pyogrio, default options), OWSLib,
vector tiles, GraphQL — with their data class respected: a public layer for anyone, an
internal one for staff only, a restricted one for holders of ``read_restricted_layers`` with
every read in the audit trail."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import psycopg
import pyogrio  # type: ignore[import-untyped]
import pytest
import shapely
from owslib.ogcapi.features import Features  # type: ignore[import-untyped]

from server.kernel.auth.tokens import TokenService
from tests.conftest import ROOT, database_roles
from tests.running_server import running_server
from tests.tile_helpers import tile_at
from tests.tile_helpers import url as tile_url

pytestmark = pytest.mark.slow
ONEMAP = str(Path(sys.executable).with_name("onemap"))

#: Three department tables in the demo city's east: parcels (polygons, public), cable ducts
#: (lines, internal), wells (points, restricted). Made here, not by a migration.
TABLES = """
DROP TABLE IF EXISTS test_parcels, test_ducts, test_wells, test_no_srid, test_no_id;
CREATE TABLE test_parcels (gid integer PRIMARY KEY, parcel_no text NOT NULL,
    land_use text NOT NULL, area_m2 double precision, approved date,
    shape geometry(MultiPolygon, 4326) NOT NULL);
INSERT INTO test_parcels
SELECT i, 'P-' || i, (ARRAY['green', 'residential', 'school'])[1 + i % 3], 1000.5 * i,
       date '2024-01-01' + i,
       ST_Multi(ST_MakeEnvelope(121.45 + i * 0.002, 31.20, 121.451 + i * 0.002, 31.201, 4326))
FROM generate_series(1, 25) i;
CREATE TABLE test_ducts (id bigint PRIMARY KEY, duct_code text, cables integer,
    geom geometry(LineString, 4326));
INSERT INTO test_ducts SELECT i, 'D-' || i, i % 7,
    ST_MakeLine(ST_MakePoint(121.46, 31.21 + i * 0.001), ST_MakePoint(121.47, 31.21 + i * 0.001))
FROM generate_series(1, 12) i;
CREATE TABLE test_wells (id integer PRIMARY KEY, depth_m numeric, owner_name text,
    geom geometry(Point, 4326));
INSERT INTO test_wells SELECT i, 10 + i, 'Well keeper ' || i,
    ST_SetSRID(ST_MakePoint(121.48 + i * 0.001, 31.22), 4326) FROM generate_series(1, 5) i;
CREATE TABLE test_no_srid (id integer PRIMARY KEY, geom geometry);
CREATE TABLE test_no_id (name text, geom geometry(Point, 4326));
"""
LAYERS = {
    "test_parcels": ["public", "--id-column", "gid", "--keyword", "parcels,planning"],
    "test_ducts": ["internal", "--keyword", "telecom"],
    "test_wells": ["restricted"],
}


def onemap(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING"}
    return subprocess.run([ONEMAP, *args], capture_output=True, text=True, env=env, timeout=60,
                          cwd=ROOT, check=False)  # fmt: skip


def register(database_url: str, name: str, data_class: str, *extra: str) -> None:
    done = onemap(
        database_url, "layers", "register", name, f"public.{name}",
        "--title", f"Test layer {name}", "--owner", "water_authority",
        "--data-class", data_class, "--licence", "CC-BY-4.0", "--update-frequency", "weekly",
        "--description", "Registered by a test.", *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"registered {name}" in done.stdout


@pytest.fixture(scope="module")
def tables(database_url: str) -> Iterator[None]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(TABLES)
        app = database_roles().app
        conn.execute(f'GRANT SELECT ON test_parcels, test_ducts, test_wells, test_no_srid, '
                     f'test_no_id TO "{app}"')  # fmt: skip
    yield
    for name in LAYERS:
        onemap(database_url, "layers", "unregister", name)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE test_parcels, test_ducts, test_wells, test_no_srid, test_no_id")


@pytest.fixture(scope="module")
def server(database_url: str, tables: None) -> Iterator[str]:
    """A server started *before* the layers are registered: it learns of them from the
    catalogue's notice, as a running production server would."""
    with running_server(database_url) as base:
        for name, (data_class, *extra) in LAYERS.items():
            register(database_url, name, data_class, *extra)
        deadline = time.monotonic() + 15
        while "test_parcels" not in _collections(base):
            assert time.monotonic() < deadline, "the server never published test_parcels"
            time.sleep(0.2)
        yield base


def _collections(base: str, token: str | None = None) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    doc = httpx.get(f"{base}/ogc/collections", headers=headers, timeout=30).json()
    return [c["id"] for c in doc["collections"]]


def _one(db: psycopg.Connection[Any], statement: str) -> Any:
    row = db.execute(statement).fetchone()
    assert row is not None
    return row[0]


def test_gdal_reads_a_registered_layer_with_default_options(
    server: str, db: psycopg.Connection[Any]
) -> None:
    meta, _fids, geometry, fields = pyogrio.raw.read(f"OAPIF:{server}/ogc", layer="test_parcels")
    names = list(meta["fields"])
    assert len(geometry) == _one(db, "SELECT count(*) FROM test_parcels") == 25
    assert {"parcel_no", "land_use", "area_m2", "approved"} <= set(names)
    assert "shape" not in names and "gid" not in names
    assert {s.geom_type for s in shapely.from_wkb(list(geometry))} == {"MultiPolygon"}
    rows = {fields[names.index("parcel_no")][i]: i for i in range(len(geometry))}
    first = rows["P-1"]
    assert fields[names.index("land_use")][first] == "residential"
    assert float(fields[names.index("area_m2")][first]) == pytest.approx(1000.5)
    info = pyogrio.read_info(f"OAPIF:{server}/ogc", layer="test_parcels")
    assert info["features"] == 25


def test_owslib_sees_metadata_queryables_items_and_cql2(server: str) -> None:
    api = Features(f"{server}/ogc")
    assert "test_parcels" in [c["id"] for c in api.collections()["collections"]]
    doc = api.collection("test_parcels")
    assert doc["title"] == "Test layer test_parcels"
    assert {"parcels", "planning"} <= set(doc["keywords"])
    meta = doc["onemap:catalogue"]
    assert meta["owner"] == "water_authority" and meta["data_class"] == "public"
    assert meta["update_frequency"] == "weekly" and meta["licence"] == "CC-BY-4.0"
    assert meta["geometry_type"] == "MultiPolygon"
    queryables = api.collection_queryables("test_parcels")["properties"]
    assert queryables["area_m2"]["type"] == "number"
    assert queryables["land_use"]["type"] == "string"
    items = api.collection_items("test_parcels", limit=10)
    assert items["numberMatched"] == 25 and len(items["features"]) == 10
    cql = "land_use = 'green' AND area_m2 > 10000"
    green = httpx.get(f"{server}/ogc/collections/test_parcels/items", params={"filter": cql})
    green = green.json()
    wanted = [i for i in range(1, 26) if i % 3 == 0 and 1000.5 * i > 10000]
    assert sorted(f["properties"]["parcel_no"] for f in green["features"]) == sorted(
        f"P-{i}" for i in wanted
    )
    assert green["numberMatched"] == len(wanted)
    one = httpx.get(f"{server}/ogc/collections/test_parcels/items/7").json()
    assert one["id"] == 7 and one["properties"]["parcel_no"] == "P-7"


def test_vector_tiles_of_a_registered_line_layer_for_staff(
    server: str, tokens: TokenService
) -> None:
    z, x, y = tile_at(14, 121.465, 31.215)
    url = f"{server}{tile_url('test_ducts', z, x, y)}"
    assert httpx.get(url).status_code == 401
    token = tokens.issue_access(9101, ["analyst"])
    got = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    layer = mapbox_vector_tile.decode(got.content)["test_ducts"]
    assert layer["features"] and {f["geometry"]["type"] for f in layer["features"]} <= {
        "LineString", "MultiLineString"}  # fmt: skip
    assert {"duct_code", "cables"} <= set(layer["features"][0]["properties"])


def test_data_classes_decide_who_sees_each_layer(server: str, tokens: TokenService) -> None:
    anonymous = _collections(server)
    assert "test_parcels" in anonymous and "planning_zones" in anonymous
    assert "test_ducts" not in anonymous and "test_wells" not in anonymous
    assert "water_pipes" not in anonymous
    analyst = _collections(server, tokens.issue_access(9102, ["analyst"]))
    assert {"test_parcels", "test_ducts", "water_pipes"} <= set(analyst)
    assert "test_wells" not in analyst
    assert httpx.get(f"{server}/ogc/collections/test_ducts/items").status_code == 401
    forbidden = httpx.get(f"{server}/ogc/collections/test_wells/items", headers={
        "Authorization": f"Bearer {tokens.issue_access(9102, ['analyst'])}"})  # fmt: skip
    assert forbidden.status_code == 403
    admin = _collections(server, tokens.issue_access(9103, ["admin"]))
    assert {"test_parcels", "test_ducts", "test_wells"} <= set(admin)


def test_a_restricted_layer_read_is_audited(
    server: str, tokens: TokenService, database_url: str, db: psycopg.Connection[Any]
) -> None:
    admin = _one(db, "SELECT id FROM users WHERE 'admin' = ANY(roles) ORDER BY id LIMIT 1")
    token = tokens.issue_access(admin, ["admin"])
    got = httpx.get(f"{server}/ogc/collections/test_wells/items",
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert got.status_code == 200 and got.json()["numberMatched"] == 5
    query = ('{ layerFeatures(layer: "test_wells", first: 2) '
             "{ features { id properties } numberMatched endCursor } }")  # fmt: skip
    gql = httpx.post(f"{server}/graphql", json={"query": query},
                     headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    assert "errors" not in gql, gql
    assert len(gql["data"]["layerFeatures"]["features"]) == 2
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT action FROM audit_log WHERE actor_id = %s AND object_type = 'test_wells' "
            "ORDER BY id",
            (admin,),
        ).fetchall()
    assert [r[0] for r in rows] == ["ogc.items.read", "graphql.layer.read"]


def _gql(server: str, query: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return dict(httpx.post(f"{server}/graphql", json={"query": query}, headers=headers).json())


def test_graphql_lists_layers_by_data_class_and_pages_their_features(
    server: str, tokens: TokenService
) -> None:
    listing = "{ catalogueLayers { id title owner dataClass licence keywords geometryType } }"
    public = {x["id"]: x for x in _gql(server, listing)["data"]["catalogueLayers"]}
    assert {"test_parcels", "planning_zones", "ecological_red_lines"} <= set(public)
    assert "test_ducts" not in public and "water_pipes" not in public
    assert public["test_parcels"]["owner"] == "water_authority"
    assert public["ecological_red_lines"]["geometryType"] == "MultiPolygon"
    staff = _gql(server, listing, tokens.issue_access(9105, ["department_staff"]))
    assert {"test_ducts", "water_pipes"} <= {x["id"] for x in staff["data"]["catalogueLayers"]}
    closed = _gql(server, '{ catalogueLayer(id: "test_ducts") { id } }')
    assert closed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    page = (
        '{ layerFeatures(layer: "test_parcels", filter: "land_use = \'school\'", first: 5%s) '
        "{ features { id properties geometry } numberMatched endCursor hasNextPage } }"
    )
    first = _gql(server, page % "")["data"]["layerFeatures"]
    assert first["numberMatched"] == 8 and len(first["features"]) == 5 and first["hasNextPage"]
    assert first["features"][0]["geometry"]["type"] == "MultiPolygon"
    rest = _gql(server, page % f', after: "{first["endCursor"]}"')["data"]["layerFeatures"]
    ids = [f["id"] for f in first["features"] + rest["features"]]
    assert len(ids) == len(set(ids)) == 8
    assert all(f["properties"]["land_use"] == "school" for f in rest["features"])
    bad = _gql(server, '{ layerFeatures(layer: "test_parcels", filter: "nope = 1") { endCursor } }')
    assert "nope" in bad["errors"][0]["message"]


@pytest.mark.parametrize(
    ("relation", "extra", "message"),
    [
        ("public.no_such_table", [], "there is no table or view public.no_such_table"),
        ("public.test_no_srid", [], "has no SRID"),
        ("public.test_no_id", [], "no unique integer id column"),
        ("public.test_parcels", [], "already registered"),
        ("public.test_parcels", ["--id-column", "parcel_no"], "must be an integer column"),
    ],
)  # fmt: skip
def test_a_bad_registration_is_one_clear_line(
    server: str, database_url: str, relation: str, extra: list[str], message: str
) -> None:
    name = "test_parcels" if "already" in message else "test_bad"
    done = onemap(database_url, "layers", "register", name, relation, "--title", "Bad",
                  "--owner", "water_authority", "--data-class", "public", "--licence", "x",
                  *extra)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    listed = onemap(database_url, "layers", "list").stdout
    assert "test_bad" not in listed


def test_cli_lists_shows_and_updates_metadata(server: str, database_url: str) -> None:
    listed = onemap(database_url, "layers", "list").stdout.splitlines()
    assert any(line.startswith("water_pipes\tinternal\tLineString\twater_authority")
               for line in listed)  # fmt: skip
    updated = onemap(database_url, "layers", "update", "test_parcels",
                     "--title", "Parcels (updated)", "--keyword", "cadastre")  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    shown = onemap(database_url, "layers", "show", "test_parcels").stdout
    assert '"title": "Parcels (updated)"' in shown and '"cadastre"' in shown
    deadline = time.monotonic() + 15
    while httpx.get(f"{server}/ogc/collections/test_parcels").json()["title"] != (
        "Parcels (updated)"
    ):
        assert time.monotonic() < deadline, "the server kept the old title"
        time.sleep(0.2)


def test_every_layers_command_has_help() -> None:
    for command in ([], ["register"], ["list"], ["show"], ["update"], ["unregister"]):
        done = subprocess.run([ONEMAP, "layers", *command, "--help"], capture_output=True,
                              text=True, timeout=60, cwd=ROOT, check=False)  # fmt: skip
        assert done.returncode == 0 and "Usage: onemap layers" in done.stdout


def test_csv_and_geopackage_downloads_of_a_registered_layer(server: str, tmp_path: Path) -> None:
    csv = httpx.get(f"{server}/ogc/collections/test_parcels/items", params={"f": "csv"})
    assert csv.status_code == 200
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(",") == ["id", "parcel_no", "land_use", "area_m2", "approved", "wkt"]
    assert len(lines) == 26 and any(",P-3,green,3001.5,2024-01-04," in x for x in lines)
    gpkg = httpx.get(f"{server}/ogc/collections/test_parcels/items", params={"f": "gpkg"})
    assert gpkg.status_code == 200
    path = tmp_path / "parcels.gpkg"
    path.write_bytes(gpkg.content)
    info = pyogrio.read_info(path)
    assert info["features"] == 25 and info["geometry_type"] == "MultiPolygon"


def test_a_tracked_department_layer_answers_as_of(server: str, database_url: str) -> None:
    """A department tracks its registered table's history (docs/history.md: one call, by the
    owner role that owns the city's tables) with dated changes from its data load; the
    catalogue picks it up and OGC items answer ``asOf`` through the layer's own id and
    geometry columns."""
    owner = database_roles().owner
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = _one(conn, "SELECT land_use FROM test_parcels WHERE gid = 7")
        conn.execute(f'ALTER TABLE test_parcels OWNER TO "{owner}"')
        conn.execute(f'SET ROLE "{owner}"')
        with conn.transaction():
            conn.execute("SELECT onemap_track_history('public.test_parcels', 'gid', "
                         "'2025-01-01T00:00:00Z')")  # fmt: skip
        for at, land_use in (("2025-06-01", "industrial"), ("2025-09-01", before)):
            with conn.transaction():
                conn.execute("SELECT set_config('onemap.valid_at', %s, true)", (f"{at}T00:00:00Z",))
                conn.execute("UPDATE test_parcels SET land_use = %s WHERE gid = 7", (land_use,))
        # the catalogue's notice, as a change to it sends: every process reloads now
        conn.execute("SELECT pg_notify('onemap_catalogue', '{\"layer\": \"test_parcels\"}')")
        written = str(_one(conn, "SELECT pg_current_wal_lsn()"))
    items = f"{server}/ogc/collections/test_parcels/items"
    # The reads carry the load's WAL position, as a writer's client does (docs/scale.md): a
    # replica serves them only once it has replayed the dated changes.
    lsn = {"X-OneMap-LSN": written}

    def land_use(**params: str) -> str:
        deadline = time.monotonic() + 15
        while True:
            r = httpx.get(items, params={"limit": 100, **params}, headers=lsn, timeout=30)
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.3)  # until this process has reloaded the catalogue
        assert r.status_code == 200, r.text
        found = {f["id"]: f["properties"]["land_use"] for f in r.json()["features"]}
        assert len(found) == 25
        return str(found[7])

    assert land_use(asOf="2025-07-01T00:00:00Z") == "industrial"
    assert land_use(asOf="2025-03-01T00:00:00Z") == before
    assert land_use() == before  # today
    early = httpx.get(items, params={"asOf": "2024-06-01T00:00:00Z"}, headers=lsn, timeout=30)
    assert early.status_code == 400 and "before the history" in early.json()["description"]
    queryables = httpx.get(f"{server}/ogc/collections/test_parcels/queryables", timeout=30).json()
    assert "x-onemap-asOf" in queryables
