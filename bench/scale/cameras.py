"""Cameras across processes, measured (issue 18, item 5): viewers of one camera spread over
two server processes and over ``--workers 2``, the camera's RTSP sessions counted, and the time
to recover when the process pulling the camera is killed.

    .venv/bin/python -m bench.scale.cameras --viewers 10 --kills 3

The camera is Debian's GStreamer RTSP server playing a synthetic clip, counting its client
connections (each one is an open of the camera: tests/test_streams_relays.py's camera). The
servers run with the default lease settings (``ONEMAP_STREAMS_LEASE_TTL_S`` 5 s, renewed every
1 s). Each kill is ``kill -9`` of the owner: then the seconds until another process holds the
lease, and until every viewer on the survivor decodes the camera's picture again (in the same
WebRTC session). A new process is started after each kill, so there are two again; its viewers
join before the next kill. Writes its table to stdout and, with ``--out``, appends it there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from server.kernel.auth.keys import load_keys  # noqa: E402
from server.kernel.auth.tokens import TokenService  # noqa: E402
from server.kernel.settings import AuthSettings  # noqa: E402
from server.streams.clip import make_clip  # noqa: E402
from server.streams.signalling import use_host_addresses  # noqa: E402
from server.streams.viewer import Viewer  # noqa: E402
from tests.running_server import Served, serving  # noqa: E402
from tests.test_streams_relays import (  # noqa: E402
    VIEWER_PHONE,
    CountingCamera,
    codes,
    lease,
    relays,
    until,
    watching,
    whep,
)
from tests.test_streams_whep import Cameras  # noqa: E402

ENV = {
    "ONEMAP_STREAMS_ICE_HOST_ADDRESSES": '["127.0.0.1"]',
    "ONEMAP_SUPERVISION_SWEEP_SECONDS": "0",
    "ONEMAP_STA_RETENTION_SWEEP_HOURS": "0",
    "ONEMAP_MQTT_ENABLED": "false",
    "ONEMAP_DATABASE_REPLICA_URLS": "",  # the primary alone: the cameras are the subject
}
CODE = "SCALECAM"


def viewer_token(url: str) -> str:
    auth = AuthSettings()
    tokens = TokenService(load_keys(auth, ROOT / ".data" / "test"), auth)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM users WHERE phone = %s", [VIEWER_PHONE]).fetchone()
    if row is None:
        raise SystemExit(f"no camera viewer {VIEWER_PHONE} in the database: seed it first")
    return tokens.issue_access(int(row[0]), ["camera_viewer"])


async def all_see(viewers: list[Viewer], frames: int, timeout_s: float) -> None:
    found = await asyncio.gather(*(codes(v, frames, timeout_s) for v in viewers))
    if any(f != {CODE} for f in found):
        raise SystemExit(f"a viewer saw {found}")


async def two_processes(url: str, camera_id: int, camera: CountingCamera, token: str,
                        per_process: int, kills: int, logs: Path) -> list[str]:  # fmt: skip
    lines = ["| round | viewers (per process) | camera opens | lease moved after kill -9 | "
             "survivor's viewers see the camera again |", "|---:|---|---:|---:|---:|"]  # fmt: skip
    moved_all: list[float] = []
    resumed_all: list[float] = []
    with ExitStack() as stack:
        n = 0

        def start() -> Served:
            nonlocal n
            n += 1
            return stack.enter_context(
                serving(url, log_file=logs / f"p{n}.log", workers=1, ready_s=120, **ENV)
            )

        opened_before = camera.opens  # the opens of this part only
        procs = [start(), start()]
        viewers: dict[str, list[Viewer]] = {p.base: [] for p in procs}
        for p in procs:
            for _ in range(per_process):
                viewers[p.base].append(await watching(whep(p, camera_id), token))
        await all_see([v for vs in viewers.values() for v in vs], 10, 20)
        opens_before = camera.opens
        lines.append(f"| 0 | {per_process} + {per_process} | {camera.opens - opened_before} "
                     "| — | — |")  # fmt: skip
        for k in range(1, kills + 1):
            owner = next(p for p in procs if relays(p)["owned"] == [camera_id])
            survivor = next(p for p in procs if p is not owner)
            owner_id = relays(owner)["process"]
            killed = time.monotonic()
            owner.process.kill()
            owner.process.wait(10)
            await until(lambda o=owner_id: (held := lease(url, camera_id)) is not None
                        and held[0] != o, 60)  # fmt: skip
            moved = time.monotonic() - killed
            await all_see(viewers[survivor.base], 5, 20)
            resumed = time.monotonic() - killed
            for v in viewers.pop(owner.base):
                with contextlib.suppress(Exception):
                    await v.pc.close()
            fresh = start()  # two processes again; the dead one's viewers come back to it
            procs = [survivor, fresh]
            viewers[fresh.base] = [await watching(whep(fresh, camera_id), token)
                                   for _ in range(per_process)]  # fmt: skip
            await all_see(viewers[fresh.base], 5, 20)
            moved_all.append(moved)
            resumed_all.append(resumed)
            lines.append(f"| {k} | {per_process} + {per_process} | {camera.opens - opens_before} "
                         f"more | {moved:.2f} s | {resumed:.2f} s |")  # fmt: skip
            opens_before = camera.opens
        for vs in viewers.values():
            for v in vs:
                await v.stop()
    lines += ["", f"Lease moved after kill -9: median {statistics.median(moved_all):.2f} s, "
              f"max {max(moved_all):.2f} s; viewers saw the camera again: median "
              f"{statistics.median(resumed_all):.2f} s, max {max(resumed_all):.2f} s."]  # fmt: skip
    return lines


async def workers(url: str, camera_id: int, camera: CountingCamera, token: str,
                  count: int, logs: Path) -> list[str]:  # fmt: skip
    before = camera.opens
    with serving(url, log_file=logs / "w.log", workers=2, ready_s=180, **ENV) as served:
        viewers = [await watching(whep(served, camera_id), token) for _ in range(count)]
        try:
            await all_see(viewers, 10, 20)
            seen = {}
            for _ in range(30):
                answer = relays(served)
                seen[answer["process"]] = (answer["owned"], answer["pulled"])
        finally:
            for v in viewers:
                await v.stop()
    owners = sum(1 for owned, _ in seen.values() if owned == [camera_id])
    pullers = sum(1 for _, pulled in seen.values() if pulled == [camera_id])
    return [f"`onemap serve --workers 2`, {count} viewers through one port: camera opened "
            f"{camera.opens - before} time(s); of the {len(seen)} workers /readyz reached, "
            f"{owners} pulls the camera and {pullers} relays it from that one (the kernel "
            "decides which worker takes each viewer's connection)."]  # fmt: skip


async def main_async(args: argparse.Namespace) -> list[str]:
    restore = use_host_addresses(["127.0.0.1"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        camera = CountingCamera(folder, make_clip(folder, code=CODE, seconds=60))
        cameras = Cameras(args.database_url)
        try:
            camera_id = cameras.add(CODE, camera.url)
            token = viewer_token(args.database_url)
            lines = ["## Cameras across processes", "",
                     f"Command: `python -m bench.scale.cameras {' '.join(sys.argv[1:])}`", "",
                     *(await workers(args.database_url, camera_id, camera, token,
                                     2 * args.viewers, folder)), "",
                     "Two server processes (as two hosts), viewers on both, the owner killed "
                     "in each round (default lease: 5 s, renewed every 1 s):", "",
                     *(await two_processes(args.database_url, camera_id, camera, token,
                                           args.viewers, args.kills, folder))]  # fmt: skip
        finally:
            cameras.close()
            camera.stop()
            restore()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/onemap_bench")
    ap.add_argument("--viewers", type=int, default=5, help="viewers per process")
    ap.add_argument("--kills", type=int, default=3, help="rounds of kill -9 of the owner")
    ap.add_argument("--out", type=Path, help="append the table to this file")
    args = ap.parse_args()
    lines = asyncio.run(main_async(args))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with args.out.open("a") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
