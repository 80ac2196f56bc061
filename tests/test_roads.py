"""The demo city's road network (issue 16, item 1) as its users meet it: one connected graph
inside the city, and a public layer — OGC items read by GDAL, vector tiles generalised at low
zoom, GraphQL roads by box."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyogrio
import pytest
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient
from strawberry import Schema

from geo.queries.tiles import BUFFER, EXTENT
from seed.geography import build_city
from seed.road_network import build_network
from seed.vocab import ROADS
from tests.gql_helpers import operation, run
from tests.running_server import running_server
from tests.tile_helpers import features, tile_at, url

EDGES = "SELECT id, source, target, cost_s AS cost, reverse_cost_s AS reverse_cost FROM roads"


def one(db: psycopg.Connection[Any], query: str, *args: Any) -> Any:
    row = db.execute(query, args).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def test_the_network_is_one_connected_graph_inside_the_city(db: psycopg.Connection[Any]) -> None:
    classes = dict(db.execute("SELECT road_class, count(*) FROM roads GROUP BY 1").fetchall())
    assert classes["expressway"] > 20 and classes["arterial"] > 500 and classes["local"] > 5000
    # pgRouting's own count of components, on the graph as routing reads it
    components = one(db, "SELECT count(DISTINCT component) FROM pgr_connectedComponents(%s)",
                     EDGES)  # fmt: skip
    assert components == 1
    # and every vertex reaches every other by driving (one-way streets included): a vertex
    # reaches all from vertex 1 and back (strongly connected)
    vertices = one(db, "SELECT count(*) FROM road_vertices")
    out = one(db, "SELECT count(*) FROM pgr_drivingDistance(%s, 1, 1e9, true)", EDGES)
    reverse = EDGES.replace("source, target", "target AS source, source AS target")
    back = one(db, "SELECT count(*) FROM pgr_drivingDistance(%s, 1, 1e9, true)", reverse)
    assert out == back == vertices
    # inside the city: every road within the union of the districts (a metre of tolerance)
    outside = one(db, "SELECT count(*) FROM roads r WHERE NOT ST_Covers(ST_Buffer((SELECT "
                  "ST_Union(geom) FROM admin_areas WHERE level = 'district')::geography, 1)"
                  "::geometry, r.geom)")  # fmt: skip
    assert outside == 0
    # edges join their vertices; costs are length over speed, one way where flagged
    assert one(db, "SELECT count(*) FROM roads r JOIN road_vertices a ON a.id = r.source "
               "JOIN road_vertices b ON b.id = r.target WHERE NOT (ST_StartPoint(r.geom) ~= a.geom "
               "AND ST_EndPoint(r.geom) ~= b.geom)") == 0  # fmt: skip
    assert one(db, "SELECT count(*) FROM roads WHERE abs(cost_s - length_m / (speed_kmh / 3.6)) "
               "> 1e-6 OR (one_way AND reverse_cost_s <> -1)") == 0  # fmt: skip
    assert one(db, "SELECT count(*) FROM roads WHERE one_way") > 500
    named = one(db, "SELECT count(*) FROM roads WHERE name_zh = '' OR name_en = ''")
    assert named == 0


def test_the_network_is_the_same_every_run_and_grows_with_scale(
    db: psycopg.Connection[Any],
) -> None:
    network = build_network(build_city(), ROADS)
    again = build_network(build_city(), ROADS)
    assert network.edges == again.edges
    edges, vertices = network.target(1)
    assert (edges, vertices) == network.target(0.05)  # scales ≤ 1: no lanes
    assert one(db, "SELECT count(*) FROM roads") == edges
    assert one(db, "SELECT count(*) FROM road_vertices") == vertices
    bigger = network.target(10)
    assert bigger[0] > 1.8 * edges  # every cell's lanes
    # lanes only add: the edges of scale 1 are the first edges of scale 10, and a lane runs
    # from a new vertex (its cell's centre) to one there was before it
    lanes = network.edges[edges : bigger[0]]
    assert all(e.road_class == "lane" and e.target < vertices <= e.source for e in lanes)
    first = db.execute("SELECT id, source, target, name_zh FROM roads WHERE id <= 3 ORDER BY id")
    assert [tuple(r) for r in first] == [
        (i + 1, e.source + 1, e.target + 1, e.name_zh) for i, e in enumerate(network.edges[:3])
    ]


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


@pytest.mark.slow
def test_gdal_reads_the_roads_as_named_linestrings(
    server: str, db: psycopg.Connection[Any]
) -> None:
    box = (121.46, 31.22, 121.48, 31.24)
    meta, _fids, geometry, fields = pyogrio.raw.read(
        f"OAPIF:{server}/ogc", layer="roads", bbox=box, PAGE_SIZE=1000
    )
    assert meta["geometry_type"] == "LineString"
    values = dict(zip(meta["fields"], fields, strict=True))
    expected = one(db, "SELECT count(*) FROM roads WHERE ST_Intersects(geom, "
                   "ST_MakeEnvelope(%s, %s, %s, %s, 4326))", *box)  # fmt: skip
    assert len(geometry) == expected > 50
    assert all(values["name_zh"]) and all(values["name_en"])
    assert set(values["road_class"]) >= {"arterial", "local"}
    assert {int(v) for v in values["one_way"]} == {0, 1}


def ids_in(db: psycopg.Connection[Any], where: str, z: int, x: int, y: int, margin: float) -> set:
    """The roads meeting ``where`` in tile z/x/y, grown by ``margin`` of its side."""
    rows = db.execute(
        f"SELECT id FROM roads WHERE ({where}) AND ST_Intersects(ST_Transform(geom, 3857), "
        "ST_Expand(ST_TileEnvelope(%s, %s, %s), %s * (ST_XMax(ST_TileEnvelope(%s, %s, %s)) "
        "- ST_XMin(ST_TileEnvelope(%s, %s, %s)))))",
        (z, x, y, margin, z, x, y, z, x, y),
    )
    return {r[0] for r in rows}


def test_a_roads_tile_holds_the_roads_and_a_low_zoom_one_the_major_roads(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    z, x, y = tile_at(15)
    response = client.get(url("roads", z, x, y))
    assert response.status_code == 200
    found = features(response.content, "roads")
    inside = ids_in(db, "TRUE", z, x, y, 0)
    assert len(inside) > 5
    # the tile's own roads, and those of the buffer its strokes reach into
    assert inside <= {f["id"] for f in found} <= ids_in(db, "TRUE", z, x, y, BUFFER / EXTENT)
    assert {f["geometry"]["type"] for f in found} <= {"LineString", "MultiLineString"}
    assert all(f["properties"]["name_zh"] for f in found)
    z, x, y = tile_at(10)
    low = features(client.get(url("roads", z, x, y)).content, "roads")
    assert {f["properties"]["road_class"] for f in low} == {"expressway", "arterial"}
    # all but the stubs shorter than the tile's grid (≈ 10 m at z10) generalised away
    major = "road_class IN ('expressway', 'arterial') AND length_m > 30"
    assert ids_in(db, major, z, x, y, 0) <= {f["id"] for f in low}
    meta = client.get("/ogc/collections/roads/tiles/WebMercatorQuad").json()
    assert meta["layers"][0]["geometryDimension"] == 1


@pytest.mark.anyio
async def test_graphql_roads_by_box_with_their_conditions(
    schema: Schema, pool: AsyncConnectionPool[Any]
) -> None:
    box = {"minLon": 121.45, "minLat": 31.20, "maxLon": 121.50, "maxLat": 31.25}
    wanted = {"bbox": box, "classes": ["EXPRESSWAY", "ARTERIAL"], "first": 500}
    out = await run(schema, pool, operation("roads"), wanted, operation_name="RoadsInView")
    assert not out.errors, out.errors
    roads = out.data["roads"]
    assert roads and {r["roadClass"] for r in roads} <= {"EXPRESSWAY", "ARTERIAL"}
    assert all(r["geometry"]["type"] == "LineString" and r["nameZh"] for r in roads)
    assert {r["speedKmh"] for r in roads} == {50, 80}
    assert out.statements == 1
    bad = await run(schema, pool, operation("roads"), {**wanted, "bbox": {**box, "minLon": 200}},
                    operation_name="RoadsInView")  # fmt: skip
    assert bad.errors and bad.errors[0].extensions["code"] == "BAD_USER_INPUT"


def test_the_roads_download_as_a_geopackage_of_linestrings(
    client: TestClient, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    box = "121.46,31.22,121.48,31.24"
    r = client.get("/ogc/collections/roads/items", params={"f": "gpkg", "bbox": box,
                                                           "one_way": "true"})  # fmt: skip
    assert r.status_code == 200, r.text
    path = tmp_path / "roads.gpkg"
    path.write_bytes(r.content)
    meta, _fids, geometry, fields = pyogrio.raw.read(path)
    assert meta["geometry_type"] == "LineString"
    values = dict(zip(meta["fields"], fields, strict=True))
    expected = one(db, "SELECT count(*) FROM roads WHERE one_way AND ST_Intersects(geom, "
                   "ST_MakeEnvelope(121.46, 31.22, 121.48, 31.24, 4326))")  # fmt: skip
    assert len(geometry) == expected > 3
    assert set(values["one_way"]) == {True} and all(v > 0 for v in values["length_m"])
    assert all(values["name_zh"])
    bad = client.get("/ogc/collections/roads/items", params={"one_way": "perhaps"})
    assert bad.status_code == 400 and "true or false" in bad.text
