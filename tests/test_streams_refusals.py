"""WHEP refusals (each a problem+json), trickle ICE, and who may end a session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from server.streams.viewer import Viewer, http
from tests.test_streams_whep import (
    DEMO,
    ORIGIN,
    RunningServer,
    audit_rows,
    seeded_camera,
    stream_settings,
    token,
)
from tests.webrtc_helpers import recvonly_offer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[RunningServer]:
    with RunningServer(stream_settings(database_url)) as running:
        yield running


@pytest.fixture(scope="module")
def users(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = dict(conn.execute("SELECT phone, id FROM users").fetchall())
    return {name: int(rows[phone]) for name, phone in DEMO.items()}


async def test_refusals_are_problems(
    server: RunningServer, users: dict[str, int], database_url: str
) -> None:
    camera_id, _ = await seeded_camera(database_url, 2)
    url = server.whep(camera_id)
    offer = await recvonly_offer()
    sdp = {"Content-Type": "application/sdp"}

    def post(headers: dict[str, str], body: bytes = offer, to: str = url) -> Any:
        return http("POST", to, body, headers)

    def bearer(who: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(server, users, who, *roles)}"}

    anonymous = await asyncio.to_thread(post, sdp)
    assert anonymous.status == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await asyncio.to_thread(post, {**sdp, "Authorization": "Bearer not.a.token"})
    assert forged.status == 401

    analyst = await asyncio.to_thread(post, {**sdp, **bearer("analyst")})
    assert analyst.status == 403
    assert "camera_viewer" in json.loads(analyst.body)["detail"]
    with psycopg.connect(database_url) as conn:
        refused = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'camera.view.refused' "
            "AND actor_id = %s AND object_id = %s",
            [users["analyst"], str(camera_id)],
        ).fetchone()
    assert refused is not None and refused[0] >= 1

    viewer = bearer("viewer")
    wrong_type = await asyncio.to_thread(post, {**viewer, "Content-Type": "application/json"})
    assert wrong_type.status == 415
    assert "application/sdp" in json.loads(wrong_type.body)["detail"]
    unknown = await asyncio.to_thread(post, {**sdp, **viewer}, offer, server.whep(10**8))
    assert unknown.status == 404
    assert json.loads(unknown.body)["type"] == "urn:onemap:problem:not_found"
    garbage = await asyncio.to_thread(post, {**sdp, **viewer}, b"hello")
    assert garbage.status == 400
    no_video = offer.replace(b"m=video", b"m=audio")
    assert (await asyncio.to_thread(post, {**sdp, **viewer}, no_video)).status == 400
    huge = await asyncio.to_thread(post, {**sdp, **viewer}, offer + b"a=x:" + b"y" * 70_000)
    assert huge.status == 400
    for answer in (wrong_type, unknown, garbage):
        assert answer.headers["content-type"] == "application/problem+json"

    preflight = await asyncio.to_thread(
        http, "OPTIONS", url, None,
        {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
         "Access-Control-Request-Headers": "authorization, content-type"},
    )  # fmt: skip
    assert preflight.status == 204
    assert preflight.headers["accept-post"] == "application/sdp"
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    stranger = await asyncio.to_thread(http, "OPTIONS", url, None, {"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in stranger.headers


async def test_a_session_is_ended_by_its_viewer_or_an_admin_and_takes_trickle_ice(
    server: RunningServer, users: dict[str, int], database_url: str
) -> None:
    camera_id, _ = await seeded_camera(database_url, 3)
    viewer = Viewer(server.whep(camera_id), token(server, users, "viewer"))
    await viewer.start()
    assert viewer.session_url is not None
    session_url = viewer.session_url
    await viewer.overlay()
    frag = {"Content-Type": "application/trickle-ice-sdpfrag"}
    own = {"Authorization": f"Bearer {token(server, users, 'viewer')}"}
    other = {"Authorization": f"Bearer {token(server, users, 'dispatcher')}"}
    admin = {"Authorization": f"Bearer {token(server, users, 'admin')}"}
    session = server.app.state.streams.sessions.by_id[viewer.session_id]
    candidate = (
        f"a=ice-ufrag:{session.remote_ufrag}\r\na=mid:{session.video_mid}\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n"
    ).encode()
    trickled = await asyncio.to_thread(http, "PATCH", session_url, candidate, {**frag, **own})
    assert trickled.status == 204
    restart = b"a=ice-ufrag:newfrag\r\na=ice-pwd:newpasswordnewpassword\r\n"
    restarted = await asyncio.to_thread(http, "PATCH", session_url, restart, {**frag, **own})
    assert restarted.status == 422
    assert "ICE restart" in json.loads(restarted.body)["detail"]
    as_json = await asyncio.to_thread(
        http, "PATCH", session_url, candidate, {**own, "Content-Type": "application/json"}
    )
    assert as_json.status == 415
    assert (await asyncio.to_thread(http, "DELETE", session_url, None, other)).status == 403
    assert (await asyncio.to_thread(http, "DELETE", session_url, None, {})).status == 401
    assert (await asyncio.to_thread(http, "DELETE", session_url, None, admin)).status == 200
    assert (await asyncio.to_thread(http, "DELETE", session_url, None, own)).status == 404
    viewer.session_url = None  # already ended by the admin
    await viewer.stop()
    rows = audit_rows(database_url, session.id)
    assert [r[0] for r in rows] == ["camera.view.start", "camera.view.end"]
