"""Upload memory: N concurrent report submissions of five ~10 MB photos each (~50 MB per
request, the largest the citizen API takes) against one server process, whose resident memory
(VmRSS) is sampled every 10 ms; the server's baseline, peak and the answers are printed.

    .venv/bin/python bench/reliability/uploads.py [--database-url URL] [--root DIR]
                                                  [--uploads 8] [--rounds 2]

``--database-url``: a seeded OneMap database to use as is; without it a throw-away one is made
on the local server (migrated, seeded at scale 0.05) and dropped afterwards. ``--root``: the
checkout whose server runs (another revision, to compare; default this one). Loopback only.
The photos are JPEG noise (it does not compress), about 3000×3400 pixels, just under 10 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from PIL import Image
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.loadgen import serve
from geo import migrate
from seed.load import seed
from server.kernel.auth.keys import load_keys
from server.kernel.auth.tokens import TokenService
from server.kernel.provision import admin_url, provision
from server.kernel.settings import AuthSettings, DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATA = ROOT / ".data" / "bench-uploads"
PHOTOS = 5


def photo(target: int = 10 * 2**20 - 200_000) -> bytes:
    """A JPEG of noise just under ``target`` bytes (noise keeps its size through JPEG)."""
    rng = np.random.default_rng(7)
    width, height = 3000, 3600
    while True:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=92)
        if buf.tell() <= target:
            return buf.getvalue()
        height -= 50


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)


def make_database(server: str) -> str:
    name = f"onemap_uploads_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = provision(DATA, server.rsplit("/", 1)[0] + f"/{name}")
    try:
        migrate.upgrade(DatabaseSettings(url=url).sqlalchemy_url)
        with psycopg.connect(url, autocommit=True) as conn:
            seed(conn, 0.05)
    except BaseException:
        drop_database(url)
        raise
    return url


def drop_database(url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url(url), autocommit=True) as admin:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        admin.execute(drop.format(sql.Identifier(name)))


def start(root: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONPATH": str(root), "ONEMAP_DATABASE_URL": url,
           "ONEMAP_LOG_LEVEL": "WARNING", "ONEMAP_DATA_DIR": str(DATA)}  # fmt: skip
    return serve(env, root)


async def submit(client: httpx.AsyncClient, base: str, token: str, jpeg: bytes,
                 point: tuple[float, float]) -> tuple[int, float, str]:  # fmt: skip
    started = time.monotonic()
    r = await client.post(
        f"{base}/api/v1/reports",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        data={"category": "road_damage", "description": "upload bench", "lon": str(point[0]),
              "lat": str(point[1])},
        files=[("photos", (f"p{i}.jpg", jpeg, "image/jpeg")) for i in range(PHOTOS)],
    )  # fmt: skip
    return r.status_code, time.monotonic() - started, r.headers.get("retry-after", "")


async def round_(base: str, token: str, jpeg: bytes, point: tuple[float, float],
                 n: int) -> list[tuple[int, float, str]]:  # fmt: skip
    async with httpx.AsyncClient(timeout=120) as client:
        return await asyncio.gather(*(submit(client, base, token, jpeg, point) for _ in range(n)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url")
    ap.add_argument(
        "--server",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where a throw-away database is made without --database-url",
    )
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--uploads", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    url = args.database_url or make_database(args.server)
    jpeg = photo()
    proc, base = start(args.root.resolve(), url)
    try:
        with psycopg.connect(url) as conn:
            row: Any = conn.execute("SELECT u.id, ST_X(f.geom), ST_Y(f.geom) FROM users u, "
                                    "facilities f WHERE u.phone = '13700000001' "
                                    "ORDER BY f.id LIMIT 1").fetchone()  # fmt: skip
        tokens = TokenService(load_keys(AuthSettings(), DATA), AuthSettings())
        token = tokens.issue_access(row[0], ["citizen"])
        httpx.get(f"{base}/api/v1/services", timeout=10)  # warm
        time.sleep(1.0)
        baseline = rss_kib(proc.pid)
        sampler = Sampler(proc.pid)
        sampler.start()
        answers = []
        started = time.monotonic()
        for _ in range(args.rounds):
            answers += asyncio.run(round_(base, token, jpeg, (row[1], row[2]), args.uploads))
        took = time.monotonic() - started
        time.sleep(0.5)
        sampler.running = False
        sampler.join()
        after = rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if args.database_url is None:
            drop_database(url)
    statuses: dict[int, int] = {}
    for status, _, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    mib = 1024
    print(f"| server | {args.root} |")
    print(
        f"| uploads | {args.rounds} rounds of {args.uploads} concurrent × {PHOTOS} photos of "
        f"{len(jpeg) / 2**20:.1f} MiB ({PHOTOS * len(jpeg) / 2**20:.0f} MiB a request) |"
    )
    print(f"| answers | {', '.join(f'{s}: {c}' for s, c in sorted(statuses.items()))} |")
    print(f"| slowest answer | {max(t for _, t, _ in answers):.1f} s (all rounds {took:.1f} s) |")
    print(f"| RSS before | {baseline / mib:.0f} MiB |")
    print(f"| RSS peak | {sampler.peak / mib:.0f} MiB (+{(sampler.peak - baseline) / mib:.0f}) |")
    print(f"| RSS after | {after / mib:.0f} MiB |")


if __name__ == "__main__":
    main()
