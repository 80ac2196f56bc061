"""OGC API - Features at /ogc through the ASGI app: documents, access, items, filters, CRSs."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql
from starlette.testclient import TestClient

from geo.layers import CASES_PUBLIC, INTERNAL_VIEWS, PUBLIC_VIEWS
from server.app import create_app
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings

#: The built-in public layers and the demo city's public catalogue layers (docs/catalogue.md).
PUBLIC = {"admin_areas", "grid_cells", "facilities", "cases", "sensors", "roads",
          "planning_zones", "ecological_red_lines"}  # fmt: skip
BOX = (121.45, 31.20, 121.50, 31.25)


def bearer(tokens: TokenService, *roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.issue_access(9001, roles)}


def scalar(db: psycopg.Connection[Any], query: str, *args: Any) -> Any:
    row = db.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def test_landing_page_carries_what_qgis_needs(client: TestClient, settings: Settings) -> None:
    r = client.get("/ogc/")
    assert r.status_code == 200
    links = {link["rel"]: link for link in r.json()["links"]}
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["data"]["type"] == "application/json"
    assert links["conformance"]["href"] == f"{settings.server.base_url}/ogc/conformance"
    assert links["data"]["href"] == f"{settings.server.base_url}/ogc/collections"


def test_openapi_document_is_self_contained(client: TestClient) -> None:
    r = client.get("/ogc/openapi")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    text = r.text
    assert '"$ref": "http' not in text and '"$ref":"http' not in text
    paths = r.json()["paths"]
    assert "/collections/facilities/items" in paths
    assert (
        "/collections/facilities/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}" in paths
    )
    assert not any("cameras" in p for p in paths)


def test_conformance_lists_features_cql2_and_tiles(client: TestClient) -> None:
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    for part in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                 "ogcapi-features-2/1.0/conf/crs", "cql2/1.0/conf/cql2-text",
                 "ogcapi-features-4/1.0/conf/create-replace-delete",
                 "ogcapi-tiles-1/1.0/conf/mvt"):  # fmt: skip
        assert any(c.endswith(part) for c in classes), part


def test_anonymous_collections_are_the_public_ones(client: TestClient) -> None:
    body = client.get("/ogc/collections").json()
    found = {c["id"]: c for c in body["collections"]}
    assert set(found) == PUBLIC
    for c in found.values():
        assert c["title"] and c["description"]
        assert len(c["extent"]["spatial"]["bbox"][0]) == 4
        assert any(link["rel"].endswith("tilesets-vector") for link in c["links"])
    assert "temporal" in found["cases"]["extent"]


def test_staff_see_cameras_in_the_listing(client: TestClient, tokens: TokenService) -> None:
    body = client.get("/ogc/collections", headers=bearer(tokens, "dispatcher")).json()
    assert {c["id"] for c in body["collections"]} == PUBLIC | {
        "cameras",
        "buildings",
        "water_pipes",
    }


@pytest.mark.parametrize("path", ["/ogc/collections/cameras", "/ogc/collections/cameras/items",
                                  "/ogc/collections/cameras/items/1",
                                  "/ogc/collections/cameras/queryables"])  # fmt: skip
def test_cameras_need_a_staff_token(client: TestClient, tokens: TokenService, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 401
    assert r.json()["code"] == "NotAuthorized" and r.json()["description"]
    r = client.get(path, headers=bearer(tokens, "citizen"))
    assert r.status_code == 403
    assert r.json()["code"] == "Forbidden"
    assert client.get(path, headers=bearer(tokens, "camera_viewer")).status_code == 200


def test_cameras_never_show_their_source(client: TestClient, tokens: TokenService) -> None:
    r = client.get("/ogc/collections/cameras/items?limit=500", headers=bearer(tokens, "admin"))
    features = r.json()["features"]
    assert features
    assert all("source" not in f["properties"] for f in features)
    assert "rtsp" not in r.text.lower()


def test_public_facilities_hide_hazard_sources_even_by_id(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any]
) -> None:
    hazard = scalar(db, "SELECT min(id) FROM facilities WHERE category = 'hazard_source'")
    assert client.get(f"/ogc/collections/facilities/items/{hazard}").status_code == 404
    r = client.get("/ogc/collections/facilities/items?category=hazard_source")
    assert r.json()["numberMatched"] == 0
    staff = client.get(
        f"/ogc/collections/facilities/items/{hazard}", headers=bearer(tokens, "analyst")
    )
    assert staff.status_code == 200
    assert staff.json()["properties"]["category"] == "hazard_source"


def test_public_cases_are_anonymised(client: TestClient, tokens: TokenService) -> None:
    features = client.get("/ogc/collections/cases/items?limit=50").json()["features"]
    assert {k for f in features for k in f["properties"]} <= set(CASES_PUBLIC.columns)
    assert all("description" not in f["properties"] for f in features)
    staff = client.get("/ogc/collections/cases/items?limit=5", headers=bearer(tokens, "dispatcher"))
    assert "description" in staff.json()["features"][0]["properties"]


@pytest.mark.parametrize("name", sorted(INTERNAL_VIEWS))
def test_queryables_match_the_columns(client: TestClient, tokens: TokenService, name: str) -> None:
    r = client.get(f"/ogc/collections/{name}/queryables", headers=bearer(tokens, "admin"))
    assert r.status_code == 200
    props = r.json()["properties"]
    assert set(props) - {"geometry"} == set(INTERNAL_VIEWS[name].columns)
    if name in PUBLIC_VIEWS:
        public = client.get(f"/ogc/collections/{name}/queryables").json()["properties"]
        assert set(public) - {"geometry"} == set(PUBLIC_VIEWS[name].columns)


def test_following_next_visits_every_feature_once(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    expected = scalar(db, "SELECT count(*) FROM facilities WHERE category <> 'hazard_source'")
    url: str | None = "/ogc/collections/facilities/items?limit=137&skipGeometry=true"
    seen: list[int] = []
    first = True
    while url:
        body = client.get(url).json()
        if first:
            assert body["numberMatched"] == expected
            first = False
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].split("127.0.0.1:8000", 1)[1] if nxt else None
    assert len(seen) == len(set(seen)) == expected


def test_bbox_selects_what_postgis_selects(client: TestClient, db: psycopg.Connection[Any]) -> None:
    expected = scalar(
        db,
        "SELECT count(*) FROM cases_public WHERE "
        "ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))",
        *BOX,
    )
    r = client.get(
        "/ogc/collections/cases/items", params={"bbox": ",".join(map(str, BOX)), "limit": 10000}
    )
    body = r.json()
    assert body["numberMatched"] == body["numberReturned"] == expected > 0
    for f in body["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert BOX[0] <= lon <= BOX[2] and BOX[1] <= lat <= BOX[3]


def test_bbox_crs_in_lat_lon_order(client: TestClient) -> None:
    lonlat = client.get("/ogc/collections/facilities/items",
                        params={"bbox": "121.45,31.20,121.50,31.25"}).json()  # fmt: skip
    latlon = client.get(
        "/ogc/collections/facilities/items",
        params={
            "bbox": "31.20,121.45,31.25,121.50",
            "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
        },
    ).json()
    assert lonlat["numberMatched"] == latlon["numberMatched"] > 0


def test_datetime_instants_and_intervals(client: TestClient, db: psycopg.Connection[Any]) -> None:
    when = scalar(db, "SELECT reported_at FROM cases_public ORDER BY id LIMIT 1")
    instant = when.isoformat().replace("+00:00", "Z")
    body = client.get("/ogc/collections/cases/items", params={"datetime": instant}).json()
    assert body["numberReturned"] >= 1
    assert all(
        f["properties"]["reported_at"].startswith(when.strftime("%Y-%m-%dT%H:%M"))
        for f in body["features"]
    )
    expected = scalar(db, "SELECT count(*) FROM cases_public WHERE reported_at >= %s", when)
    body = client.get(
        "/ogc/collections/cases/items", params={"datetime": f"{instant}/..", "limit": 1}
    ).json()
    assert body["numberMatched"] == expected


def test_property_filter_sortby_and_properties(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    expected = scalar(db, "SELECT count(*) FROM facilities WHERE category = 'school'")
    body = client.get("/ogc/collections/facilities/items", params={
        "category": "school", "sortby": "-capacity,name_en", "properties": "capacity,category",
        "limit": 1000}).json()  # fmt: skip
    assert body["numberMatched"] == expected > 0
    props = [f["properties"] for f in body["features"]]
    assert all(set(p) == {"capacity", "category"} and p["category"] == "school" for p in props)
    capacities = [p["capacity"] for p in props if p["capacity"] is not None]
    assert capacities == sorted(capacities, reverse=True)


def test_cql2_text_and_json_agree_with_sql(client: TestClient, db: psycopg.Connection[Any]) -> None:
    expected = scalar(
        db, "SELECT count(*) FROM facilities WHERE category = 'hospital' AND capacity > 100"
    )
    text = client.get(
        "/ogc/collections/facilities/items",
        params={"filter": "category = 'hospital' AND capacity > 100"},
    ).json()
    cql_json = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "category"}, "hospital"]},
            {"op": ">", "args": [{"property": "capacity"}, 100]},
        ],
    }
    as_json = client.get(
        "/ogc/collections/facilities/items",
        params={"filter": json.dumps(cql_json), "filter-lang": "cql2-json"},
    ).json()
    assert text["numberMatched"] == as_json["numberMatched"] == expected
    spatial = client.get(
        "/ogc/collections/facilities/items",
        params={
            "filter": "S_INTERSECTS(geometry, POLYGON((121.45 31.2,121.5 31.2,121.5 31.25,"
            "121.45 31.25,121.45 31.2)))"
        },
    ).json()
    boxed = client.get(
        "/ogc/collections/facilities/items", params={"bbox": ",".join(map(str, BOX))}
    ).json()
    assert spatial["numberMatched"] == boxed["numberMatched"]


@pytest.mark.parametrize(("crs", "srid", "lat_first"), [
    ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False),
    ("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True),
    ("http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False),
    ("http://www.opengis.net/def/crs/EPSG/0/4490", 4490, True),
])  # fmt: skip
def test_output_crs(
    client: TestClient, db: psycopg.Connection[Any], crs: str, srid: int, lat_first: bool
) -> None:
    fid = scalar(db, "SELECT min(id) FROM facilities WHERE category <> 'hazard_source'")
    r = client.get(f"/ogc/collections/facilities/items/{fid}", params={"crs": crs})
    assert r.headers["content-crs"] == f"<{crs}>"
    x, y = r.json()["geometry"]["coordinates"]
    ex, ey = db.execute(
        "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, %s) g FROM facilities "
        "WHERE id = %s) s",
        (srid, fid),
    ).fetchone() or (0, 0)
    if lat_first:
        x, y = y, x
    assert x == pytest.approx(ex, abs=1e-2) and y == pytest.approx(ey, abs=1e-2)


def test_html_pages_render(client: TestClient) -> None:
    for path in (
        "/ogc/?f=html",
        "/ogc/collections?f=html",
        "/ogc/collections/facilities/items?f=html&limit=3",
        "/ogc/collections/grid_cells/queryables?f=html",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")


def test_unknown_items_are_404(client: TestClient) -> None:
    for path in (
        "/ogc/collections/facilities/items/999999999",
        "/ogc/collections/facilities/items/abc",
        "/ogc/collections/nowhere/items",
        "/ogc/no/such/path",
        "/ogc/collections/nowhere",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == "NotFound"


BAD = [
    {"bbox": "1,2,3"},
    {"bbox": "121,95,122,96"},
    {"bbox": "a,b,c,d"},
    {"limit": "-1"},
    {"limit": "1000000000"},
    {"limit": "ten"},
    {"offset": "-5"},
    {"nosuch": "1"},
    {"properties": "nosuch"},
    {"sortby": "nosuch"},
    {"filter": "capacity >> 3"},
    {"filter": "nosuch = 1"},
    {"filter": "capacity = 'many'"},
    {"filter": "{", "filter-lang": "cql2-json"},
    {"crs": "EPSG:9999"},
    {"bbox": "1,2,3,4", "bbox-crs": "urn:nothing"},
    {"datetime": "garbage"},
    {"datetime": "2026-02-01/2026-01-01"},
    {"skipGeometry": "maybe"},
    {"f": "xml"},
    {"capacity": "lots"},
    {"filter-lang": "sql", "filter": "1=1"},
]


@pytest.mark.parametrize("params", BAD, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_bad_input_is_400_with_an_ogc_exception(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/ogc/collections/cases/items", params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "InvalidParameterValue" and len(body["description"]) > 10


SQLISH = "1'; DROP TABLE facilities; --"
PARAMS = ["bbox", "bbox-crs", "datetime", "limit", "offset", "sortby", "properties", "skipGeometry",
          "filter", "filter-lang", "crs", "f", "category", "capacity"]  # fmt: skip


@pytest.mark.parametrize("name", PARAMS)
def test_sql_looking_strings_in_every_parameter(
    client: TestClient, db: psycopg.Connection[Any], name: str
) -> None:
    r = client.get("/ogc/collections/facilities/items", params={name: SQLISH})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["code"] == "InvalidParameterValue"
    else:
        assert r.json()["numberReturned"] == 0
    assert scalar(db, "SELECT count(*) FROM facilities") > 0


def test_number_matched_is_exact_or_absent(db: psycopg.Connection[Any]) -> None:
    """The documented strategy: exact when the page is short (free), counted up to the cap in
    the page's statement, above it counted within the time budget (whole layers); omitted —
    never estimated — otherwise."""
    from psycopg.errors import QueryCanceled

    from geo.queries import Query, fetch_sync
    from geo.queries.ogc_items import ItemQuery, count, items

    total = scalar(db, "SELECT count(*) FROM facilities WHERE category <> 'hazard_source'")
    view = PUBLIC_VIEWS["facilities"]
    capped = fetch_sync(db, items(ItemQuery(view, limit=10, count_cap=50)))
    assert capped.returned == 10 and capped.matched is None and capped.last_id is not None
    under = fetch_sync(db, items(ItemQuery(view, limit=10, count_cap=total)))
    assert under.matched == total
    keyset = fetch_sync(db, items(ItemQuery(view, limit=10, after_id=under.last_id)))
    assert keyset.returned == 10 and keyset.matched is None
    counted = count(ItemQuery(view, limit=10), 2_000)
    assert fetch_sync(db, counted) == total
    assert counted.local == (("statement_timeout", "2000ms"),)
    last = fetch_sync(db, items(ItemQuery(view, limit=10, offset=total - 3)))
    assert last.returned == 3 and last.matched == total
    beyond = fetch_sync(db, items(ItemQuery(view, limit=10, offset=total + 5)))
    assert beyond.returned == 0 and beyond.matched is None
    # The budget holds for that statement alone: PostgreSQL cancels it, the session keeps its
    # own time-out.
    db.commit()
    before = scalar(db, "SHOW statement_timeout")
    slow = Query(sql.SQL("SELECT pg_sleep(0.5)"), {}, lambda rows: 0,
                 local=(("statement_timeout", "50ms"),))  # fmt: skip
    with pytest.raises(QueryCanceled):
        fetch_sync(db, slow)
    db.rollback()
    assert scalar(db, "SHOW statement_timeout") == before


def test_above_the_cap_whole_layers_are_counted_and_viewports_are_not(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    """With a cap of 50: the whole layer (as GDAL and QGIS open it) still gets its exact
    count, within the time budget; a full map viewport above the cap goes without."""
    from tests.conftest import settings_for

    settings = settings_for(database_url)
    settings.ogc.count_cap = 50
    total = scalar(db, "SELECT count(*) FROM facilities WHERE category <> 'hazard_source'")
    with TestClient(create_app(settings)) as small:
        whole = small.get("/ogc/collections/facilities/items?limit=10").json()
        assert whole["numberMatched"] == total > 50
        box = small.get("/ogc/collections/facilities/items",
                        params={"limit": 10, "bbox": "121.3,31.0,121.7,31.5"}).json()  # fmt: skip
        assert box["numberReturned"] == 10 and "numberMatched" not in box


def test_first_pages_count_and_next_links_page_by_keyset_in_big_pages(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    """As stock GDAL 3.6 reads a layer: limit=10, numberMatched from the first page, then the
    next links as given — which page by id in pages of up to 1,000."""
    total = scalar(db, "SELECT count(*) FROM facilities WHERE category <> 'hazard_source'")
    url = "/ogc/collections/facilities/items?f=json&limit=10"
    first = client.get(url).json()
    assert first["numberMatched"] == total and first["numberReturned"] == 10
    seen = [f["id"] for f in first["features"]]
    sizes = [10]
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert "after=" in nxt and "limit=100" in nxt and "offset" not in nxt
    while nxt:
        page = client.get(nxt).json()
        assert "numberMatched" not in page or page["numberMatched"] == total
        seen += [f["id"] for f in page["features"]]
        sizes.append(page["numberReturned"])
        nxt = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == total and seen == sorted(seen)
    assert sizes[:3] == [10, 100, min(1000, total - 110)]


def test_paging_everything_visits_every_feature_once_while_rows_change(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    """Between every two pages a facility is added and one already shown leaves the public
    layer (made a hazard source): with offsets each departure would hide an unseen feature;
    keyset next links show every feature that stayed exactly once, and the new ones too."""
    before = {int(r[0]) for r in db.execute(
        "SELECT id FROM facilities WHERE category <> 'hazard_source'").fetchall()}  # fmt: skip
    nxt: str | None = "/ogc/collections/facilities/items?f=json&limit=50"
    seen: list[int] = []
    hidden: list[tuple[int, str]] = []
    added: list[int] = []
    try:
        while nxt:
            page = client.get(nxt).json()
            seen += [f["id"] for f in page["features"]]
            nxt = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
            row = db.execute(
                "INSERT INTO facilities (code, category, name_zh, name_en, grid_cell_id, geom) "
                "SELECT 'T' || substr(md5(random()::text), 1, 10), 'park', '测试公园', "
                "'Test Park', grid_cell_id, geom FROM facilities WHERE id = %s RETURNING id",
                (seen[0],),
            ).fetchone()  # fmt: skip
            assert row is not None
            added.append(int(row[0]))
            gone = next(i for i in seen if i in before and i not in dict(hidden))
            category = db.execute("UPDATE facilities f SET category = 'hazard_source' FROM "
                                  "facilities o WHERE f.id = o.id AND f.id = %s RETURNING "
                                  "o.category", (gone,)).fetchone()  # fmt: skip
            assert category is not None
            hidden.append((gone, category[0]))
            db.commit()
        assert len(seen) == len(set(seen)), "a feature was shown twice"
        assert before <= set(seen), f"{len(before - set(seen))} features were skipped"
        assert set(added[:-1]) <= set(seen)  # those added while paging are reached too
    finally:
        db.rollback()
        for fid, category in hidden:
            db.execute("UPDATE facilities SET category = %s WHERE id = %s", (category, fid))
        db.execute("DELETE FROM facilities WHERE id = ANY(%s)", (added,))
        db.commit()


def test_wrong_method_is_405_as_ogc_json(client: TestClient) -> None:
    r = client.delete("/ogc/collections")
    assert r.status_code == 405
    assert r.json()["code"] == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("collection", "cql", "where"),
    [("cases", "T_AFTER(reported_at, TIMESTAMP('2026-10-01T00:00:00Z'))",
      "reported_at > '2026-10-01T00:00:00Z'"),
     ("cases", "T_DURING(reported_at, INTERVAL('2026-09-01T00:00:00Z', '..'))",
      "reported_at >= '2026-09-01T00:00:00Z'"),
     ("facilities", "S_INTERSECTS(geometry, BBOX(121.45, 31.2, 121.5, 31.25))",
      "ST_Intersects(geom, ST_MakeEnvelope(121.45, 31.2, 121.5, 31.25, 4326))"),
     ("facilities", "CASEI(name_en) LIKE CASEI('%HOSPITAL%')", "name_en ILIKE '%%hospital%%'"),
     ("facilities", "CASEI(category) = CASEI('SCHOOL')", "category = 'school'"),
     ("facilities", "capacity BETWEEN 100 AND 500 AND category IN ('school', 'hospital')",
      "capacity BETWEEN 100 AND 500 AND category IN ('school', 'hospital')"),
     ("facilities", "NOT (category = 'park') AND S_WITHIN(geometry, POLYGON((121.4 31.1, "
      "121.6 31.1, 121.6 31.3, 121.4 31.1)))", "category <> 'park' AND ST_Within(geom, "
      "ST_GeomFromText('POLYGON((121.4 31.1, 121.6 31.1, 121.6 31.3, 121.4 31.1))', 4326))")],
)  # fmt: skip
def test_cql2_text_from_the_standard_matches_sql(
    client: TestClient, db: psycopg.Connection[Any], collection: str, cql: str, where: str
) -> None:
    """CQL2 1.0 text as clients write it (temporal functions, BBOX literals, CASEI, BETWEEN,
    IN, spatial predicates), parsed by cql2: the features PostGIS finds for the same test."""
    table = "cases_public" if collection == "cases" else "facilities"
    public = "" if collection == "cases" else " AND category <> 'hazard_source'"
    expected = scalar(db, f"SELECT count(*) FROM {table} WHERE {where}{public}")
    r = client.get(f"/ogc/collections/{collection}/items", params={"filter": cql, "limit": 1})
    assert r.status_code == 200, r.text
    assert r.json()["numberMatched"] == expected > 0


def test_a_filter_nested_past_the_limit_is_a_400_and_the_server_lives(client: TestClient) -> None:
    """cql2-rs would overflow its stack (ending the process) a few thousand levels down."""
    for depth, lang in ((3000, "cql2-text"), (60, "cql2-json")):
        text = "(" * depth + "capacity = 1" + ")" * depth
        if lang == "cql2-json":
            node: Any = {"op": "=", "args": [{"property": "capacity"}, 1]}
            for _ in range(depth):
                node = {"op": "not", "args": [node]}
            text = json.dumps(node)
        r = client.get("/ogc/collections/facilities/items",
                       params={"filter": text, "filter-lang": lang})  # fmt: skip
        assert r.status_code == 400 and "nested too deeply" in r.json()["description"]
    assert client.get("/ogc/collections/facilities/items?limit=1").status_code == 200
