"""History (docs/history.md) from the outside: a facility created, renamed, moved and deleted
through OGC API - Features Part 4, a building loaded, altered and pulled down in SQL (as a
department's data load writes them), then read "as of" before and after each change on a
running server — GDAL's OAPIF driver (pyogrio), OWSLib, plain GeoJSON, GraphQL and vector tiles
(decoded) — as a user of each sees them: the old name and place before, the new after, the
deleted one only before its deletion. Bad instants are 400s with the reason; access rules are
the live layer's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pyogrio  # type: ignore[import-untyped]
import pytest
from owslib.ogcapi.features import Features  # type: ignore[import-untyped]
from psycopg import sql

from server.kernel.auth.tokens import TokenService
from tests.conftest import database_roles
from tests.running_server import running_server
from tests.tile_helpers import features, tile_at

pytestmark = pytest.mark.slow

OLD = (121.4737, 31.2304)  # People's Square
NEW = (121.5010, 31.2450)  # about 3 km north-east, another z15 tile
GEOJSON = {"Content-Type": "application/geo+json"}


@dataclass
class Story:
    """A facility's and a building's life, with the database's clock between the changes."""

    facility: int
    code: str
    building: int
    before: datetime  # before either existed
    created: datetime  # both stand, with their first name, place, floors
    changed: datetime  # renamed and moved; the building raised and moved
    deleted: datetime  # both gone


def _now(conn: psycopg.Connection[Any]) -> datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _feature(code: str, name_zh: str, name_en: str, at: tuple[float, float]) -> str:
    return json.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": at},
                       "properties": {"code": code, "category": "shelter", "name_zh": name_zh,
                                      "name_en": name_en, "capacity": 300}})  # fmt: skip


def _square(lon: float, lat: float) -> str:
    d = 0.0002
    return (f"MULTIPOLYGON((({lon} {lat}, {lon + d} {lat}, {lon + d} {lat + d}, "
            f"{lon} {lat + d}, {lon} {lat})))")  # fmt: skip


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


@pytest.fixture(scope="module")
def story(server: str, database_url: str, tokens: TokenService) -> Story:
    admin = {"Authorization": "Bearer " + tokens.issue_access(1, ["admin"])} | GEOJSON
    code = "H-" + uuid.uuid4().hex[:8]
    items = f"{server}/ogc/collections/facilities/items"
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT max(id) + 1000, (SELECT id FROM grid_cells ORDER BY id "
                           "LIMIT 1) FROM buildings").fetchone()  # fmt: skip
        assert row is not None
        building, cell = int(row[0]), int(row[1])
        before = _now(conn)
        r = httpx.post(items, content=_feature(code, "老城避难所", "Old Town shelter", OLD),
                       headers=admin)  # fmt: skip
        assert r.status_code == 201, r.text
        facility = int(r.headers["location"].rsplit("/", 1)[1])
        conn.execute(
            "INSERT INTO buildings (id, name_zh, grid_cell_id, use, floors, height_m, geom) "
            "VALUES (%s, '历史测试楼', %s, 'industrial', 3, 9.3, ST_GeomFromText(%s, 4326))",
            (building, cell, _square(*OLD)),
        )
        created = _now(conn)
        r = httpx.put(f"{items}/{facility}",
                      content=_feature(code, "新城避难所", "New Town shelter", NEW),
                      headers=admin)  # fmt: skip
        assert r.status_code == 204, r.text
        conn.execute("UPDATE buildings SET floors = 12, height_m = 37.2, use = 'office', "
                     "geom = ST_GeomFromText(%s, 4326) WHERE id = %s",
                     (_square(*NEW), building))  # fmt: skip
        changed = _now(conn)
        assert httpx.delete(f"{items}/{facility}", headers=admin).status_code == 204
        conn.execute("DELETE FROM buildings WHERE id = %s", (building,))
        deleted = _now(conn)
    return Story(facility, code, building, before, created, changed, deleted)


def _get(server: str, path: str, token: str | None = None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server}{path}", params=params, headers=headers, timeout=30)


def _box(at: tuple[float, float]) -> str:
    return f"{at[0] - 0.002},{at[1] - 0.002},{at[0] + 0.002},{at[1] + 0.002}"


# --- OGC API - Features: GeoJSON, OWSLib, GDAL ---


def test_an_item_as_of_each_moment_shows_its_name_and_place_then(server: str, story: Story) -> None:
    path = f"/ogc/collections/facilities/items/{story.facility}"
    assert _get(server, path, asOf=_iso(story.before)).status_code == 404
    then = _get(server, path, asOf=_iso(story.created))
    assert then.status_code == 200, then.text
    assert then.json()["properties"]["name_zh"] == "老城避难所"
    assert then.json()["geometry"]["coordinates"] == pytest.approx(list(OLD))
    self_link = next(x["href"] for x in then.json()["links"] if x["rel"] == "self")
    assert "asOf=" in self_link
    later = _get(server, path, asOf=_iso(story.changed)).json()
    assert later["properties"]["name_en"] == "New Town shelter"
    assert later["geometry"]["coordinates"] == pytest.approx(list(NEW))
    gone = _get(server, path, asOf=_iso(story.deleted))
    assert gone.status_code == 404 and "as of" in gone.json()["description"]
    assert _get(server, path).status_code == 404  # today: deleted


def test_items_in_a_box_as_of_before_and_after_the_move(server: str, story: Story) -> None:
    def codes(at: tuple[float, float], when: datetime) -> dict[str, str]:
        r = _get(server, "/ogc/collections/facilities/items", bbox=_box(at), asOf=_iso(when),
                 limit="1000")  # fmt: skip
        assert r.status_code == 200, r.text
        return {f["properties"]["code"]: f["properties"]["name_zh"] for f in r.json()["features"]}

    assert codes(OLD, story.created)[story.code] == "老城避难所"
    assert story.code not in codes(NEW, story.created)
    assert story.code not in codes(OLD, story.changed)
    assert codes(NEW, story.changed)[story.code] == "新城避难所"
    assert story.code not in codes(NEW, story.deleted)
    assert story.code not in codes(OLD, story.before)


def test_a_csv_download_as_of_holds_the_old_name(server: str, story: Story) -> None:
    then = _get(server, "/ogc/collections/facilities/items", f="csv", bbox=_box(OLD),
                asOf=_iso(story.created))  # fmt: skip
    assert then.status_code == 200, then.text
    assert story.code in then.text and "老城避难所" in then.text
    now = _get(server, "/ogc/collections/facilities/items", f="csv", bbox=_box(OLD))
    assert now.status_code == 200 and story.code not in now.text


def test_owslib_passes_as_of_and_reads_the_old_version(server: str, story: Story) -> None:
    api = Features(f"{server}/ogc")
    box = [float(v) for v in _box(OLD).split(",")]
    then = api.collection_items("facilities", bbox=box, asOf=_iso(story.created))
    assert [f["properties"]["name_en"] for f in then["features"]
            if f["properties"]["code"] == story.code] == ["Old Town shelter"]  # fmt: skip
    now = api.collection_items("facilities", bbox=box)
    assert story.code not in {f["properties"]["code"] for f in now["features"]}


def _gdal_codes(server: str, query: str, token: str | None = None) -> dict[str, str]:
    """The facilities GDAL reads around OLD and NEW (``query`` goes on every request)."""
    if token:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token})
    try:
        box = (min(OLD[0], NEW[0]) - 0.002, min(OLD[1], NEW[1]) - 0.002,
               max(OLD[0], NEW[0]) + 0.002, max(OLD[1], NEW[1]) + 0.002)  # fmt: skip
        meta, _fids, _geometry, fields = pyogrio.raw.read(
            f"OAPIF:{server}/ogc{query}", layer="facilities", bbox=box, PAGE_SIZE=1000
        )
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})
    names = list(meta["fields"])
    return dict(zip(fields[names.index("code")], fields[names.index("name_zh")], strict=True))


def test_gdal_reads_the_layer_as_of_a_time_from_its_connection_string(
    server: str, story: Story
) -> None:
    assert _gdal_codes(server, f"?asOf={_iso(story.created)}")[story.code] == "老城避难所"
    assert _gdal_codes(server, f"?asOf={_iso(story.changed)}")[story.code] == "新城避难所"
    assert story.code not in _gdal_codes(server, f"?asOf={_iso(story.deleted)}")
    assert story.code not in _gdal_codes(server, "")


def test_a_building_as_of_each_moment_for_staff(
    server: str, story: Story, tokens: TokenService
) -> None:
    staff = tokens.issue_access(9002, ["analyst"])
    path = f"/ogc/collections/buildings/items/{story.building}"
    first = _get(server, path, staff, asOf=_iso(story.created)).json()["properties"]
    assert (first["use"], first["floors"]) == ("industrial", 3)
    later = _get(server, path, staff, asOf=_iso(story.changed)).json()["properties"]
    assert (later["use"], later["floors"], later["height_m"]) == ("office", 12, 37.2)
    assert _get(server, path, staff, asOf=_iso(story.deleted)).status_code == 404
    box = _get(server, "/ogc/collections/buildings/items", staff, bbox=_box(OLD),
               asOf=_iso(story.created)).json()  # fmt: skip
    assert story.building in {f["id"] for f in box["features"]}
    # The live layer's rules: no token, no buildings — today or then.
    assert _get(server, path, asOf=_iso(story.created)).status_code in (401, 403, 404)


# --- bad instants ---


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("yesterday", "not an RFC 3339 date-time"),
        ("2999-01-01T00:00:00Z", "in the future"),
        ("2001-01-01T00:00:00Z", "before the history of facilities starts"),
    ],
)
def test_a_bad_as_of_is_a_400_with_the_reason(server: str, value: str, words: str) -> None:
    for path in ("/ogc/collections/facilities/items", "/ogc/collections/facilities/items/1",
                 "/ogc/collections/facilities/tiles/WebMercatorQuad/15/13392/27438"):  # fmt: skip
        r = _get(server, path, asOf=value)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["code"] == "InvalidParameterValue" and words in r.json()["description"]


def test_a_layer_without_history_refuses_as_of(server: str) -> None:
    r = _get(server, "/ogc/collections/grid_cells/items", asOf="2026-06-01T00:00:00Z")
    assert r.status_code == 400 and "keeps no history" in r.json()["description"]


def test_the_documents_tell_as_of(server: str) -> None:
    doc = _get(server, "/ogc/openapi", f="json").json()
    items = doc["paths"]["/collections/facilities/items"]["get"]["parameters"]
    assert "asOf" in {p.get("name") for p in items if isinstance(p, dict)}
    cells = doc["paths"]["/collections/grid_cells/items"]["get"]["parameters"]
    assert "asOf" not in {p.get("name") for p in cells if isinstance(p, dict)}
    queryables = _get(server, "/ogc/collections/facilities/queryables", f="json").json()
    assert "asOf" in queryables["description"]


# --- GraphQL ---


def _gql(server: str, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.post(f"{server}/graphql", json={"query": query, "variables": variables},
                   headers=headers, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


FACILITY = "query($id: ID!, $t: DateTime) { facility(id: $id, asOf: $t) { nameZh geometry } }"
NEARBY = """query($box: SpatialFilterInput, $t: DateTime) {
  facilities(where: $box, asOf: $t, first: 500) { edges { node { code nameZh } } } }"""
BUILDING = "query($id: ID!, $t: DateTime) { building(id: $id, asOf: $t) { use floors } }"
BUILDINGS = """query($b: BBoxInput!, $t: DateTime) {
  buildings(bbox: $b, asOf: $t, first: 500) { id floors } }"""


def test_graphql_reads_facilities_as_of_a_time(server: str, story: Story) -> None:
    fid = str(story.facility)
    assert _gql(server, FACILITY, id=fid, t=_iso(story.before))["data"]["facility"] is None
    then = _gql(server, FACILITY, id=fid, t=_iso(story.created))["data"]["facility"]
    assert then["nameZh"] == "老城避难所"
    assert then["geometry"]["coordinates"] == pytest.approx(list(OLD))
    later = _gql(server, FACILITY, id=fid, t=_iso(story.changed))["data"]["facility"]
    assert later["nameZh"] == "新城避难所"
    assert later["geometry"]["coordinates"] == pytest.approx(list(NEW))
    assert _gql(server, FACILITY, id=fid, t=_iso(story.deleted))["data"]["facility"] is None

    def near(at: tuple[float, float], when: datetime) -> dict[str, str]:
        box = {"bbox": {"minLon": at[0] - 0.002, "minLat": at[1] - 0.002,
                        "maxLon": at[0] + 0.002, "maxLat": at[1] + 0.002}}  # fmt: skip
        found = _gql(server, NEARBY, box=box, t=_iso(when))
        assert not found.get("errors"), found
        edges = found["data"]["facilities"]["edges"]
        return {e["node"]["code"]: e["node"]["nameZh"] for e in edges}

    assert near(OLD, story.created)[story.code] == "老城避难所"
    assert story.code not in near(OLD, story.changed)
    assert near(NEW, story.changed)[story.code] == "新城避难所"


def test_graphql_reads_buildings_as_of_a_time(
    server: str, story: Story, tokens: TokenService
) -> None:
    staff = tokens.issue_access(9002, ["analyst"])
    bid = str(story.building)
    then = _gql(server, BUILDING, staff, id=bid, t=_iso(story.created))["data"]["building"]
    assert then == {"use": "industrial", "floors": 3}
    later = _gql(server, BUILDING, staff, id=bid, t=_iso(story.changed))["data"]["building"]
    assert later == {"use": "office", "floors": 12}
    assert _gql(server, BUILDING, staff, id=bid, t=_iso(story.deleted))["data"]["building"] is None
    box = {"minLon": OLD[0] - 0.001, "minLat": OLD[1] - 0.001, "maxLon": OLD[0] + 0.001,
           "maxLat": OLD[1] + 0.001}  # fmt: skip
    then_box = _gql(server, BUILDINGS, staff, b=box, t=_iso(story.created))["data"]["buildings"]
    assert bid in {b["id"] for b in then_box}
    now_box = _gql(server, BUILDINGS, staff, b=box)["data"]["buildings"]
    assert bid not in {b["id"] for b in now_box}
    refused = _gql(server, BUILDING, id=bid, t=_iso(story.created))  # anonymous
    assert refused["data"] is None or refused["data"]["building"] is None
    assert refused["errors"]


def test_graphql_refuses_a_future_as_of_with_the_reason(server: str) -> None:
    found = _gql(server, FACILITY, id="1", t="2999-01-01T00:00:00Z")
    assert found["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "in the future" in found["errors"][0]["message"]


# --- vector tiles ---


def _tile(server: str, layer: str, at: tuple[float, float], when: datetime | None,
          token: str | None = None) -> tuple[list[dict[str, Any]], str]:  # fmt: skip
    z, x, y = tile_at(16, *at)
    params = {"asOf": _iso(when)} if when is not None else {}
    r = _get(server, f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}", token,
             **params)  # fmt: skip
    assert r.status_code in (200, 204), r.text
    return features(r.content, layer), r.headers.get("x-cache", "")


def test_tiles_as_of_show_the_facility_where_it_stood(server: str, story: Story) -> None:
    def names(at: tuple[float, float], when: datetime | None) -> dict[int, str]:
        found, cache = _tile(server, "facilities", at, when)
        if when is not None:
            assert cache == "bypass"
        return {int(f["id"]): f["properties"].get("name_zh") for f in found}

    assert names(OLD, story.created)[story.facility] == "老城避难所"
    assert story.facility not in names(NEW, story.created)
    assert story.facility not in names(OLD, story.changed)
    assert names(NEW, story.changed)[story.facility] == "新城避难所"
    assert story.facility not in names(NEW, story.deleted)
    assert story.facility not in names(NEW, None)


def test_tiles_as_of_show_the_building_then(
    server: str, story: Story, tokens: TokenService
) -> None:
    staff = tokens.issue_access(9002, ["analyst"])
    then, _ = _tile(server, "buildings", OLD, story.created, staff)
    assert {int(f["id"]): f["properties"]["floors"] for f in then}[story.building] == 3
    later, _ = _tile(server, "buildings", NEW, story.changed, staff)
    assert {int(f["id"]): f["properties"]["floors"] for f in later}[story.building] == 12
    gone, _ = _tile(server, "buildings", NEW, story.deleted, staff)
    assert story.building not in {int(f["id"]) for f in gone}


# --- the seeded past ---


def test_the_demo_city_has_a_past_that_differs_from_today(server: str, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        renamed = conn.execute(
            "SELECT h.id, h.name_zh, f.name_zh, lower(h.valid) FROM facilities_history h "
            "JOIN facilities f ON f.id = h.id WHERE NOT upper_inf(h.valid) "
            "AND h.name_zh <> f.name_zh ORDER BY h.id LIMIT 1"
        ).fetchone()
        closed = conn.execute(
            "SELECT id, lower(valid), upper(valid) FROM facilities_history "
            "WHERE code LIKE 'FX%' ORDER BY id LIMIT 1"
        ).fetchone()
    assert renamed is not None and closed is not None, "the seed wrote no past"
    fid, old_name, new_name, since = renamed
    then = _gql(server, FACILITY, id=str(fid), t=_iso(since + timedelta(days=1)))
    assert then["data"]["facility"]["nameZh"] == old_name
    assert _gql(server, FACILITY, id=str(fid))["data"]["facility"]["nameZh"] == new_name
    path = f"/ogc/collections/facilities/items/{closed[0]}"
    assert _get(server, path, asOf=_iso(closed[1] + timedelta(days=1))).status_code == 200
    assert _get(server, path, asOf=_iso(closed[2] + timedelta(days=1))).status_code == 404
    assert _get(server, path).status_code == 404


# --- the mechanism's contract (docs/history.md) ---


def test_the_app_role_reads_history_but_neither_writes_nor_dates_it(settings: Any) -> None:
    with psycopg.connect(settings.database.app_libpq_url) as app:
        assert app.execute("SELECT count(*) FROM facilities_history").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("DELETE FROM facilities_history")
        app.rollback()
        app.execute("SELECT set_config('onemap.valid_at', '2025-01-01T00:00:00Z', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may not date"):
            app.execute("UPDATE facilities SET capacity = capacity WHERE id = "
                        "(SELECT min(id) FROM facilities)")  # fmt: skip
        app.rollback()


def test_any_table_opts_in_with_one_call(db: psycopg.Connection[Any]) -> None:
    """A department's line layer, tracked by ``onemap_track_history``: its versions, a no-op
    update making none, a dated load refused before the current version, a column added.
    The table is the owner role's, as migrations and the catalogue make them."""
    owner = sql.SQL("SET ROLE {}").format(sql.Identifier(database_roles().owner))
    db.execute(owner)
    db.execute("CREATE TABLE dept_pipes (id int PRIMARY KEY, kind text NOT NULL, "
               "geom geometry(LineString, 4326) NOT NULL)")  # fmt: skip
    db.execute("INSERT INTO dept_pipes VALUES (1, 'water', "
               "ST_GeomFromText('LINESTRING(121.4 31.2, 121.5 31.2)', 4326))")  # fmt: skip
    row = db.execute("SELECT onemap_track_history('dept_pipes', 'id', "
                     "'2025-01-01T00:00:00Z')::text").fetchone()  # fmt: skip
    assert row == ("dept_pipes_history",)
    db.execute("SELECT set_config('onemap.valid_at', '2025-06-01T00:00:00Z', true)")
    db.execute("UPDATE dept_pipes SET kind = 'gas' WHERE id = 1")
    db.execute("UPDATE dept_pipes SET kind = kind")  # nothing changes: no version
    db.execute("SELECT set_config('onemap.valid_at', '2025-03-01T00:00:00Z', true)")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="before the current version"):
        db.execute("DELETE FROM dept_pipes")
    db.rollback()
    # The whole story again in one transaction, then read back as of three instants.
    db.execute(owner)
    db.execute("CREATE TABLE dept_pipes (id int PRIMARY KEY, kind text NOT NULL, "
               "geom geometry(LineString, 4326) NOT NULL)")  # fmt: skip
    db.execute("SELECT onemap_track_history('dept_pipes', 'id', '2025-01-01T00:00:00Z')")
    for at, statement in (
        ("2025-01-01", "INSERT INTO dept_pipes VALUES (1, 'water', "
                       "ST_GeomFromText('LINESTRING(121.4 31.2, 121.5 31.2)', 4326))"),
        ("2025-06-01", "UPDATE dept_pipes SET kind = 'gas'"),
        ("2025-06-01", "UPDATE dept_pipes SET kind = kind"),
        ("2025-09-01", "DELETE FROM dept_pipes"),
    ):  # fmt: skip
        db.execute("SELECT set_config('onemap.valid_at', %s, true)", (at + "T00:00:00Z",))
        db.execute(statement)
    versions = db.execute("SELECT kind, lower(valid), upper(valid) FROM dept_pipes_history "
                          "ORDER BY lower(valid)").fetchall()  # fmt: skip
    day = [datetime.fromisoformat(f"{d}T00:00:00+00:00") for d in
           ("2025-01-01", "2025-06-01", "2025-09-01")]  # fmt: skip
    assert versions == [("water", day[0], day[1]), ("gas", day[1], day[2])]
    as_of = db.execute("SELECT kind FROM dept_pipes_history WHERE valid @> %s::timestamptz",
                       ("2025-07-01T00:00:00Z",)).fetchall()  # fmt: skip
    assert as_of == [("gas",)]
    db.execute("ALTER TABLE dept_pipes ADD COLUMN diameter_mm int")
    db.execute("SELECT onemap_track_history('dept_pipes', 'id')")  # the history gains it too
    db.execute("SELECT set_config('onemap.valid_at', '', true)")
    db.execute("INSERT INTO dept_pipes VALUES (2, 'water', "
               "ST_GeomFromText('LINESTRING(121.4 31.2, 121.5 31.3)', 4326), 300)")  # fmt: skip
    row = db.execute("SELECT diameter_mm FROM dept_pipes_history WHERE id = 2").fetchone()
    assert row == (300,)
