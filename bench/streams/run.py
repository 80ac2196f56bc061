"""Viewers of one 720p H.264 camera: server CPU per viewer, the most viewers that all still get
the camera's 25 fps, and the latency added from camera to viewer.

    .venv/bin/python bench/streams/run.py          # writes bench/results/streams-<date>.md
    .venv/bin/python bench/streams/run.py --steps 1,20,40 --window 6

The server (``onemap serve``, one worker) runs as its own process on 127.0.0.1, so its CPU is
read from /proc. N aiortc viewers run in this process; they count whole frames as aiortc's
jitter buffer completes them but do not decode them (N software H.264 decoders would eat the
two cores the server is measured on). A separate probe process decodes one viewer of a
synthetic 720p camera and reads the time burned into each picture to measure latency while the
N viewers are connected. Loopback only; every step is bounded in time and the run stops itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiortc.rtcrtpreceiver  # noqa: E402

from server.kernel.auth.keys import load_keys  # noqa: E402
from server.kernel.auth.tokens import TokenService  # noqa: E402
from server.kernel.settings import AuthSettings  # noqa: E402
from server.streams.clip import make_clip  # noqa: E402
from server.streams.pattern import DAY_MS, time_of_day_ms  # noqa: E402
from server.streams.signalling import use_host_addresses  # noqa: E402
from server.streams.viewer import Viewer  # noqa: E402

BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/onemap_bench_streams"
DATA = ROOT / ".data"
FPS = 25
# Every viewer's UDP socket gets 1 MiB (the kernel's default, 208 KiB, holds ~50 loopback
# packets: one keyframe burst while this one process serves dozens of viewers).
RCVBUF = 1 << 20


async def counting_receiver(self: Any, packet: Any, arrival_time_ms: int) -> None:
    """Stands in for aiortc's receive pipeline (jitter buffer, NACK, decoder) in the N counted
    viewers: after SRTP and RTP parsing, count the frames that arrive whole — the marker
    packet of a frame whose sequence numbers ran without a gap since the previous one."""
    if packet.payload_type not in {c.payloadType for c in self._RTCRtpReceiver__codecs.values()}:
        return  # RTX retransmissions: none are asked for here
    expected = getattr(self, "bench_next_seq", None)
    self.bench_gap = getattr(self, "bench_gap", False) or (
        expected is not None and packet.sequence_number != expected
    )
    self.bench_next_seq = (packet.sequence_number + 1) & 0xFFFF
    if packet.marker:
        if not self.bench_gap:
            self.bench_frames = getattr(self, "bench_frames", 0) + 1
        self.bench_gap = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every core since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def prepare(url: str) -> tuple[int, int, int, Path]:
    """A migrated, seeded (small) database with the two bench cameras; returns their ids and
    a camera_viewer's user id."""
    from geo import migrate
    from seed.load import seed
    from server.kernel.provision import admin_url, ensure_roles

    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url(url), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    ensure_roles(url)  # migrations run as the owner role (docs/deploy.md)
    migrate.upgrade("postgresql+psycopg://" + url.split("://", 1)[1])
    clip = make_clip(
        DATA / "bench", code="BENCH720", width=1280, height=720, fps=FPS, seconds=10,
        gop=FPS, bitrate=2_000_000, noise=True,
    )  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        seed(conn, 0.01)
        ids = []
        for code, source in (
            ("BENCH720", f"file://{clip}"),
            ("BENCHSYN", f"testsrc://BENCHSYN?size=1280x720&fps={FPS}"),
        ):
            conn.execute("DELETE FROM cameras WHERE code = %s", [code])
            row = conn.execute(
                "INSERT INTO cameras (code, name, heading, fov, source, grid_cell_id, geom) "
                "SELECT %s, 'bench', 0, 90, %s, min(id), ST_SetSRID(ST_MakePoint(121.47, 31.23), "
                "4326) FROM grid_cells RETURNING id",
                [code, source],
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
        user = conn.execute("SELECT id FROM users WHERE 'camera_viewer' = ANY(roles)").fetchone()
        assert user is not None
    return ids[0], ids[1], int(user[0]), clip


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ONEMAP_DATABASE_URL": url,
        "ONEMAP_DATA_DIR": str(DATA),
        "ONEMAP_STREAMS_ICE_HOST_ADDRESSES": '["127.0.0.1"]',
        "ONEMAP_STREAMS_MAX_SESSIONS": "1000",
        "ONEMAP_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [str(BIN / "onemap"), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    wait_for_port(proc, port)
    return proc


def wait_for_port(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def frames(viewer: Viewer) -> int:
    receiver = viewer.pc.getTransceivers()[0].receiver
    return int(getattr(receiver, "bench_frames", 0))


async def step(
    n: int, whep: str, token: str, probe_cmd: list[str] | None, pid: int, window: float
) -> dict[str, Any]:
    viewers = [Viewer(whep, token, receive_buffer=RCVBUF) for _ in range(n)]
    for i in range(0, n, 10):  # connect in batches, as viewers arrive
        await asyncio.gather(*(v.start() for v in viewers[i : i + 10]))
    deadline = time.monotonic() + 20
    while any(frames(v) == 0 for v in viewers) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # every viewer past its first keyframe and settled
    probe = None
    if probe_cmd:
        probe = await asyncio.create_subprocess_exec(
            *probe_cmd, str(window), stdout=asyncio.subprocess.PIPE
        )
    busy0, total0 = machine_busy()
    cpu0, me0, t0 = cpu_seconds(pid), time.process_time(), time.monotonic()
    before = [frames(v) for v in viewers]
    await asyncio.sleep(window)
    after = [frames(v) for v in viewers]
    elapsed = time.monotonic() - t0
    server_cpu = (cpu_seconds(pid) - cpu0) / elapsed
    client_cpu = (time.process_time() - me0) / elapsed
    busy1, total1 = machine_busy()
    latency = {"lat_p50": float("nan"), "lat_p95": float("nan"), "lat_max": float("nan")}
    if probe is not None:
        out, _ = await probe.communicate()
        latency = json.loads(out)
    await asyncio.gather(*(v.stop() for v in viewers), return_exceptions=True)
    fps = sorted((b - a) / elapsed for a, b in zip(before, after, strict=True))
    return {
        "n": n,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "fps_min": fps[0],
        "fps_median": statistics.median(fps),
        "never_started": sum(a == 0 for a in before),
        "machine_busy": (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1),
        **latency,
    }


async def probe(whep: str, token: str, window: float) -> None:
    """One decoding viewer: latency = arrival of a decoded picture − the time burned into it."""
    viewer = Viewer(whep, token, receive_buffer=RCVBUF)
    await viewer.start()
    lat: list[float] = []
    try:
        await viewer.overlay(timeout_s=20)
        end = time.monotonic() + window
        while time.monotonic() < end:
            overlay = await viewer.overlay()
            if overlay.time_ms is not None:
                lat.append((time_of_day_ms(time.time()) - overlay.time_ms) % DAY_MS)
    finally:
        await viewer.stop()
    q = statistics.quantiles(lat, n=20) if len(lat) > 1 else [float("nan")] * 19
    print(json.dumps({"lat_p50": q[9], "lat_p95": q[18], "lat_max": max(lat, default=0)}))


async def measure(
    args: argparse.Namespace,
    proc: subprocess.Popen[bytes],
    whep: str,
    token: str,
    probe_cmd: list[str] | None,
    steps: list[int],
) -> tuple[float, list[dict[str, Any]]]:
    """Idle CPU, then one row per step, against a started server process (stopped after)."""
    rows = []
    try:
        await asyncio.sleep(1.0)
        idle0, t0 = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(3.0)
        idle = (cpu_seconds(proc.pid) - idle0) / (time.monotonic() - t0)
        for n in steps:
            row = await step(n, whep, token, probe_cmd, proc.pid, args.window)
            rows.append(row)
            print(json.dumps(row), flush=True)
            await asyncio.sleep(args.idle_stop + 1.0)  # the feed stops between steps
    finally:
        proc.terminate()
        proc.wait(30)
    return idle, rows


def start_peer(port: int, clip: Path, mode: str) -> subprocess.Popen[bytes]:
    script = Path(__file__).with_name("peer_aiortc.py")
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(clip), mode])
    wait_for_port(proc, port)
    return proc


async def run(args: argparse.Namespace) -> None:
    use_host_addresses(["127.0.0.1"])
    aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet = counting_receiver  # type: ignore[method-assign]
    file_cam, syn_cam, user, clip = prepare(args.db)
    auth = AuthSettings(access_ttl_s=3600)
    token = TokenService(load_keys(auth, DATA), auth).issue_access(user, ["camera_viewer"])
    results: dict[str, tuple[float, list[dict[str, Any]]]] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}/streams/cameras"
    probe_cmd = [sys.executable, __file__, "--probe", f"{base}/{syn_cam}/whep", token]
    results["OneMap"] = await measure(
        args, start_server(args.db, port), f"{base}/{file_cam}/whep", token, probe_cmd, args.steps
    )
    if args.peers:
        clip = make_clip(
            DATA / "bench", code="BENCH720", width=1280, height=720, fps=FPS, seconds=40,
            gop=FPS, bitrate=2_000_000, noise=True,
        )  # fmt: skip
        for mode, steps in (("passthrough", args.steps), ("reencode", args.reencode_steps)):
            port = free_port()
            whep = f"http://127.0.0.1:{port}/streams/cameras/1/whep"
            results[f"aiortc MediaPlayer+MediaRelay, {mode}"] = await measure(
                args, start_peer(port, clip, mode), whep, token, None, steps
            )
    write(args, results)


def _table(idle: float, rows: list[dict[str, Any]]) -> list[str]:
    ok = [r["n"] for r in rows if r["fps_min"] >= FPS - 0.5 and not r["never_started"]]
    first = rows[0]
    lines = [
        f"Server CPU with no viewer: {idle:.3f} cores.",
        "",
        "| viewers | server CPU (cores) | per added viewer (cores) | viewer fps min / median | "
        "latency p50 / p95 / max (ms) | viewers' process CPU | machine busy (cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        added = r["n"] - first["n"]
        per = (r["server_cpu"] - first["server_cpu"]) / added if added else float("nan")
        lines.append(
            f"| {r['n']} | {r['server_cpu']:.2f} | {per:.4f} | {r['fps_min']:.1f} / "
            f"{r['fps_median']:.1f} | {r['lat_p50']:.0f} / {r['lat_p95']:.0f} / "
            f"{r['lat_max']:.0f} | {r['client_cpu']:.2f} | {r['machine_busy']:.2f} |"
        )
    lines += [
        "",
        f"Largest N of these steps at which every viewer got ≥ {FPS - 0.5:g} fps: "
        f"**{max(ok) if ok else 'none'}**.",
        "",
    ]
    return lines


def write(args: argparse.Namespace, results: dict[str, tuple[float, list[dict[str, Any]]]]) -> None:
    command = (
        f".venv/bin/python bench/streams/run.py --steps {','.join(map(str, args.steps))} "
        f"--window {args.window:g}" + (" --peers" if args.peers else "")
    )
    lines = [
        f"# Streams benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {os.cpu_count()} cores, shared with other engineers' work (the 'machine busy' "
        "column is every process's CPU during the window). Server: `onemap serve`, one worker, "
        "127.0.0.1. Camera: 1280×720 H.264 (baseline, GOP 25 = 1 s, ~2 Mbit/s, MPEG-TS clip "
        "made by `server.streams.clip.make_clip`), `file://`, forwarded without re-encoding. "
        "Viewers: aiortc peer connections (ICE, DTLS, SRTP), all in one separate process, whose "
        "receive pipeline is replaced by a counter of whole frames (a frame's packets all "
        "arrived, marker bit seen) — aiortc's jitter buffer and decoder cost the viewers "
        "more CPU than the server spends on them, on the same two cores. UDP receive buffers "
        "1 MiB. fps = whole frames in the window / its length. "
        "Latency (OneMap only): one decoding aiortc viewer of a synthetic 1280×720 camera "
        "(`testsrc://`, painted and H.264-encoded once by the server) during each step; "
        "latency = arrival of the decoded picture − the UTC time burned into it when it was "
        "painted (camera → encoder → relay → RTP/SRTP → jitter buffer → decoder). A clip cannot "
        "carry wall-clock time, so the forwarded camera's own latency is not measured; its "
        "server path is the same relay without the encoder. Peer: aiortc's own recipe "
        "(`bench/streams/peer_aiortc.py`: one MediaPlayer + one MediaRelay(buffered=False), "
        "no auth, no database), fed a 40 s clip played once per step.",
        "",
    ]
    for name, (idle, rows) in results.items():
        lines += [f"## {name}", "", *_table(idle, rows)]
    out = ROOT / "bench" / "results" / f"streams-{datetime.now(UTC):%Y-%m-%d}.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get("ONEMAP_BENCH_STREAMS_URL", DEFAULT_URL))
    parser.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 20, 40, 60, 80])  # fmt: skip
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured per step")
    parser.add_argument("--idle-stop", type=float, default=5.0)
    parser.add_argument("--peers", action="store_true", help="also aiortc's own recipe")
    parser.add_argument("--reencode-steps", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 2, 4])  # fmt: skip
    parser.add_argument("--probe", nargs=2, metavar=("WHEP_URL", "TOKEN"))
    parser.add_argument("probe_window", nargs="?", type=float)
    args = parser.parse_args()
    if args.probe:
        use_host_addresses(["127.0.0.1"])
        asyncio.run(probe(args.probe[0], args.probe[1], args.probe_window))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
