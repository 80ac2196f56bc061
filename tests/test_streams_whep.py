"""WHEP end to end: a real uvicorn server on 127.0.0.1 and real aiortc viewers.

The server runs in a thread of this process; its ICE (and the viewers') gathers on 127.0.0.1
only, through the ``ice_host_addresses`` setting.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from starlette.applications import Starlette

from server.app import create_app
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings, StreamSettings
from server.streams.clip import make_clip
from server.streams.feeds import Feeds
from server.streams.viewer import Viewer, WhepRefused
from tests.conftest import settings_for

pytestmark = pytest.mark.anyio

DEMO = {"admin": "13800000001", "analyst": "13800000002", "viewer": "13800000003",
        "dispatcher": "13800000006"}  # fmt: skip
ORIGIN = "http://map.example.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    def __init__(self, settings: Settings) -> None:
        self.app: Starlette = create_app(settings)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert self.thread.is_alive(), "the server thread died"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def tokens(self) -> TokenService:
        tokens = self.app.state.tokens
        assert isinstance(tokens, TokenService)
        return tokens

    @property
    def feeds(self) -> Feeds:
        feeds = self.app.state.streams.feeds
        assert isinstance(feeds, Feeds)
        return feeds

    def whep(self, camera_id: int) -> str:
        return f"{self.base}/streams/cameras/{camera_id}/whep"


def stream_settings(database_url: str) -> Settings:
    settings = settings_for(database_url)
    settings.server.allowed_origins = [ORIGIN]
    settings.streams = StreamSettings(
        ice_host_addresses=["127.0.0.1"],
        idle_stop_s=1.0,
        offline_retry_s=1.0,
        open_timeout_s=3.0,
        connect_timeout_s=10.0,
    )
    return settings


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[RunningServer]:
    with RunningServer(stream_settings(database_url)) as running:
        yield running


@pytest.fixture(scope="module")
def users(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT phone, id FROM users WHERE phone = ANY(%s)", [list(DEMO.values())]
        ).fetchall()
    by_phone = dict(rows)
    return {name: int(by_phone[phone]) for name, phone in DEMO.items()}


def token(server: RunningServer, users: dict[str, int], who: str, *roles: str) -> str:
    return server.tokens.issue_access(users[who], list(roles or [_ROLE[who]]))


_ROLE = {"admin": "admin", "analyst": "analyst", "viewer": "camera_viewer",
         "dispatcher": "dispatcher"}  # fmt: skip


class Cameras:
    """Cameras a test adds (and removes) beside the seeded ones."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.ids: list[int] = []

    def add(self, code: str, source: str) -> int:
        row = self.conn.execute(
            "INSERT INTO cameras (code, name, heading, fov, status, source, grid_cell_id, geom) "
            "SELECT %s, 'test camera', 0, 90, 'unknown', %s, min(id), "
            "ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326) FROM grid_cells RETURNING id",
            [code, source],
        ).fetchone()
        assert row is not None
        self.ids.append(int(row[0]))
        return int(row[0])

    def status(self, camera_id: int) -> tuple[str, Any]:
        row = self.conn.execute(
            "SELECT status, last_seen_at FROM cameras WHERE id = %s", [camera_id]
        ).fetchone()
        assert row is not None
        return row[0], row[1]

    def close(self) -> None:
        self.conn.execute("DELETE FROM cameras WHERE id = ANY(%s)", [self.ids])
        self.conn.close()


@pytest.fixture
def cameras(database_url: str) -> Iterator[Cameras]:
    c = Cameras(database_url)
    try:
        yield c
    finally:
        c.close()


def audit_rows(database_url: str, session_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT action, actor_id, actor_role, object_type, object_id, host(client_addr), "
            "detail FROM audit_log WHERE detail->>'session' = %s ORDER BY id",
            [session_id],
        ).fetchall()


async def seeded_camera(database_url: str, n: int) -> tuple[int, str]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT id, code FROM cameras WHERE source LIKE 'testsrc://%%' ORDER BY id "
            "OFFSET %s LIMIT 1",
            [n],
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


async def test_a_viewer_sees_the_camera_it_asked_for(
    server: RunningServer, users: dict[str, int], database_url: str
) -> None:
    camera_id, code = await seeded_camera(database_url, 0)
    viewer = Viewer(server.whep(camera_id), token(server, users, "viewer"))
    await viewer.start()
    try:
        seen = [await viewer.overlay() for _ in range(30)]
    finally:
        ended = await viewer.stop()
    assert {o.code for o in seen} == {code}
    counters = [o.frame for o in seen]
    assert all(isinstance(c, int) for c in counters)
    assert counters == sorted(counters) and counters[-1] - counters[0] >= 29 - 3
    assert ended is not None and ended.status == 200
    assert viewer.session_id is not None
    session_id = viewer.session_id
    await asyncio.sleep(0.2)
    rows = audit_rows(database_url, session_id)
    assert [r[0] for r in rows] == ["camera.view.start", "camera.view.end"]
    start, end = rows
    assert start[1:6] == (users["viewer"], "camera_viewer", "camera", str(camera_id), "127.0.0.1")
    assert end[6]["reason"] == "deleted" and end[6]["seconds"] > 0.5


async def test_three_viewers_share_one_source_that_stops_after_the_last(
    server: RunningServer, users: dict[str, int], database_url: str
) -> None:
    camera_id, code = await seeded_camera(database_url, 1)
    roles = ("viewer", "dispatcher", "admin")
    viewers = [Viewer(server.whep(camera_id), token(server, users, who)) for who in roles]
    await asyncio.gather(*(v.start() for v in viewers))
    try:
        firsts = await asyncio.gather(*(v.overlay() for v in viewers))
        assert {o.code for o in firsts} == {code}
        feed = server.feeds.feeds[camera_id]
        assert server.feeds.viewers()[camera_id] == 3
        sessions = [server.app.state.streams.sessions.by_id[v.session_id] for v in viewers]
        assert {id(s.feed) for s in sessions} == {id(feed)}  # one source, one relay
        # The same source: the three see the same frame counter at (almost) the same moment.
        counters = [o.frame for o in await asyncio.gather(*(v.overlay() for v in viewers))]
        assert all(isinstance(c, int) for c in counters)
        assert max(counters) - min(counters) <= 5  # type: ignore[type-var,operator]
        assert _camera_threads(camera_id) == 1
    finally:
        await viewers[0].stop()
        await viewers[1].stop()
    await asyncio.sleep(server.app.state.settings.streams.idle_stop_s + 0.5)
    assert server.feeds.viewers() == {camera_id: 1}  # still watched: not stopped
    assert (await viewers[2].overlay()).code == code
    await viewers[2].stop()
    assert server.feeds.viewers() == {camera_id: 0}  # idle, for idle_stop_s
    await asyncio.sleep(server.app.state.settings.streams.idle_stop_s + 1.0)
    assert camera_id not in server.feeds.feeds
    assert _camera_threads(camera_id) == 0


def _camera_threads(camera_id: int) -> int:
    return sum(t.name == f"onemap-camera-{camera_id}" for t in threading.enumerate())


async def test_an_offline_camera_is_503_and_marked_offline_then_recovers(
    server: RunningServer,
    users: dict[str, int],
    cameras: Cameras,
    tmp_path: Path,
    database_url: str,
) -> None:
    clip = tmp_path / "later.ts"
    camera_id = cameras.add("TESTOFFLINE1", f"file://{clip}")
    listener = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    await listener.execute("LISTEN onemap_camera_status")
    viewer_token = token(server, users, "viewer")
    try:
        with pytest.raises(WhepRefused) as refused:
            await Viewer(server.whep(camera_id), viewer_token).start()
        assert refused.value.status == 503
        assert int(refused.value.headers["retry-after"]) >= 1
        assert refused.value.problem["type"] == "urn:onemap:problem:camera_offline"
        assert str(clip) not in json.dumps(refused.value.problem)  # sources never leave
        assert cameras.status(camera_id)[0] == "offline"
        assert (await _next_status(listener)) == {"camera_id": camera_id, "status": "offline"}

        # The camera comes back: an H.264 clip, forwarded without re-encoding.
        made = make_clip(tmp_path, code="TESTOFFLINE1", seconds=2)
        made.rename(clip)
        await asyncio.sleep(server.app.state.settings.streams.offline_retry_s)
        viewer = Viewer(server.whep(camera_id), viewer_token)
        await viewer.start()
        try:
            seen = [await viewer.overlay() for _ in range(60)]  # past the loop at 50 frames
        finally:
            await viewer.stop()
        assert {o.code for o in seen} == {"TESTOFFLINE1"}
        assert {o.frame for o in seen} >= {0, 49}  # looped
        status, last_seen = cameras.status(camera_id)
        assert status == "online" and last_seen is not None
        assert (await _next_status(listener)) == {"camera_id": camera_id, "status": "online"}
        feed = server.feeds.feeds[camera_id]
        assert feed.reader is not None and getattr(feed.reader, "passthrough", False)
    finally:
        await listener.close()


async def _next_status(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    async for note in conn.notifies(timeout=5.0):
        payload = json.loads(note.payload)
        assert set(payload) == {"camera_id", "code", "status", "last_seen_at"}
        return {"camera_id": payload["camera_id"], "status": payload["status"]}
    raise AssertionError("no camera status notification")


async def test_a_source_that_is_not_h264_is_encoded_once_for_all_viewers(
    server: RunningServer, users: dict[str, int], cameras: Cameras, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path, code="MPEG4CAM", seconds=3, codec="mpeg4")
    camera_id = cameras.add("MPEG4CAM", f"file://{clip}")
    viewers = [
        Viewer(server.whep(camera_id), token(server, users, who)) for who in ("viewer", "admin")
    ]
    await asyncio.gather(*(v.start() for v in viewers))
    try:
        for viewer in viewers:
            seen = [await viewer.overlay() for _ in range(10)]
            assert {o.code for o in seen} == {"MPEG4CAM"}
        reader = server.feeds.feeds[camera_id].reader
        assert reader is not None and not getattr(reader, "passthrough", True)
        encoders = [s.feed.reader.encoder for s in server.app.state.streams.sessions.by_id.values()
                    if s.camera.id == camera_id]  # fmt: skip
        assert len(encoders) == 2 and encoders[0] is encoders[1] is not None
    finally:
        await asyncio.gather(*(v.stop() for v in viewers))


async def test_sessions_end_on_their_own_and_every_one_at_shutdown(
    database_url: str, users: dict[str, int]
) -> None:
    settings = stream_settings(database_url)
    settings.streams = settings.streams.model_copy(
        update={"connect_timeout_s": 2.0, "max_sessions": 2}
    )
    camera_id, _ = await seeded_camera(database_url, 5)
    with RunningServer(settings) as server:
        sessions = server.app.state.streams.sessions.by_id
        watching = Viewer(server.whep(camera_id), token(server, users, "viewer"))
        await watching.start()
        await watching.overlay()
        # A viewer that posts an offer and goes away before connecting.
        vanishing = Viewer(server.whep(camera_id), token(server, users, "dispatcher"))
        await vanishing.start()
        vanished_id = vanishing.session_id
        await vanishing.pc.close()
        with pytest.raises(WhepRefused) as full:  # max_sessions = 2
            await Viewer(server.whep(camera_id), token(server, users, "admin")).start()
        assert full.value.status == 503
        await asyncio.sleep(3.0)
        assert vanished_id not in sessions and watching.session_id in sessions
        pc = sessions[watching.session_id].pc
    # The server has shut down: its peer connection is closed, the end audited.
    assert pc.connectionState == "closed"
    assert watching.session_id is not None and vanished_id is not None
    assert audit_rows(database_url, vanished_id)[-1][6]["reason"] == "never_connected"
    assert audit_rows(database_url, watching.session_id)[-1][6]["reason"] == "shutdown"
    await watching.pc.close()


async def test_a_viewing_session_ends_when_its_token_expires_or_its_session_is_revoked(
    server: RunningServer, users: dict[str, int], database_url: str
) -> None:
    """Video lasts as long as the right to it: the token's expiry ends one session, revoking
    the log-in session (logout) ends another, each within seconds and audited with its reason;
    a session already revoked cannot start one."""
    camera_id, _ = await seeded_camera(database_url, 6)
    family = "f" * 31 + "1"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO refresh_families (id, user_id) VALUES (%s, %s) "
                     "ON CONFLICT DO NOTHING", (family, users["viewer"]))  # fmt: skip
    expiring = Viewer(server.whep(camera_id), server.tokens.issue_access(
        users["viewer"], ["camera_viewer"], ttl_s=4))  # fmt: skip
    revoked = Viewer(server.whep(camera_id), server.tokens.issue_access(
        users["viewer"], ["camera_viewer"], sid=family))  # fmt: skip
    await expiring.start()
    await revoked.start()
    await expiring.overlay()
    await revoked.overlay()
    sessions = server.app.state.streams.sessions.by_id
    assert expiring.session_id in sessions and revoked.session_id in sessions
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE refresh_families SET revoked_at = now(), revoked_reason = 'logout' "
                     "WHERE id = %s", (family,))  # fmt: skip
    for _ in range(80):  # within 8 s
        if expiring.session_id not in sessions and revoked.session_id not in sessions:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    assert expiring.session_id is not None and revoked.session_id is not None
    assert audit_rows(database_url, revoked.session_id)[-1][6]["reason"] == "logout"
    assert audit_rows(database_url, expiring.session_id)[-1][6]["reason"] == "token_expired"
    with pytest.raises(WhepRefused) as refused:
        await Viewer(server.whep(camera_id), server.tokens.issue_access(
            users["viewer"], ["camera_viewer"], sid=family)).start()  # fmt: skip
    assert refused.value.status == 401
    await expiring.pc.close()
    await revoked.pc.close()
