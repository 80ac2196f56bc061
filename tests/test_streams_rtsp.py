"""An RTSP camera: Debian's GStreamer RTSP server (run by the system Python, which has the
GObject bindings) serves a generated H.264 clip on 127.0.0.1; OneMap forwards it without
re-encoding, marks the camera offline when the server goes away and reconnects when it is back.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from server.streams.clip import make_clip
from server.streams.viewer import Viewer
from tests.test_streams_whep import (
    Cameras,
    RunningServer,
    free_port,
    stream_settings,
    token,
)

SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = """
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
Gst.init(None)
port, clip = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( filesrc location={clip} ! tsdemux ! h264parse config-interval=-1 "
    "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on " + port)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def _gst_rtsp_available() -> bool:
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "assert all(Gst.ElementFactory.find(e) for e in ('tsdemux', 'h264parse', 'rtph264pay'))"
    )
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0
    except OSError:
        return False


pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not _gst_rtsp_available(),
        reason="needs Debian's GStreamer RTSP server: apt-get install python3-gi "
        "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad",
    ),
]


class RtspCamera:
    def __init__(self, workdir: Path, clip: Path) -> None:
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.script = workdir / "rtsp_server.py"
        self.script.write_text(RTSP_SERVER)
        self.clip = clip
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(self.script), str(self.port), str(self.clip)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None


@pytest.fixture
def rtsp_camera(tmp_path: Path) -> Iterator[RtspCamera]:
    clip = make_clip(tmp_path, code="RTSPCAM", seconds=30)
    camera = RtspCamera(tmp_path, clip)
    camera.start()
    try:
        yield camera
    finally:
        camera.stop()


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[RunningServer]:
    with RunningServer(stream_settings(database_url)) as running:
        yield running


@pytest.fixture
def cameras(database_url: str) -> Iterator[Cameras]:
    c = Cameras(database_url)
    try:
        yield c
    finally:
        c.close()


async def test_an_rtsp_camera_is_forwarded_and_reconnected(
    server: RunningServer, rtsp_camera: RtspCamera, cameras: Cameras, database_url: str
) -> None:
    camera_id = cameras.add("RTSPCAM", rtsp_camera.url)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE phone = '13800000003'").fetchone()
    assert row is not None
    viewer = Viewer(server.whep(camera_id), token(server, {"viewer": row[0]}, "viewer"))
    await viewer.start()
    try:
        seen = [await viewer.overlay() for _ in range(30)]
        assert {o.code for o in seen} == {"RTSPCAM"}
        feed = server.feeds.feeds[camera_id]
        assert getattr(feed.reader, "passthrough", False)  # H.264 forwarded as it is
        assert cameras.status(camera_id)[0] == "online"

        rtsp_camera.stop()  # the camera drops off the network
        await _until(lambda: cameras.status(camera_id)[0] == "offline", 15)
        rtsp_camera.start()  # and comes back: the feed reconnects, the viewer sees it again
        await _until(lambda: cameras.status(camera_id)[0] == "online", 20)
        again = [await viewer.overlay(timeout_s=15) for _ in range(10)]
        assert {o.code for o in again} == {"RTSPCAM"}
        assert server.feeds.feeds[camera_id] is feed  # the same feed and relay throughout
    finally:
        await viewer.stop()


async def _until(check: Any, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await asyncio.to_thread(check):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)
