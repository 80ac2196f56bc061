"""Exactly once, through client time-outs, concurrent retries and a PostgreSQL restart.

    .venv/bin/python bench/reliability/exactly_once.py [--clients 16] [--seconds 15]

A private PostgreSQL cluster (initdb on a free port, under a temporary directory) gets the
demo city at a small scale and a real ``onemap serve``. Citizens then submit reports the way
the app does: each report has an ``Idempotency-Key`` and is sent until it is acknowledged
(201, or 200 for a replay). The network is made unkind on purpose:

- a quarter of the sends give up after 30 ms (a client time-out: the server may or may not
  have committed), and the report is sent again with the same key;
- every fifth report is sent twice at once (a double tap);
- PostgreSQL is restarted (``pg_ctl restart -m fast``) while the clients are busy.

Afterwards the database is asked for each acknowledged report: it must be there exactly once,
and there must be nothing else. The figures (writes acknowledged and found, duplicates, the
outage's error window and the status codes seen in it) are printed as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.loadgen import serve
from server.kernel.provision import _as_owner, _pg_bin, start_private_cluster

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARK = "exactly-once"


class Run:
    def __init__(self) -> None:
        self.acknowledged: dict[str, str] = {}  # key → report id
        self.attempts: list[tuple[float, str]] = []  # (time, outcome: status or error kind)
        self.started = time.monotonic()

    def note(self, outcome: str) -> None:
        self.attempts.append((time.monotonic() - self.started, outcome))


def onemap(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(BIN / "onemap"), *args], env=env, cwd=ROOT, check=False,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"onemap {' '.join(args)} failed: {done.stderr.strip()[-500:]}")


async def submit(client: httpx.AsyncClient, run: Run, token: str, key: str, point: Any) -> None:
    """Send one report until it is acknowledged, as an app would (same key every time)."""
    data = {"category": "road_damage", "description": f"{MARK} {key}",
            "lon": str(point[0]), "lat": str(point[1])}  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    delay = 0.05
    while True:
        impatient = random.random() < 0.25
        try:
            r = await client.post("/api/v1/reports", data=data, headers=headers,
                                  timeout=0.03 if impatient else 30)  # fmt: skip
        except httpx.TimeoutException:
            run.note("client time-out")
        except httpx.TransportError:
            run.note("connection error")
        else:
            run.note(str(r.status_code))
            if r.status_code in (200, 201):
                report_id = str(r.json()["id"])
                earlier = run.acknowledged.setdefault(key, report_id)
                if earlier != report_id:
                    raise SystemExit(f"key {key} acknowledged as {earlier} and as {report_id}")
                return
            if r.status_code < 500 and r.status_code not in (409, 429):
                raise SystemExit(f"report refused: {r.status_code} {r.text[:300]}")
            if "retry-after" in r.headers:
                delay = max(delay, float(r.headers["retry-after"]))
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 2.0)


async def citizen(base: str, run: Run, token: str, seconds: float, point: Any) -> None:
    """Report after report for ``seconds``."""
    async with httpx.AsyncClient(base_url=base) as client:
        n = 0
        while time.monotonic() - run.started < seconds:
            n += 1
            key = str(uuid.uuid4())
            if n % 5 == 0:  # a double tap: the same report twice at once
                await asyncio.gather(submit(client, run, token, key, point),
                                     submit(client, run, token, key, point))  # fmt: skip
            else:
                await submit(client, run, token, key, point)


def restart_later(pgdata: Path, after_s: float, run: Run) -> asyncio.Task[None]:
    async def restart() -> None:
        await asyncio.sleep(after_s)
        run.note("restart begins")
        cmd = _as_owner([_pg_bin("pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "restart"])
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL)  # fmt: skip
        await proc.wait()
        run.note("restart done")

    return asyncio.ensure_future(restart())


def tokens_for(data_dir: Path, url: str, count: int) -> tuple[list[str], Any]:
    from server.kernel.auth.keys import load_keys
    from server.kernel.auth.tokens import TokenService
    from server.kernel.settings import AuthSettings

    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM users WHERE roles = '{citizen}' ORDER BY id LIMIT %s", (count,)
        )]  # fmt: skip
        point = conn.execute(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            "FROM grid_cells ORDER BY id LIMIT 1"
        ).fetchone()
    auth = AuthSettings()
    service = TokenService(load_keys(auth, data_dir), auth)
    return [service.issue_access(i, ["citizen"], ttl_s=3600) for i in ids], point


async def storm(base: str, run: Run, tokens: list[str], seconds: float, point: Any,
                pgdata: Path, restart_after_s: float) -> None:  # fmt: skip
    restart = restart_later(pgdata, restart_after_s, run)
    await asyncio.gather(*(citizen(base, run, t, seconds, point) for t in tokens))
    await restart


def verify(url: str, run: Run) -> tuple[int, int, int]:
    """(acknowledged reports found exactly once, duplicates, unacknowledged extras)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT split_part(description, ' ', 2), count(*) FROM cases "
            "WHERE description LIKE %s GROUP BY 1",
            (f"{MARK} %",),
        ).fetchall()
    found = dict(rows)
    once = sum(1 for k in run.acknowledged if found.get(k) == 1)
    duplicates = sum(n - 1 for n in found.values() if n > 1)
    extras = sum(n for k, n in found.items() if k not in run.acknowledged)
    return once, duplicates, extras


def report(run: Run, once: int, duplicates: int, extras: int, args: argparse.Namespace) -> str:
    begin = next(t for t, o in run.attempts if o == "restart begins")
    failed = [t for t, o in run.attempts if t >= begin and (o[0] == "5" or o == "connection error")]
    first, last = (failed[0], failed[-1]) if failed else (begin, begin)
    window = last - first
    codes = Counter(o for t, o in run.attempts if first <= t <= last and o not in (
        "restart begins", "restart done", "client time-out"))  # fmt: skip
    timeouts = sum(1 for _, o in run.attempts if o == "client time-out")
    lines = [
        f"{args.clients} citizens reporting for {args.seconds:.0f} s; a quarter of the sends "
        "time out at 30 ms; every fifth report double-tapped; PostgreSQL restarted "
        f"{args.restart_after:.0f} s in.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| reports acknowledged | {len(run.acknowledged)} |",
        f"| acknowledged and found exactly once | {once} |",
        f"| duplicates | {duplicates} |",
        f"| rows nobody was told about | {extras} |",
        f"| sends in all (retries included) | {len(run.attempts) - 2} |",
        f"| client time-outs (deliberate) | {timeouts} |",
        f"| outage: first to last 5xx or refused connection | {window:.2f} s |",
        f"| outage: answers in that window (409: a double tap still in flight) | "
        f"{dict(sorted(codes.items()))} |",
    ]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=15.0, help="how long the citizens report")
    ap.add_argument("--restart-after", type=float, default=5.0)
    ap.add_argument("--scale", type=float, default=0.01)
    args = ap.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory(prefix="onemap-exactly-once-") as tmp:
        pgdata, data = Path(tmp) / "pg", Path(tmp) / "data"
        if os.geteuid() == 0:
            os.chmod(tmp, 0o755)  # noqa: S103 - initdb runs as the postgres user
        port = start_private_cluster(pgdata)
        url = f"postgresql://postgres@127.0.0.1:{port}/onemap"
        env = {**os.environ, "ONEMAP_DATABASE_URL": url, "ONEMAP_DATA_DIR": str(data),
               "ONEMAP_LOG_LEVEL": "ERROR"}  # fmt: skip
        server = None
        try:
            onemap(env, "db", "provision")
            onemap(env, "migrate")
            onemap(env, "seed", "--scale", str(args.scale), "--quiet")
            server, base = serve(env, ROOT)
            tokens, point = tokens_for(data, url, args.clients)
            run = Run()
            asyncio.run(storm(base, run, tokens, args.seconds, point, pgdata, args.restart_after))
            once, duplicates, extras = verify(url, run)
            print(report(run, once, duplicates, extras, args))
            if once != len(run.acknowledged) or duplicates or extras:
                raise SystemExit("exactly-once violated")
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
            subprocess.run(_as_owner([_pg_bin("pg_ctl"), "-D", str(pgdata), "-m", "fast",
                                      "stop"]), check=False, capture_output=True)  # fmt: skip


if __name__ == "__main__":
    main()
