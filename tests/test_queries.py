"""The spatial core in geo.queries, against the seeded city."""

from __future__ import annotations

from typing import Any

import anyio
import psycopg
import pytest

from geo.errors import InvalidInput, NotFound
from geo.layers import CASES_PUBLIC, FACILITIES, FACILITIES_PUBLIC, GRID_CELLS
from geo.params import BBox, LonLat, Radius
from geo.queries import fetch, fetch_sync
from geo.queries.features import AreaById, AreaPolygon, in_bbox, near, within
from geo.queries.location import grid_cell_at

Conn = psycopg.Connection[Any]


def _facility(db: Conn) -> tuple[int, float, float, int]:
    row = db.execute(
        "SELECT id, ST_X(geom), ST_Y(geom), grid_cell_id FROM facilities ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    return row


def test_point_to_grid_cell_with_its_hierarchy(db: Conn) -> None:
    _, lon, lat, cell_id = _facility(db)
    found = fetch_sync(db, grid_cell_at(LonLat(lon, lat)))
    assert found is not None
    assert found.grid_cell_id == cell_id
    expected = db.execute(
        "SELECT c.code, s.code, d.code, d.level FROM grid_cells g "
        "JOIN admin_areas c ON c.id = g.community_id JOIN admin_areas s ON s.id = c.parent_id "
        "JOIN admin_areas d ON d.id = s.parent_id WHERE g.id = %s",
        (cell_id,),
    ).fetchone()
    assert expected == (found.community.code, found.street.code, found.district.code, "district")
    assert found.grid_cell_code.startswith(found.community.code)
    assert found.worker is not None
    assert found.worker.name


def test_point_on_a_shared_boundary_gets_one_cell_deterministically(db: Conn) -> None:
    # A vertex shared by two or more cells lies exactly on their common boundary.
    row = db.execute("""
        SELECT ST_X(v.geom), ST_Y(v.geom), array_agg(g.id ORDER BY g.id)
        FROM (SELECT (ST_DumpPoints(geom)).geom FROM grid_cells WHERE id = (
                SELECT min(id) + 100 FROM grid_cells)) v
        JOIN grid_cells g ON ST_Intersects(g.geom, v.geom)
        GROUP BY v.geom HAVING count(*) >= 2 LIMIT 1
    """).fetchone()
    assert row is not None
    lon, lat, touching = row
    answers = {fetch_sync(db, grid_cell_at(LonLat(lon, lat))) for _ in range(3)}
    assert len(answers) == 1
    (answer,) = answers
    assert answer is not None
    assert answer.grid_cell_id == min(touching)


def test_point_outside_the_city_has_no_cell(db: Conn) -> None:
    assert fetch_sync(db, grid_cell_at(LonLat(121.0, 31.0))) is None


def test_features_in_a_bbox(db: Conn) -> None:
    bbox = BBox(121.47, 31.22, 121.49, 31.24)
    fc = fetch_sync(db, in_bbox(FACILITIES_PUBLIC, bbox, 1_000))
    expected = db.execute(
        "SELECT count(*) FROM facilities WHERE ST_Intersects(geom, "
        "ST_MakeEnvelope(121.47, 31.22, 121.49, 31.24, 4326)) AND category <> 'hazard_source'"
    ).fetchone()
    assert fc["type"] == "FeatureCollection"
    assert expected is not None
    assert len(fc["features"]) == expected[0] > 0
    for f in fc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 121.47 <= lon <= 121.49
        assert 31.22 <= lat <= 31.24
        assert f["properties"]["category"] != "hazard_source"
        assert "attributes" not in f["properties"]
    assert len(fetch_sync(db, in_bbox(FACILITIES_PUBLIC, bbox, 3))["features"]) == 3


def test_polygons_in_a_bbox_include_those_crossing_it(db: Conn) -> None:
    fc = fetch_sync(db, in_bbox(GRID_CELLS, BBox(121.48, 31.23, 121.4801, 31.2301), 10))
    assert 1 <= len(fc["features"]) <= 4
    assert fc["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_public_cases_are_anonymised(db: Conn) -> None:
    fc = fetch_sync(db, in_bbox(CASES_PUBLIC, BBox(121.40, 31.16, 121.58, 31.32), 50))
    assert len(fc["features"]) == 50
    for f in fc["features"]:
        assert set(f["properties"]).isdisjoint({"description", "address", "reporter_id"})


def test_near_orders_by_distance_in_metres(db: Conn) -> None:
    _, lon, lat, _ = _facility(db)
    fc = fetch_sync(db, near(FACILITIES, LonLat(lon, lat), Radius(800), 500))
    distances = [f["properties"]["distance_m"] for f in fc["features"]]
    assert distances[0] == 0
    assert distances == sorted(distances)
    assert all(d <= 800 for d in distances)
    # The same set as PostGIS's own geography test over the whole table (no index shortcut).
    expected = db.execute(
        "SELECT count(*) FROM facilities WHERE ST_DWithin(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 800)",
        (lon, lat),
    ).fetchone()
    assert expected is not None
    assert len(distances) == expected[0]


def test_within_an_area_by_id_or_polygon(db: Conn) -> None:
    cell = db.execute(
        "SELECT grid_cell_id, count(*) FROM facilities GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    assert cell is not None
    by_id = fetch_sync(db, within(FACILITIES, AreaById("grid_cells", cell[0]), 1_000))
    assert len(by_id["features"]) == cell[1]
    assert {f["properties"]["grid_cell_id"] for f in by_id["features"]} == {cell[0]}

    square = (
        '{"type": "Polygon", "coordinates": [[[121.47, 31.22], [121.49, 31.22], '
        "[121.49, 31.24], [121.47, 31.24], [121.47, 31.22]]]}"
    )
    by_polygon = fetch_sync(db, within(FACILITIES, AreaPolygon(square), 10_000))
    by_bbox = fetch_sync(db, in_bbox(FACILITIES, BBox(121.47, 31.22, 121.49, 31.24), 10_000))
    assert by_polygon == by_bbox

    with pytest.raises(NotFound):
        fetch_sync(db, within(FACILITIES, AreaById("admin_areas", 999_999), 10))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BBox(121.5, 31.2, 121.4, 31.3), "east of"),
        (lambda: BBox(121.4, 31.2, 121.5, 95.0), "latitude"),
        (lambda: BBox.parse("1,2,3"), "four"),
        (lambda: BBox.parse("a,b,c,d"), "numbers"),
        (lambda: LonLat(200.0, 31.0), "longitude"),
        (lambda: LonLat(float("nan"), 31.0), "finite"),
        (lambda: Radius(0), "radius"),
        (lambda: Radius(1e9), "radius"),
        (lambda: AreaById("users", 1), "admin area or a grid cell"),
    ],
)
def test_bad_values_are_refused_with_a_reason(make: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make()


def test_the_same_query_runs_on_an_async_connection(database_url: str) -> None:
    async def run() -> Any:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await fetch(conn, grid_cell_at(LonLat(121.0, 31.0)))

    assert anyio.run(run) is None
