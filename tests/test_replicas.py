"""Read replicas against a real streaming replica (tests/replica_helpers.py, docs/scale.md):
GraphQL queries read from the replica within the lag bound, from the primary beyond it or when
the replica is down, and a writer reads their own writes while the replica is paused.

How a read is shown to come from the replica: its replay is paused (``pg_wal_replay_pause``),
a case is made on the primary, and a reader other than its writer is told there is no such
case — only the paused replica can answer that — while the router's count of the replica's
reads (/readyz) goes up.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.access import Jurisdiction, Scope
from server.app import create_app
from server.kernel.auth.tokens import TokenService
from server.kernel.read_your_writes import COOKIE, HEADER
from server.kernel.replicas import login_url
from server.kernel.settings import DatabaseSettings
from tests.conftest import settings_for
from tests.replica_helpers import Replica

CREATE = """mutation($input: CreateCaseInput!) { createCase(input: $input) {
  __typename ... on CasePayload { case { id description } } ... on CaseError { code message } } }"""
READ = "query($id: ID!) { case(id: $id) { id description } }"
FACILITIES = "{ facilities(first: 3) { nodes { id nameZh } } }"


def _replica_url(replica: Replica) -> str:
    """The replica's database without a user: the server logs in as on the primary."""
    return f"postgresql://127.0.0.1:{replica.port}/{replica.url.rsplit('/', 1)[1]}"


@contextmanager
def _app(
    database_url: str, replica: Replica, max_lag_s: float, tile_cache_mb: int | None = None
) -> Iterator[TestClient]:
    settings = settings_for(database_url)
    database = settings.database.model_copy(
        update={"replica_urls": [_replica_url(replica)], "replica_max_lag_s": max_lag_s,
                "replica_check_s": 0.2}
    )  # fmt: skip
    ogc = settings.ogc
    if tile_cache_mb is not None:
        ogc = ogc.model_copy(update={"tile_cache_mb": tile_cache_mb})
    app = create_app(settings.model_copy(update={"database": database, "ogc": ogc}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def app(database_url: str, replica: Replica) -> Iterator[TestClient]:
    """The app with the replica and a generous bound (30 s): paused briefly, it stays used."""
    with _app(database_url, replica, 30.0) as client:
        _until(client, lambda r: r["state"] == "up" and r["used"])
        yield client


def _state(client: TestClient) -> dict[str, Any]:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    replicas: list[dict[str, Any]] = r.json()["replicas"]
    assert len(replicas) == 1
    return replicas[0]


def _until(client: TestClient, ok: Any, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        state = _state(client)
        if ok(state):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def _worker(db: psycopg.Connection[Any], tokens: TokenService) -> tuple[str, float, float]:
    row = db.execute(
        "SELECT id, worker_id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
        "FROM grid_cells WHERE worker_id IS NOT NULL ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    cell, worker, lon, lat = row
    token = tokens.issue_access(
        int(worker), ["grid_worker"], jurisdiction=Jurisdiction(Scope.GRID_CELLS, (int(cell),))
    )
    return token, float(lon), float(lat)


def _dispatcher(db: psycopg.Connection[Any], tokens: TokenService) -> str:
    row = db.execute(
        "SELECT id FROM users WHERE 'dispatcher' = ANY(roles) ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    return tokens.issue_access(int(row[0]), ["dispatcher"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create(client: TestClient, token: str, lon: float, lat: float) -> tuple[str, str, Any]:
    text = f"replica {uuid.uuid4()}"
    made = {"category": "street_light", "lon": lon, "lat": lat, "description": text}
    body = {"query": CREATE, "variables": {"input": made}}
    r = client.post("/graphql", headers=_bearer(token), json=body)
    payload = r.json()["data"]["createCase"]
    assert payload["__typename"] == "CasePayload", payload
    return payload["case"]["id"], text, r


def _read(client: TestClient, token: str, case_id: str) -> dict[str, Any]:
    query = {"query": READ, "variables": {"id": case_id}}
    r = client.post("/graphql", headers=_bearer(token), json=query)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _fresh(client: TestClient) -> TestClient:
    """The same app, a client without the first one's cookies (another browser)."""
    client.cookies.clear()
    return client


def _settle(database_url: str, replica: Replica) -> None:
    """A write on the primary the replica has replayed: its last replayed transaction is new,
    so pausing now keeps it within a bound of seconds."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT txid_current()")
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    replica.wait_for(row[0])


@contextmanager
def _paused(database_url: str, replica: Replica) -> Iterator[None]:
    _settle(database_url, replica)
    replica.pause_replay()
    try:
        yield
    finally:
        replica.resume_replay()


def test_queries_read_from_the_replica_within_the_bound(app: TestClient) -> None:
    before = _until(app, lambda r: r["used"])
    r = _fresh(app).post("/graphql", json={"query": FACILITIES})
    assert r.status_code == 200, r.text
    assert r.json()["data"] is not None, r.text
    assert len(r.json()["data"]["facilities"]["nodes"]) == 3, r.text
    after = _state(app)
    assert after["reads"] > before["reads"]  # the replica answered
    assert after["state"] == "up" and after["lag_s"] <= 30


def test_a_writer_reads_their_write_while_the_replica_is_paused(
    app: TestClient,
    database_url: str,
    replica: Replica,
    db: psycopg.Connection[Any],
    tokens: TokenService,
) -> None:
    worker, lon, lat = _worker(db, tokens)
    dispatcher = _dispatcher(db, tokens)
    with _paused(database_url, replica):
        _until(app, lambda r: r["replay_paused"] and r["used"])
        case_id, text, answer = _create(_fresh(app), worker, lon, lat)
        # The write's answer carries its LSN (header and cookie) for any worker of the app.
        assert answer.headers[HEADER] and COOKIE in answer.cookies
        # The writer reads it at once: the cookie sends the read to the primary ...
        assert _read(app, worker, case_id)["data"]["case"]["description"] == text
        # ... and so does the user's read mark on the primary, without the cookie.
        assert _read(_fresh(app), worker, case_id)["data"]["case"]["description"] == text
        # Another reader is answered by the paused replica, which has not replayed it yet.
        reads = _state(app)["reads"]
        other = _read(_fresh(app), dispatcher, case_id)
        assert other["data"] is None
        assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND", other
        assert _state(app)["reads"] > reads
        # An anonymous read is the replica's too.
        assert app.post("/graphql", json={"query": FACILITIES}).status_code == 200
        assert _state(app)["reads"] > reads + 1
        assert replica.query(f"SELECT count(*) FROM cases WHERE description = '{text}'") == 0
    # Replayed again: the other reader sees it too, still from the replica.
    _until(app, lambda r: not r["replay_paused"] and r["used"])
    deadline = time.monotonic() + 10
    while _read(_fresh(app), dispatcher, case_id)["data"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_the_lsn_header_carries_a_write_to_another_worker(
    app: TestClient,
    database_url: str,
    replica: Replica,
    db: psycopg.Connection[Any],
    tokens: TokenService,
) -> None:
    """Two app instances (two workers): a write through the first; a read through the second,
    which never saw it, goes to the primary when the client echoes X-OneMap-LSN, and to the
    paused replica when it does not — unless the reader is the writer, whose read mark
    (read_marks, on the primary) every instance consults."""
    worker, lon, lat = _worker(db, tokens)
    dispatcher = _dispatcher(db, tokens)
    with _app(database_url, replica, 30.0) as other, _paused(database_url, replica):
        _until(other, lambda r: r["replay_paused"] and r["used"])
        case_id, text, answer = _create(_fresh(app), worker, lon, lat)
        lsn = answer.headers[HEADER]
        query = {"query": READ, "variables": {"id": case_id}}
        echoed = _fresh(other).post(
            "/graphql", headers={**_bearer(dispatcher), HEADER: lsn}, json=query
        )
        assert echoed.json()["data"]["case"]["description"] == text, echoed.text
        plain = _fresh(other).post("/graphql", headers=_bearer(dispatcher), json=query)
        assert plain.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND", plain.text
        # A malformed header is ignored, not an error.
        bad = _fresh(other).post(
            "/graphql", headers={**_bearer(dispatcher), HEADER: "not-an-lsn"}, json=query
        )
        assert bad.status_code == 200 and bad.json()["data"] is None, bad.text
        # The writer, through the other instance, with neither cookie nor header: the mark.
        own = _fresh(other).post("/graphql", headers=_bearer(worker), json=query)
        assert own.json()["data"]["case"]["description"] == text, own.text


def test_ogc_features_read_from_the_replica(
    app: TestClient, database_url: str, replica: Replica
) -> None:
    """OGC API - Features' GeoJSON items and item, and the HTML item page pygeoapi renders: a
    park added on the primary while the replica is paused is not there for an anonymous
    reader, then is once it replays."""
    with _paused(database_url, replica):
        _until(app, lambda r: r["replay_paused"] and r["used"])
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO facilities (code, category, name_zh, name_en, grid_cell_id, geom) "
                "SELECT 'R' || substr(md5(random()::text), 1, 10), 'park', '副本公园', "
                "'Replica Park', grid_cell_id, geom FROM facilities ORDER BY id LIMIT 1 "
                "RETURNING id"
            ).fetchone()
        assert row is not None
        fid = int(row[0])
        try:
            reads = _state(app)["reads"]
            r = _fresh(app).get(f"/ogc/collections/facilities/items/{fid}?f=json")
            assert r.status_code == 404, r.text  # the paused replica answered
            # The HTML page (pygeoapi's provider, its own sync pools) reads the replica too.
            html = _fresh(app).get(f"/ogc/collections/facilities/items/{fid}?f=html")
            assert html.status_code == 404, html.text[:300]
            page = app.get("/ogc/collections/facilities/items?f=json&limit=5").json()
            assert len(page["features"]) == 5
            assert _state(app)["reads"] >= reads + 2
        except BaseException:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("DELETE FROM facilities WHERE id = %s", [fid])
            raise
    try:
        _until(app, lambda r: not r["replay_paused"] and r["used"])
        deadline = time.monotonic() + 10
        while (r := app.get(f"/ogc/collections/facilities/items/{fid}?f=json")).status_code != 200:
            assert r.status_code == 404 and time.monotonic() < deadline, r.text
            time.sleep(0.1)
        assert r.json()["properties"]["name_en"] == "Replica Park", r.text
        html = app.get(f"/ogc/collections/facilities/items/{fid}?f=html")
        assert html.status_code == 200 and "Replica Park" in html.text
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM facilities WHERE id = %s", [fid])


def _tile_path(lon: float, lat: float, z: int) -> str:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/ogc/collections/facilities/tiles/WebMercatorQuad/{z}/{y}/{x}"


def test_tiles_read_from_the_replica_only_without_a_tile_cache(
    app: TestClient, database_url: str, replica: Replica
) -> None:
    """Without a tile cache a tile is the replica's; with one, a miss is built on the primary
    (a replica's tile could predate the change whose notice emptied the cache)."""
    path = _tile_path(121.49, 31.24, 13)
    with _app(database_url, replica, 30.0, tile_cache_mb=0) as uncached:
        _until(uncached, lambda r: r["used"])
        reads = _state(uncached)["reads"]
        r = uncached.get(path)
        assert r.status_code == 200 and r.headers["X-Cache"] == "bypass" and r.content
        assert _state(uncached)["reads"] == reads + 1
    reads = _state(app)["reads"]
    r = app.get(path)
    assert r.status_code == 200 and r.headers["X-Cache"] in {"miss", "hit"}, r.headers
    assert _state(app)["reads"] == reads  # built on (or kept from) the primary


def test_beyond_the_bound_the_primary_answers(
    database_url: str, replica: Replica, db: psycopg.Connection[Any], tokens: TokenService
) -> None:
    worker, lon, lat = _worker(db, tokens)
    dispatcher = _dispatcher(db, tokens)
    with _app(database_url, replica, 1.0) as app:
        _until(app, lambda r: r["used"])
        with _paused(database_url, replica):
            case_id, text, _ = _create(_fresh(app), worker, lon, lat)
            # Paused, the replica falls behind the bound (1 s): it is no longer used.
            state = _until(app, lambda r: not r["used"])
            assert state["state"] == "up" and state["lag_s"] > 1.0
            reads = state["reads"]
            # The new case is read from the primary by a reader who did not write it.
            found = _read(_fresh(app), dispatcher, case_id)
            assert found["data"]["case"]["description"] == text, found
            assert _state(app)["reads"] == reads
            assert replica.query(f"SELECT count(*) FROM cases WHERE description = '{text}'") == 0
        _until(app, lambda r: r["used"])


def test_a_stopped_replica_leaves_the_reads_to_the_primary(
    app: TestClient, replica: Replica, db: psycopg.Connection[Any], tokens: TokenService
) -> None:
    dispatcher = _dispatcher(db, tokens)
    _until(app, lambda r: r["used"])
    replica.stop()
    try:
        # No error for the reader, the very first read after the stop included.
        for _ in range(3):
            r = _fresh(app).post("/graphql", json={"query": FACILITIES})
            assert r.status_code == 200, r.text
            assert len(r.json()["data"]["facilities"]["nodes"]) == 3
        state = _until(app, lambda r: r["state"] == "down")
        assert state["used"] is False and state["lag_s"] is None and state["error"]
        body = client_ready(app)
        assert body["status"] == "ready"  # the primary serves: the server stays ready
        row = db.execute("SELECT min(id) FROM cases").fetchone()
        assert row is not None
        assert _read(_fresh(app), dispatcher, str(row[0]))["data"]["case"]["id"] == str(row[0])
    finally:
        replica.start()
    _until(app, lambda r: r["state"] == "up" and r["used"])


def client_ready(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/readyz").json()
    return body


def test_replica_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ONEMAP_DATABASE_REPLICA_URLS",
        "postgresql://10.0.0.12:5432/onemap, postgresql://reader@10.0.0.13/onemap",
    )
    monkeypatch.setenv("ONEMAP_DATABASE_REPLICA_MAX_LAG_S", "2.5")
    database = DatabaseSettings()
    assert database.replica_urls == [
        "postgresql://10.0.0.12:5432/onemap",
        "postgresql://reader@10.0.0.13/onemap",
    ]
    assert database.replica_max_lag_s == 2.5
    # Without a user, the server's own login; with one, the URL as given.
    app = "postgresql://onemap_app:s%40cret@primary:5432/onemap"
    assert login_url(database.replica_urls[0], app) == (
        "postgresql://onemap_app:s%40cret@10.0.0.12:5432/onemap"
    )
    assert login_url(database.replica_urls[1], app) == "postgresql://reader@10.0.0.13/onemap"
    monkeypatch.setenv("ONEMAP_DATABASE_REPLICA_URLS", "mysql://10.0.0.12/onemap")
    with pytest.raises(ValueError, match="must be a postgresql:// URL"):
        DatabaseSettings()
