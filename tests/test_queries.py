"""The spatial core in geo.queries, against the seeded city."""

from __future__ import annotations

from typing import Any

import anyio
import psycopg
import pytest

from geo.errors import InvalidInput
from geo.params import BBox, LonLat, Radius
from geo.queries import fetch, fetch_sync
from geo.queries.filters import AreaById
from geo.queries.location import grid_cell_at

Conn = psycopg.Connection[Any]


def _facility(db: Conn) -> tuple[int, float, float, int]:
    row = db.execute(
        "SELECT id, ST_X(geom), ST_Y(geom), grid_cell_id FROM facilities ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1]), float(row[2]), int(row[3])


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
