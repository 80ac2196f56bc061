"""The stream service's parts without a network: the burned-in font, source URLs, WHEP
signalling, the relay's keyframe discipline, and the audit and camera-status writers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import psycopg
import pytest

from geo.enums import CameraStatus
from geo.errors import InvalidInput
from geo.services import audit, cameras_status
from server.streams import font
from server.streams.pattern import Painter, read_overlay
from server.streams.relay import Relay
from server.streams.signalling import check_offer, parse_fragment
from server.streams.sources import SourceSpec, parse_source


def test_every_glyph_reads_back_at_every_scale() -> None:
    text = "".join(sorted(set(font._GLYPHS)))
    for scale in (2, 3, 8):
        w, h = font.text_size(len(text), scale)
        luma = np.full((h + 10, w + 10), 128, dtype=np.uint8)
        font.draw(luma, text, 5, 5, scale)
        assert font.read(luma, len(text), 5, 5, scale) == text


def test_the_overlay_survives_h264_at_low_bitrate(tmp_path: Path) -> None:
    from server.streams.clip import make_clip

    clip = make_clip(tmp_path, code="cam-42_x", width=320, height=180, seconds=1, bitrate=150_000)
    with av.open(str(clip)) as container:
        frames = list(container.decode(video=0))
    overlays = [read_overlay(f.to_ndarray(format="yuv420p")[: f.height]) for f in frames]
    assert [o.code for o in overlays] == ["CAM-42_X"] * 25
    assert [o.frame for o in overlays] == list(range(25))
    assert overlays[10].time_ms == 400  # the clip's own clock: frame 10 at 25 fps


def test_the_painter_refuses_odd_sizes() -> None:
    with pytest.raises(ValueError, match="even"):
        Painter("X", 641, 360)


def test_source_urls(tmp_path: Path) -> None:
    assert parse_source("testsrc://CAM000001", tmp_path) == SourceSpec("testsrc")
    assert parse_source("testsrc://x?size=1280x720&fps=30", tmp_path) == SourceSpec(
        "testsrc", width=1280, height=720, fps=30
    )
    assert parse_source("file:///srv/a.ts", tmp_path) == SourceSpec("file", "/srv/a.ts")
    assert parse_source("file://clips/a.ts", tmp_path) == SourceSpec(
        "file", str(tmp_path / "clips" / "a.ts")
    )
    rtsp = "rtsp://user:pw@10.0.0.5/stream1"
    assert parse_source(rtsp, tmp_path) == SourceSpec("rtsp", rtsp)
    for bad in ("http://x/y.m3u8", "testsrc://x?size=641x360", "testsrc://x?size=big"):
        with pytest.raises(ValueError):  # noqa: PT011 - each message is checked by its caller
            parse_source(bad, tmp_path)


FINGERPRINT = ":".join(["AB"] * 32)
OFFER = f"""v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 0.0.0.0
a=mid:0
a=recvonly
a=ice-ufrag:abcd
a=ice-pwd:0123456789012345678901
a=fingerprint:sha-256 {FINGERPRINT}
a=setup:actpass
a=rtcp-mux
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 packetization-mode=1;profile-level-id=42e01f
a=candidate:1 1 udp 2130706431 0b1c2d3e-aaaa.local 50000 typ host
a=candidate:2 1 udp 2130706431 127.0.0.1 50001 typ host
"""


def test_an_offer_is_checked_at_the_edge() -> None:
    offer = check_offer(OFFER)
    assert offer.ice_ufrag == "abcd" and offer.video_mid == "0"
    assert ".local" not in offer.sdp and "127.0.0.1 50001" in offer.sdp
    cases = {
        OFFER.replace("a=recvonly", "a=sendonly"): "must be recvonly",
        OFFER.replace("H264/90000", "VP9/90000"): "no H.264",
        OFFER.replace("m=video", "m=audio"): "no video",
        "not sdp at all": "not a valid SDP",
    }
    for text, message in cases.items():
        with pytest.raises(InvalidInput, match=message):
            check_offer(text)


def test_a_trickle_fragment() -> None:
    frag = parse_fragment(
        "a=ice-ufrag:abcd\r\na=ice-pwd:x\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
        "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"
        "a=candidate:2 1 udp 1 f00.local 5001 typ host\r\na=end-of-candidates\r\n",
        default_mid=None,
    )
    assert frag.ice_ufrag == "abcd" and frag.end_of_candidates
    assert [(c.ip, c.port, c.sdpMid) for c in frag.candidates] == [("127.0.0.1", 5000, "0")]
    with pytest.raises(InvalidInput, match="candidate"):
        parse_fragment("a=candidate:nonsense\r\n", default_mid="0")


def _packet(key: bool) -> av.Packet[Any]:
    packet = av.Packet(b"\x00\x00\x00\x01" + (b"\x65" if key else b"\x41") + b"data")
    packet.is_keyframe = key
    return packet


def test_the_relay_hands_viewers_whole_pictures_only() -> None:
    relay = Relay(queue_limit=4, on_subscribe=lambda: None)
    early = relay.subscribe()
    relay.push(_packet(False))  # mid-GOP: a new viewer waits for a keyframe
    relay.push(_packet(True))
    relay.push(_packet(False))
    assert [p.is_keyframe for p in early._queue] == [True, False]
    for _ in range(3):  # the queue overflows: skip to the next keyframe
        relay.push(_packet(False))
    assert len(early._queue) == 0 and early.skipped > 0
    relay.push(_packet(False))
    relay.push(_packet(True))
    assert [p.is_keyframe for p in early._queue] == [True]
    early.stop()
    assert len(relay) == 0


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(database_url) as c:
        try:
            yield c
        finally:
            await c.rollback()


@pytest.mark.anyio
async def test_audit_record(conn: psycopg.AsyncConnection[Any]) -> None:
    user = await (await conn.execute("SELECT id FROM users ORDER BY id LIMIT 1")).fetchone()
    assert user is not None
    first = await audit.record(
        conn, actor_id=user[0], actor_role="admin", action="x.read", object_type="thing",
        object_id=7, client_addr="::1", detail={"why": "test"},
    )  # fmt: skip
    second = await audit.record(
        conn, actor_id=None, actor_role=None, action="x.read", object_type="thing",
        object_id=None, client_addr="testclient",
    )  # fmt: skip
    cur = await conn.execute(
        "SELECT object_id, host(client_addr), detail FROM audit_log WHERE id = ANY(%s) ORDER BY id",
        [[first, second]],
    )
    assert await cur.fetchall() == [
        ("7", "::1", {"why": "test"}),
        (None, None, {"client": "testclient"}),  # not an IP address: kept, in detail
    ]


@pytest.mark.anyio
async def test_camera_status_changes_are_published(
    conn: psycopg.AsyncConnection[Any], database_url: str
) -> None:
    row = await (await conn.execute("SELECT id, code FROM cameras ORDER BY id LIMIT 1")).fetchone()
    assert row is not None
    camera_id, code = row
    await cameras_status.set_status(conn, camera_id, CameraStatus.OFFLINE)
    change = await cameras_status.set_status(conn, camera_id, CameraStatus.ONLINE)
    assert change.changed and change.previous is CameraStatus.OFFLINE
    again = await cameras_status.set_status(conn, camera_id, CameraStatus.ONLINE)
    assert not again.changed and again.last_seen_at is not None
    payload = change.payload()
    assert payload == {
        "camera_id": camera_id, "code": code, "status": "online",
        "last_seen_at": change.last_seen_at.isoformat() if change.last_seen_at else None,
    }  # fmt: skip
    assert json.loads(json.dumps(payload)) == payload
