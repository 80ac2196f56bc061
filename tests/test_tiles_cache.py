"""The tile cache: one entry per data class and filters, and a change to a feature (through the
API or any writer) drops exactly the tiles that draw it, at every zoom, within a second — in
this process, in another server process, and in the shared Redis cache. ``X-Cache`` tells."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
import redis
from starlette.testclient import TestClient

from geo.access import CITY, Jurisdiction, Scope
from server.app import create_app
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings
from tests.running_server import running_server
from tests.tile_helpers import features, tile_at, url

REDIS = "redis://127.0.0.1:6379/15"
SPOT = (121.4655, 31.2251)  # inside the dense middle, away from other tests' tiles
FAR = (121.55, 31.29)


def admin(tokens: TokenService) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.issue_access(1, ["admin"]),
            "Content-Type": "application/geo+json"}  # fmt: skip


def staff(tokens: TokenService, scope: Jurisdiction = CITY) -> dict[str, str]:
    token = tokens.issue_access(5, ["dispatcher"], jurisdiction=scope)
    return {"Authorization": f"Bearer {token}"}


def shelter(code: str, name: str, lon: float = SPOT[0], lat: float = SPOT[1]) -> str:
    return json.dumps({"type": "Feature",
                       "geometry": {"type": "Point", "coordinates": [lon, lat]},
                       "properties": {"code": code, "category": "shelter", "name_zh": "避难所",
                                      "name_en": name, "capacity": 100}})  # fmt: skip


Get = Callable[[str], tuple[int, dict[str, str], bytes]]


def until(get: Get, path: str, ok: Callable[[list[dict[str, Any]]], bool]) -> str:
    """GET ``path`` until its decoded tile satisfies ``ok``, for one second at most; the
    X-Cache of the request that did."""
    deadline = time.monotonic() + 1.0
    while True:
        status, headers, body = get(path)
        assert status == 200
        if ok(features(body, "facilities")):
            return headers["x-cache"]
        assert time.monotonic() < deadline, "the change was not seen within 1 s"
        time.sleep(0.02)


def named(name: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda found: any(f["properties"].get("name_en") == name for f in found)


def via(client: TestClient | httpx.Client) -> Get:
    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        r = client.get(path)
        return r.status_code, dict(r.headers), r.content

    return get


def change_is_seen(write: TestClient | httpx.Client, read: Get, tokens: TokenService) -> None:
    """Create a shelter, warm its tiles, rename it: the next reads show the new name (a miss),
    a tile elsewhere stays cached."""
    code = "T-" + uuid.uuid4().hex[:8]
    r = write.post("/ogc/collections/facilities/items", content=shelter(code, "Before"),
                   headers=admin(tokens))  # fmt: skip
    assert r.status_code == 201, r.text
    item = "/ogc/collections/facilities/items/" + r.headers["location"].rsplit("/", 1)[1]
    try:
        tiles = [url("facilities", *tile_at(z, *SPOT)) for z in (14, 10, 3)]
        far = url("facilities", *tile_at(14, *FAR))
        for path in [*tiles, far]:
            # Cached once the creation's own notice has been heard: on a loaded machine it can
            # arrive after the first read stored the tile, and drop it (rightly) — so warm
            # until a read is a hit, for a second at most.
            deadline = time.monotonic() + 1.0
            while read(path)[1]["x-cache"] != "hit":
                assert time.monotonic() < deadline, f"{path} was not cached within 1 s"
                time.sleep(0.02)
        r = write.put(item, content=shelter(code, "After"), headers=admin(tokens))
        assert r.status_code == 204, r.text
        assert until(read, tiles[0], named("After")) == "miss"
        for path in tiles[1:]:  # every zoom: the z10 tile and the (aggregated?) z3 tile
            assert read(path)[1]["x-cache"] == "miss"
        assert read(far)[1]["x-cache"] == "hit"
    finally:
        write.delete(item, headers=admin(tokens))
    until(read, tiles[0], lambda found: not named("After")(found))


def test_a_change_through_the_api_is_seen_on_the_next_request(
    client: TestClient, tokens: TokenService
) -> None:
    change_is_seen(client, via(client), tokens)


def test_public_and_staff_callers_never_share_an_entry(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any]
) -> None:
    """Public, city-wide staff and two districts' staff: four entries, each holding what its
    caller may see (a district's tile only that district's cases)."""
    z, x, y = tile_at(13, *SPOT)
    path = url("cases", z, x, y)
    districts = [r[0] for r in db.execute(
        "SELECT id FROM admin_areas WHERE level = 'district' ORDER BY ST_Distance(geom, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) LIMIT 2", SPOT)]  # fmt: skip
    callers = [{}, staff(tokens), *(staff(tokens, Jurisdiction(Scope.DISTRICT, (d,)))
                                    for d in districts)]  # fmt: skip
    first = [client.get(path, headers=h) for h in callers]
    assert [r.headers["x-cache"] for r in first] == ["miss"] * len(callers)
    again = [client.get(path, headers=h) for h in callers]
    assert [r.headers["x-cache"] for r in again] == ["hit"] * len(callers)
    for a, b in zip(first, again, strict=True):
        assert a.content == b.content  # each caller gets back their own tile
    public, city, *mine = (features(r.content, "cases") for r in first)
    assert public and city
    assert all("description" not in f["properties"] for f in public)
    assert all("description" in f["properties"] for f in city)
    assert "private" in first[1].headers["cache-control"]
    assert "Authorization" in first[1].headers["vary"]
    for district, found in zip(districts, mine, strict=True):
        ids = {f["id"] for f in found}
        theirs = {r[0] for r in db.execute(
            "SELECT id FROM cases WHERE id = ANY(%s) AND district_id = %s",
            (list(ids), district))}  # fmt: skip
        assert ids == theirs
    assert {f["id"] for f in mine[0]} != {f["id"] for f in mine[1]}


def test_filters_are_their_own_entries_and_304_still_works(client: TestClient) -> None:
    path = url("cases", *tile_at(13, *FAR))
    plain = client.get(path)
    closed = client.get(path + "?status=closed")
    assert closed.headers["x-cache"] == "miss"
    assert closed.headers["etag"] != plain.headers["etag"]
    again = client.get(path + "?status=closed", headers={"If-None-Match": closed.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["x-cache"] == "hit"
    assert again.headers["etag"] == closed.headers["etag"]


def test_any_writer_invalidates_a_case_tile(
    client: TestClient, database_url: str, db: psycopg.Connection[Any]
) -> None:
    """A case's status change written straight in SQL (a trigger sends the notice, whoever
    writes) is seen in the public tile's counts."""
    # The public case nearest the spot, and the z16 tile that draws it.
    row = db.execute(
        "SELECT c.id, c.status, ST_X(c.geom), ST_Y(c.geom) FROM cases_public c "
        "ORDER BY c.geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 1", SPOT,
    ).fetchone()  # fmt: skip
    assert row is not None, "the seeded city has public cases"
    case_id, status, lon, lat = row
    z, x, y = tile_at(16, lon, lat)
    path = url("cases", z, x, y)
    client.get(path)
    assert client.get(path).headers["x-cache"] == "hit"
    new = "closed" if status != "closed" else "reported"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE cases SET status = %s WHERE id = %s", (new, case_id))
        try:
            deadline = time.monotonic() + 1.0
            while True:
                found = features(client.get(path).content, "cases")
                if any(f["id"] == case_id and f["properties"]["status"] == new for f in found):
                    break
                assert time.monotonic() < deadline, "the change was not seen within 1 s"
                time.sleep(0.02)
        finally:
            conn.execute("UPDATE cases SET status = %s WHERE id = %s", (status, case_id))


def test_another_server_process_sees_the_change(database_url: str, tokens: TokenService) -> None:
    with (
        running_server(database_url) as a,
        running_server(database_url) as b,
        httpx.Client(base_url=a, timeout=30) as wa,
        httpx.Client(base_url=b, timeout=30) as rb,
    ):
        change_is_seen(wa, via(rb), tokens)


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = "onemap-test-" + uuid.uuid4().hex[:8]
    yield prefix
    r = redis.Redis.from_url(REDIS)
    for key in r.scan_iter(match=f"{prefix}:*"):
        r.delete(key)


def test_the_shared_redis_cache(
    settings: Settings, tokens: TokenService, redis_prefix: str, database_url: str
) -> None:
    ogc = settings.ogc.model_copy(update={"tile_cache_url": REDIS,
                                          "tile_cache_prefix": redis_prefix})  # fmt: skip
    with TestClient(create_app(settings.model_copy(update={"ogc": ogc}))) as shared:
        change_is_seen(shared, via(shared), tokens)
        keys = list(redis.Redis.from_url(REDIS).scan_iter(match=f"{redis_prefix}:*"))
        assert any(b":facilities:14:" in k for k in keys)
        path = url("cases", *tile_at(12, *FAR))
        public = [shared.get(path) for _ in range(2)]
        mine = [shared.get(path, headers=staff(tokens)) for _ in range(2)]
        assert [r.headers["x-cache"] for r in public + mine] == ["miss", "hit", "miss", "hit"]
        assert public[1].content != mine[1].content
    # a second server process on the same Redis gets the first one's tiles
    env = {"ONEMAP_OGC_TILE_CACHE_URL": REDIS, "ONEMAP_OGC_TILE_CACHE_PREFIX": redis_prefix}
    with running_server(database_url, **env) as other:
        assert httpx.get(other + path).headers["x-cache"] == "hit"
