"""Routing on the road network (issue 16): drive-time nearest agrees with a brute-force
Dijkstra written here; routes respect one-way streets, closures and congestion, and say so
when there is none; closing a road is a dispatcher's, not a citizen's. Data a test changes is
changed in a rolled-back transaction or put back."""

from __future__ import annotations

import heapq
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient
from strawberry import Schema

from geo.access import CITY, Principal
from geo.errors import Conflict, Forbidden, InvalidInput, OutsideCity
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.routing import drive_time_nearest, route
from geo.services import roads as road_service
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation, run
from tests.mobile_helpers import auth, user_with_role

pytestmark = pytest.mark.anyio

ORIGINS = [(121.47, 31.23), (121.43, 31.19), (121.53, 31.28), (121.50, 31.205)]
SNAP = "(SELECT v.id FROM road_vertices v ORDER BY v.geom <-> {g} LIMIT 1)"


def dijkstra(db: psycopg.Connection[Any], start: int, towards: bool = False) -> dict[int, float]:
    """Seconds from ``start`` to every vertex (``towards``: from every vertex to ``start``), by
    the textbook algorithm over every road."""
    graph: dict[int, list[tuple[int, float]]] = {}
    ends = "target, source" if towards else "source, target"
    for source, target, cost, reverse in db.execute(
        f"SELECT {ends}, cost_s, reverse_cost_s FROM roads"
    ):
        graph.setdefault(source, []).append((target, cost))
        if reverse >= 0:
            graph.setdefault(target, []).append((source, reverse))
    best = {start: 0.0}
    todo = [(0.0, start)]
    while todo:
        d, v = heapq.heappop(todo)
        if d > best[v]:
            continue
        for w, c in graph.get(v, []):
            if d + c < best.get(w, float("inf")):
                best[w] = d + c
                heapq.heappush(todo, (d + c, w))
    return best


def principal(database_url: str, role: str) -> Principal:
    return Principal(user_with_role(database_url, role), frozenset({role}), None, CITY)


@pytest.mark.parametrize(
    ("category", "towards"), [("hospital", False), ("fire_station", True), ("school", False)]
)
async def test_drive_time_nearest_is_the_brute_force_answer(
    conn: AsyncConnection[Any], db: psycopg.Connection[Any], category: str, towards: bool
) -> None:
    snapped = dict(db.execute(
        f"SELECT f.id, {SNAP.format(g='f.geom')} FROM facilities f WHERE f.category = %s",
        (category,)).fetchall())  # fmt: skip
    for lon, lat in ORIGINS:
        start = db.execute(SNAP.format(g="ST_SetSRID(ST_MakePoint(%s, %s), 4326)"),
                           (lon, lat)).fetchone()  # fmt: skip
        assert start is not None
        seconds = dijkstra(db, start[0], towards)
        truth = {f: round(seconds[v], 6) for f, v in snapped.items() if v in seconds}
        found = await fetch(conn, drive_time_nearest(LonLat(lon, lat), [category], 5, towards))
        # the five best times, each facility at its true time (facilities at one junction tie,
        # and any of them may come first)
        assert [round(r.drive_s, 6) for r in found] == sorted(truth.values())[:5]
        assert all(truth[r.id] == round(r.drive_s, 6) for r in found)
        for r in found:  # nobody beats the expressways' speed limit
            assert r.drive_m <= r.drive_s * 80 / 3.6 + 1e-6


def _vertex_point(db: psycopg.Connection[Any], vertex: int) -> LonLat:
    row = db.execute("SELECT ST_X(geom), ST_Y(geom) FROM road_vertices WHERE id = %s",
                     (vertex,)).fetchone()  # fmt: skip
    assert row is not None
    return LonLat(float(row[0]), float(row[1]))


async def test_a_route_takes_a_one_way_street_only_its_way(
    conn: AsyncConnection[Any], db: psycopg.Connection[Any]
) -> None:
    road = db.execute(
        "SELECT id, source, target, cost_s, name_zh FROM roads WHERE one_way "
        "AND road_class = 'local' ORDER BY length_m DESC LIMIT 1"
    ).fetchone()
    assert road is not None
    road_id, source, target, cost, name = road
    a, b = _vertex_point(db, source), _vertex_point(db, target)
    forward = await fetch(conn, route(a, b))
    assert forward.found and forward.road_ids == (road_id,)
    assert forward.duration_s == pytest.approx(cost)
    assert forward.road_names_zh == (name,)
    backward = await fetch(conn, route(b, a))
    assert backward.found and road_id not in backward.road_ids
    assert backward.duration_s is not None and backward.duration_s > cost
    assert backward.geometry is not None and '"LineString"' in backward.geometry


async def test_closing_a_road_on_the_route_reroutes_and_reopening_restores_it(
    conn: AsyncConnection[Any], database_url: str
) -> None:
    a, b = LonLat(121.44, 31.21), LonLat(121.50, 31.25)
    before = await fetch(conn, route(a, b))
    assert before.found and len(before.road_ids) > 10
    assert before.duration_s is not None and before.length_m is not None
    assert before.length_m > 7000  # about 7 km apart in a straight line
    dispatcher = principal(database_url, "dispatcher")
    closed = before.road_ids[len(before.road_ids) // 2]
    closure = await road_service.close_road(conn, dispatcher, closed, "burst water main")
    assert closure["ends_at"] is None and closure["created_by"] == dispatcher.user_id
    with pytest.raises(Conflict):
        await road_service.close_road(conn, dispatcher, closed, "again")
    detour = await fetch(conn, route(a, b))
    assert detour.found and closed not in detour.road_ids
    assert detour.duration_s is not None and detour.duration_s > before.duration_s
    ended = await road_service.reopen_road(conn, dispatcher, closed)
    assert [c["id"] for c in ended] == [closure["id"]]
    again = await fetch(conn, route(a, b))
    assert again.road_ids == before.road_ids
    assert again.duration_s == pytest.approx(before.duration_s)
    # congestion: the same road at a tenth of its speed costs ten times as long, or is avoided
    await road_service.set_congestion(conn, dispatcher, closed, 0.1)
    slow = await fetch(conn, route(a, b))
    assert slow.duration_s is not None and slow.duration_s > before.duration_s
    cur = await conn.execute("SELECT action FROM audit_log WHERE object_type = 'road' AND "
                             "object_id = %s ORDER BY id", (str(closed),))  # fmt: skip
    assert [r[0] for r in await cur.fetchall()] == ["road.close", "road.reopen",
                                                    "road.congestion"]  # fmt: skip


async def test_no_route_is_said_plainly(
    conn: AsyncConnection[Any], db: psycopg.Connection[Any], database_url: str
) -> None:
    # An island: close every road of the neighbours of a junction but those to the junction.
    row = db.execute("SELECT v.id FROM road_vertices v WHERE (SELECT count(*) FROM roads r "
                     "WHERE NOT r.one_way AND (r.source = v.id OR r.target = v.id)) >= 3 "
                     "ORDER BY v.geom <-> ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326) "
                     "LIMIT 1").fetchone()  # fmt: skip
    assert row is not None
    island = row[0]
    around = [r[0] for r in db.execute(
        "WITH n AS (SELECT CASE WHEN source = %(v)s THEN target ELSE source END AS id "
        "FROM roads WHERE %(v)s IN (source, target)) "
        "SELECT r.id FROM roads r JOIN n ON n.id IN (r.source, r.target) "
        "WHERE %(v)s NOT IN (r.source, r.target)", {"v": island})]  # fmt: skip
    dispatcher = principal(database_url, "dispatcher")
    for road_id in around:
        await road_service.close_road(conn, dispatcher, road_id, "flooded underpass")
    there = _vertex_point(db, island)
    answer = await fetch(conn, route(LonLat(121.52, 31.27), there))
    assert (answer.found, answer.duration_s, answer.geometry) == (False, None, None)
    near = await fetch(conn, drive_time_nearest(there, ["hospital"], 3))
    assert near == []  # nothing is reachable from the island


async def test_closures_are_checked_before_anything_is_written(
    conn: AsyncConnection[Any], database_url: str
) -> None:
    citizen = principal(database_url, "citizen")
    with pytest.raises(Forbidden):
        await road_service.close_road(conn, citizen, 1, "my street")
    dispatcher = principal(database_url, "dispatcher")
    for reason in ("", " ", "x" * 501):
        with pytest.raises(InvalidInput):
            await road_service.close_road(conn, dispatcher, 1, reason)
    with pytest.raises(InvalidInput):
        await road_service.set_congestion(conn, dispatcher, 1, 0)
    with pytest.raises(Conflict):
        await road_service.reopen_road(conn, dispatcher, 1)


ROADS = operation("roads")


def _post(client: TestClient, name: str, variables: dict[str, Any],
          headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    body = {"query": ROADS, "operationName": name, "variables": variables}
    return client.post("/graphql", json=body, headers=headers).json()


def test_a_citizen_may_not_close_a_road_a_dispatcher_may(
    client: TestClient, tokens: TokenService, database_url: str, db: psycopg.Connection[Any]
) -> None:
    road = {"roadId": "7", "reason": "parade"}
    citizen = auth(tokens, user_with_role(database_url, "citizen"), "citizen")
    refused = _post(client, "CloseRoad", road, citizen)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _post(client, "CloseRoad", road)["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    dispatcher = auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")
    done = _post(client, "CloseRoad", road, dispatcher)
    try:
        assert "errors" not in done, done
        closure = done["data"]["closeRoad"]
        assert (closure["roadId"], closure["reason"], closure["endsAt"]) == ("7", "parade", None)
        listed = _post(client, "RoadClosures", {})["data"]["roadClosures"]  # public
        assert [(c["id"], c["roadNameZh"]) for c in listed] == [
            (closure["id"], closure["roadNameZh"])
        ]
        again = _post(client, "CloseRoad", road, dispatcher)
        assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    finally:
        reopened = _post(client, "ReopenRoad", {"roadId": "7"}, dispatcher)
    assert reopened["data"]["reopenRoad"][0]["endsAt"] is not None
    assert _post(client, "RoadClosures", {})["data"]["roadClosures"] == []
    with psycopg.connect(database_url, autocommit=True) as admin:  # the history row too
        admin.execute("DELETE FROM road_closures WHERE road_id = 7")


async def test_graphql_route_and_drive_time_nearest(
    schema: Schema, pool: AsyncConnectionPool[Any]
) -> None:
    trip = {"fromLon": 121.44, "fromLat": 31.21, "toLon": 121.50, "toLat": 31.25}
    out = await run(schema, pool, ROADS, trip, operation_name="Route")
    assert not out.errors, out.errors
    found = out.data["route"]
    assert found["found"] and found["geometry"]["type"] == "LineString"
    assert len(found["roadNamesZh"]) == len(found["roadNamesEn"]) >= 2
    assert out.statements == 1
    ask = {"lon": 121.47, "lat": 31.23, "categories": ["hospital"], "first": 3}
    out = await run(schema, pool, ROADS, ask, operation_name="DriveTimeNearest")
    assert not out.errors, out.errors
    nearest = out.data["driveTimeNearest"]
    assert len(nearest) == 3 and all(n["nameZh"] and n["category"] == "hospital" for n in nearest)
    assert [n["driveS"] for n in nearest] == sorted(n["driveS"] for n in nearest)
    assert out.statements == 1
    hidden = await run(schema, pool, ROADS, {**ask, "categories": ["hazard_source"]},
                       operation_name="DriveTimeNearest")  # fmt: skip
    assert hidden.errors[0].extensions["code"] == "UNAUTHENTICATED"
    unknown = await run(schema, pool, ROADS, {**ask, "categories": ["castle"]},
                        operation_name="DriveTimeNearest")  # fmt: skip
    assert unknown.errors[0].extensions["code"] == "BAD_USER_INPUT"
    at_sea = await run(schema, pool, ROADS, {**trip, "toLon": 122.2},
                       operation_name="Route")  # fmt: skip
    assert at_sea.errors[0].extensions["code"] == "OUTSIDE_CITY"


async def test_points_away_from_the_roads_are_refused(conn: AsyncConnection[Any]) -> None:
    in_city, at_sea = LonLat(121.47, 31.23), LonLat(122.2, 31.0)
    with pytest.raises(OutsideCity, match="from the nearest road"):
        await fetch(conn, route(in_city, at_sea))
    with pytest.raises(OutsideCity):
        await fetch(conn, route(at_sea, in_city))
    with pytest.raises(OutsideCity):
        await fetch(conn, drive_time_nearest(at_sea, ["hospital"], 3))
