"""Cameras across processes: one source pull per camera however many processes serve it.

Real ``onemap serve`` processes on 127.0.0.1 (two on their own ports — as two hosts would be —
or one with ``--workers 2``), real aiortc viewers, and an RTSP camera (Debian's GStreamer RTSP
server) that counts its clients: the number of times the camera was opened.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from server.kernel.auth.keys import load_keys
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import AuthSettings
from server.streams.clip import make_clip
from server.streams.hop import hop_secret, open_hop
from server.streams.signalling import use_host_addresses
from server.streams.sources import SourceError
from server.streams.viewer import Viewer, WhepRefused
from tests.conftest import ROOT
from tests.running_server import Served, serving
from tests.test_streams_rtsp import RTSP_SERVER, SYSTEM_PYTHON, _gst_rtsp_available
from tests.test_streams_whep import Cameras, free_port

#: Each client connection of the RTSP server is one open of the camera: print it.
COUNTING_RTSP_SERVER = RTSP_SERVER.replace(
    "if server.attach(None) == 0:",
    'server.connect("client-connected", lambda *a: print("client", flush=True))\n'
    "if server.attach(None) == 0:",
)
assert COUNTING_RTSP_SERVER != RTSP_SERVER

TTL_S, RENEW_S = 3.0, 0.5
#: Seconds a server may take to start: this machine's 2 cores are shared with other sessions.
READY_S = 90.0
SERVER_ENV = {
    "ONEMAP_STREAMS_ICE_HOST_ADDRESSES": '["127.0.0.1"]',
    "ONEMAP_STREAMS_LEASE_TTL_S": str(TTL_S),
    "ONEMAP_STREAMS_LEASE_RENEW_S": str(RENEW_S),
    "ONEMAP_STREAMS_IDLE_STOP_S": "1",
    "ONEMAP_STREAMS_OFFLINE_RETRY_S": "1",
    "ONEMAP_LOG_LEVEL": "INFO",
    # No background work beside the streams: the sweeps and the sensor lead are others'.
    "ONEMAP_SUPERVISION_SWEEP_SECONDS": "0",
    "ONEMAP_STA_RETENTION_SWEEP_HOURS": "0",
    "ONEMAP_MQTT_ENABLED": "false",
}
VIEWER_PHONE = "13800000003"  # the seed's camera_viewer, whose jurisdiction is the city

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not _gst_rtsp_available(),
        reason="needs Debian's GStreamer RTSP server: apt-get install python3-gi "
        "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad",
    ),
]


class CountingCamera:
    """An RTSP camera that counts the connections made to it."""

    def __init__(self, workdir: Path, clip: Path) -> None:
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        script = workdir / "counting_rtsp_server.py"
        script.write_text(COUNTING_RTSP_SERVER)
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(script), str(self.port), str(clip)], stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        self.opens = 0
        self._reading = threading.Thread(target=self._count, daemon=True)
        self._reading.start()

    def _count(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == "client":
                self.opens += 1

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._reading.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[CountingCamera]:
    cam = CountingCamera(tmp_path, make_clip(tmp_path, code="LEASECAM", seconds=60))
    try:
        yield cam
    finally:
        cam.stop()


@pytest.fixture
def camera_id(database_url: str, camera: CountingCamera) -> Iterator[int]:
    cameras = Cameras(database_url)
    try:
        yield cameras.add("LEASECAM", camera.url)
    finally:
        cameras.close()


KEYS = ROOT / ".data" / "test"


@pytest.fixture
def token(database_url: str) -> str:
    auth = AuthSettings()
    tokens = TokenService(load_keys(auth, KEYS), auth)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE phone = %s", [VIEWER_PHONE]).fetchone()
    assert row is not None
    return tokens.issue_access(int(row[0]), ["camera_viewer"])


@pytest.fixture(autouse=True)
def loopback_ice() -> Iterator[None]:
    """The viewers in this process gather ICE candidates on 127.0.0.1, as the servers do."""
    restore = use_host_addresses(["127.0.0.1"])
    try:
        yield
    finally:
        restore()


def whep(served: Served, camera_id: int) -> str:
    return f"{served.base}/streams/cameras/{camera_id}/whep"


def lease(database_url: str, camera_id: int) -> tuple[str, str, bool] | None:
    """(owner, internal URL, unexpired) of the camera's lease."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT owner, internal_url, expires_at > now() FROM camera_relays "
            "WHERE camera_id = %s",
            [camera_id],
        ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def relays(served: Served) -> dict[str, Any]:
    answer = httpx.get(f"{served.base}/readyz", timeout=5).json()
    assert answer["status"] == "ready"
    return dict(answer["relays"])


def view_starts(database_url: str, camera_id: int) -> list[str]:
    """The sessions whose start of viewing the audit trail holds for the camera."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT detail->>'session' FROM audit_log WHERE action = 'camera.view.start' "
            "AND object_type = 'camera' AND object_id = %s ORDER BY id",
            [str(camera_id)],
        ).fetchall()
    return [r[0] for r in rows]


async def watching(url: str, token: str, timeout_s: float = 20.0) -> Viewer:
    """A viewer started on ``url``, retrying while the camera is briefly unavailable (503)."""
    deadline = time.monotonic() + timeout_s
    while True:
        viewer = Viewer(url, token)
        try:
            await viewer.start()
            return viewer
        except WhepRefused as refused:
            if refused.status != 503 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(float(refused.headers.get("retry-after", "1")) / 2)


async def codes(viewer: Viewer, frames: int, timeout_s: float = 10.0) -> set[str | None]:
    return {(await viewer.overlay(timeout_s)).code for _ in range(frames)}


async def until(check: Callable[[], Any], timeout_s: float) -> float:
    """Seconds until ``check()`` is truthy (polled every 50 ms); fails after ``timeout_s``."""
    start = time.monotonic()
    while not await asyncio.to_thread(check):
        assert time.monotonic() - start < timeout_s, "timed out"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_viewers_on_two_processes_share_one_pull_that_moves_when_its_owner_dies(
    database_url: str, camera: CountingCamera, camera_id: int, token: str, tmp_path: Path
) -> None:
    with (
        serving(
            database_url, log_file=tmp_path / "a.log", workers=1, ready_s=READY_S, **SERVER_ENV
        ) as a,  # one process: as one host
        serving(
            database_url, log_file=tmp_path / "b.log", workers=1, ready_s=READY_S, **SERVER_ENV
        ) as b,  # one process: as one host
    ):
        on_a = await watching(whep(a, camera_id), token)
        on_b: Viewer | None = None
        again: Viewer | None = None
        try:
            assert await codes(on_a, 10) == {"LEASECAM"}
            owner_a = relays(a)["process"]
            assert relays(a)["owned"] == [camera_id]
            held = lease(database_url, camera_id)
            assert held is not None and held[0] == owner_a and held[2]
            assert held[1] == relays(a)["internal_url"]

            on_b = await watching(whep(b, camera_id), token)
            assert await codes(on_b, 25) == {"LEASECAM"}  # pulled from a's relay
            assert relays(b)["pulled"] == [camera_id] and relays(b)["owned"] == []
            assert await codes(on_a, 5) == {"LEASECAM"}
            assert camera.opens == 1  # one pull for viewers on both processes

            # Each viewer is audited once, where it watches; the hop between them is not.
            starts = view_starts(database_url, camera_id)
            assert sorted(starts) == sorted([on_a.session_id, on_b.session_id])

            killed = time.monotonic()
            a.process.kill()  # kill -9: no release of the lease, no goodbye to b
            a.process.wait(10)
            moved = await until(
                lambda: (held := lease(database_url, camera_id)) is not None and held[0] != owner_a,
                TTL_S + 10,
            )
            assert moved <= TTL_S + 3, f"the lease moved after {moved:.1f} s"
            assert lease(database_url, camera_id)[0] == relays(b)["process"]  # type: ignore[index]
            # b's viewer keeps its session: its frames come back from the source b now pulls.
            assert await codes(on_b, 25, timeout_s=15) == {"LEASECAM"}
            resumed = time.monotonic() - killed
            assert relays(b)["owned"] == [camera_id]

            # a's viewer lost its server: it watches again through b (WHEP once more).
            await on_a.pc.close()
            again = await watching(whep(b, camera_id), token)
            assert await codes(again, 10) == {"LEASECAM"}
            assert camera.opens == 2  # b opened the camera once; nobody else did
            starts = view_starts(database_url, camera_id)
            assert sorted(starts) == sorted([on_a.session_id, on_b.session_id, again.session_id])
            print(f"lease moved {moved:.2f} s after kill -9; b's viewer saw frames again "
                  f"{resumed:.2f} s after it")  # fmt: skip
        finally:
            for viewer in (on_b, again):
                if viewer is not None:
                    await viewer.stop()
            await on_a.pc.close()
    assert lease(database_url, camera_id) is None  # b gave the lease up when it stopped


async def test_workers_of_one_server_share_one_pull(
    database_url: str, camera: CountingCamera, camera_id: int, token: str, tmp_path: Path
) -> None:
    log_file = tmp_path / "w.log"
    with serving(
        database_url, log_file=log_file, workers=2, ready_s=2 * READY_S, **SERVER_ENV
    ) as served:
        viewers: list[Viewer] = []
        try:
            for _ in range(6):  # each POST a new connection: the kernel spreads them
                viewers.append(await watching(whep(served, camera_id), token))
            for viewer in viewers:
                assert await codes(viewer, 10) == {"LEASECAM"}
            assert camera.opens == 1
            held = lease(database_url, camera_id)
            assert held is not None and held[2]
            seen = {}  # what each worker that answers /readyz says it does with the camera
            for _ in range(30):
                answer = relays(served)
                seen[answer["process"]] = (answer["owned"], answer["pulled"])
            owners = [p for p, (owned, _) in seen.items() if owned == [camera_id]]
            assert len(seen) == 2 and len(owners) == 1, seen  # one worker pulls the source
            pullers = [p for p, (_, pulled) in seen.items() if pulled == [camera_id]]
            print(f"worker {owners[0]} pulls the camera; {pullers or 'no other'} its relay")
        finally:
            for viewer in viewers:
                await viewer.stop()


async def test_with_redirect_to_owner_a_viewer_is_sent_to_the_process_that_pulls(
    database_url: str, camera: CountingCamera, camera_id: int, token: str, tmp_path: Path
) -> None:
    """Processes with public URLs of their own: the second answers 307 with the owner's WHEP
    URL; the viewer offers there. The internal hop serves only with the deployment's key."""
    port_a, port_b = free_port(), free_port()
    redirecting = {**SERVER_ENV, "ONEMAP_STREAMS_REDIRECT_TO_OWNER": "true"}
    with (
        serving(database_url, log_file=tmp_path / "a.log", workers=1, ready_s=READY_S, port=port_a,
                ONEMAP_STREAMS_PUBLIC_URL=f"http://127.0.0.1:{port_a}", **redirecting) as a,
        serving(database_url, log_file=tmp_path / "b.log", workers=1, ready_s=READY_S, port=port_b,
                ONEMAP_STREAMS_PUBLIC_URL=f"http://127.0.0.1:{port_b}", **redirecting) as b,
    ):  # fmt: skip
        first = await watching(whep(a, camera_id), token)
        second: Viewer | None = None
        try:
            assert await codes(first, 5) == {"LEASECAM"}
            second = Viewer(whep(b, camera_id), token)
            await second.start()  # b answers 307; the viewer offers to a
            assert second.whep_url == whep(a, camera_id)
            assert second.session_url is not None and second.session_url.startswith(a.base)
            assert await codes(second, 10) == {"LEASECAM"}
            assert relays(b) == {**relays(b), "owned": [], "pulled": []}  # b relays nothing
            assert camera.opens == 1
            starts = view_starts(database_url, camera_id)
            assert sorted(starts) == sorted([first.session_id, second.session_id])

            # The internal hop: a's relay, for a process that has the deployment's key only.
            internal_a, internal_b = relays(a)["internal_url"], relays(b)["internal_url"]
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"{internal_a}/relay/{camera_id}")).status_code == 401
                stranger = {"Authorization": "OneMap-Relay 9999999999.00ff"}
                refused = await client.get(f"{internal_a}/relay/{camera_id}", headers=stranger)
                assert refused.status_code == 401
                elsewhere = await client.get(f"{internal_a}/streams/cameras/{camera_id}/whep")
                assert elsewhere.status_code == 404  # the internal address serves nothing else
            auth = AuthSettings()
            secret = hop_secret(None, load_keys(auth, KEYS).private_material())
            hop = await asyncio.to_thread(open_hop, internal_a, camera_id, secret, 3.0, 3.0)
            try:
                packet = await asyncio.to_thread(next, iter(hop.packets()))
                assert packet.is_keyframe and packet.size > 0  # a viewer starts at a keyframe
            finally:
                hop.close()
            with pytest.raises(SourceError, match="409"):  # b pulls nothing it could pass on
                await asyncio.to_thread(open_hop, internal_b, camera_id, secret, 3.0, 3.0)
            assert camera.opens == 1
        finally:
            if second is not None:
                await second.stop()
            await first.stop()
