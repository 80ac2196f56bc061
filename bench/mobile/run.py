"""Citizen API benchmark: report submission (durable, checked request by request), health-code
issue, offline verification — on one ``onemap serve`` worker on 127.0.0.1.

    .venv/bin/python -m bench.mobile.run [--seconds 8] [--clients 16] [--scale 1]

Creates a throw-away database (migrated, seeded at --scale), runs each phase for a bounded
time, prints a Markdown report and writes it to bench/results/mobile-<date>.md. Alongside the
HTTP figures it measures CPU per request of the server process and of its PostgreSQL backends,
and the same report submission without HTTP (the service and database alone: the floor).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import psycopg
from psycopg import sql

from bench.loadgen import cpu_seconds
from bench.mobile.client import Result, request, run
from geo import migrate
from geo.params import LonLat
from geo.services import idempotency, reports
from geo.services.cases import Actor
from seed.load import seed
from server.kernel.auth.keys import load_keys
from server.kernel.auth.tokens import TokenService
from server.kernel.provision import admin_url, ensure_roles, provision
from server.kernel.settings import AuthSettings, DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".data" / "bench-mobile"


def _database(scale: float) -> str:
    server = os.environ.get("ONEMAP_DATABASE_URL") or provision(ROOT / ".data", None)
    name = f"onemap_bench_mobile_{os.getpid()}"
    with psycopg.connect(admin_url(server), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlsplit(server)._replace(path=f"/{name}").geturl()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    ensure_roles(url)  # migrations run as the owner role (docs/deploy.md)
    migrate.upgrade(DatabaseSettings(url=url).sqlalchemy_url)
    with psycopg.connect(url, autocommit=True) as conn:
        seed(conn, scale)
        conn.execute("ANALYZE")
    return url


def _drop(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url(url), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))  # fmt: skip


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ONEMAP_DATABASE_URL": url, "ONEMAP_LOG_LEVEL": "WARNING",
           "ONEMAP_DATA_DIR": str(DATA), "ONEMAP_DATABASE_POOL_MAX_SIZE": "16"}  # fmt: skip
    onemap = str(Path(sys.executable).with_name("onemap"))
    args = [onemap, "serve", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not become ready")


def _backends(url: str) -> list[int]:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                            "AND application_name = 'onemap'", (name,)).fetchall()  # fmt: skip
    return [r[0] for r in rows]


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(pid)
    return total


def _measure(url: str, server: int, port: int, clients: int, seconds: float,
             build: Any) -> tuple[Result, float, float, float]:  # fmt: skip
    pids = _backends(url)
    before = (cpu_seconds(server), _cpu(pids), time.process_time())
    result = asyncio.run(run(port, clients, seconds, build))
    after = (cpu_seconds(server), _cpu(pids), time.process_time())
    n = max(len(result.statuses), 1)
    return (result, (after[0] - before[0]) / n * 1000, (after[1] - before[1]) / n * 1000,
            (after[2] - before[2]) / n * 1000)  # fmt: skip


async def _floor(url: str, clients: int, seconds: float, citizens: list[int],
                 points: list[tuple[float, float]], tag: str) -> float:  # fmt: skip
    """The same durable submission (idempotency key + case + event), no HTTP: the floor."""
    done = 0
    stop = time.monotonic() + seconds

    async def one(conn: Any, c: int, i: int) -> None:
        lon, lat = points[(c * 7919 + i) % len(points)]
        actor = Actor.of(citizens[c % len(citizens)], ["citizen"])
        key = f"{tag}-{c}-{i}"

        async def create() -> tuple[int, dict[str, Any]]:
            case, _ = await reports.submit(
                conn, actor=actor, category="road_damage", point=LonLat(lon, lat),
                description=key, address=None, photos=[], link_to=None, radius_m=250,
            )  # fmt: skip
            return 201, {"id": case.public_id}

        await idempotency.run_once(conn, owner=f"user:{actor.user_id}", operation="report",
                                   key=key, print_=key, create=create)  # fmt: skip

    async def worker(c: int) -> None:
        nonlocal done
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            i = 0
            while time.monotonic() < stop:
                await one(conn, c, i)
                done += 1
                i += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(c) for c in range(clients)))
    return done / (time.monotonic() - started)


def _offline(tokens_: list[str], jwks: dict[str, Any], audience: str, seconds: float) -> float:
    keys = {k.key_id: k.key for k in jwt.PyJWKSet.from_dict(jwks).keys}
    n, stop = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < stop:
        token = tokens_[n % len(tokens_)]
        kid = jwt.get_unverified_header(token)["kid"]
        jwt.decode(token, keys[kid], algorithms=["ES256"], audience=audience, issuer="onemap",
                   options={"verify_exp": False})  # fmt: skip
        n += 1
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    command = "python -m bench.mobile.run " + " ".join(sys.argv[1:])
    t0 = time.monotonic()
    load_before = os.getloadavg()[0]
    url = _database(args.scale)
    print(f"database ready in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    port = random.randint(20000, 40000)
    proc = _serve(url, port)
    try:
        tokens = TokenService(load_keys(AuthSettings(), DATA), AuthSettings())
        with psycopg.connect(url) as conn:
            citizens = [r[0] for r in conn.execute(
                "SELECT id FROM users WHERE phone LIKE '1370%%' ORDER BY id")]  # fmt: skip
            points = [(r[0], r[1]) for r in conn.execute(
                "SELECT ST_X(geom), ST_Y(geom) FROM facilities ORDER BY id LIMIT 2000"
            )]  # fmt: skip
        bearer = [f"Bearer {tokens.issue_access(u, ['citizen'], ttl_s=3600)}" for u in citizens]
        run_tag = uuid.uuid4().hex[:8]

        def report(tag: str) -> Any:
            def build(c: int, i: int) -> bytes:
                lon, lat = points[(c * 7919 + i) % len(points)]
                body = urlencode({"category": "road_damage", "lon": lon, "lat": lat,
                                  "description": f"bench-{tag}-{c}-{i}"}).encode()  # fmt: skip
                return request("POST", "/api/v1/reports", {
                    "Authorization": bearer[c % len(bearer)],
                    "Idempotency-Key": f"{tag}-{c}-{i}",
                    "Content-Type": "application/x-www-form-urlencoded"}, body)  # fmt: skip

            return build

        def code(query: str) -> Any:
            def build(c: int, i: int) -> bytes:
                who = bearer[(c * 131 + i) % len(bearer)]
                return request("GET", f"/api/v1/me/health-code{query}", {"Authorization": who})

            return build

        _measure(url, proc.pid, port, args.clients, 2, report("warm"))  # fills the pool
        _measure(url, proc.pid, port, args.clients, 2, code(""))
        rep, srv_ms, db_ms, cli_ms = _measure(url, proc.pid, port, args.clients, args.seconds,
                                              report(run_tag))  # fmt: skip
        acked = [json.loads(b)["id"] for s, b in zip(rep.statuses, rep.bodies, strict=True)
                 if s == 201]  # fmt: skip
        with psycopg.connect(url) as conn:
            stored = conn.execute(
                "SELECT public_id, description FROM cases WHERE description LIKE %s",
                (f"bench-{run_tag}-%",)).fetchall()  # fmt: skip
        by_key: dict[str, int] = {}
        for _, desc in stored:
            by_key[desc] = by_key.get(desc, 0) + 1
        lost = len(set(acked) - {r[0] for r in stored})
        duplicated = sum(n - 1 for n in by_key.values() if n > 1)
        floor = asyncio.run(_floor(url, args.clients, args.seconds / 2, citizens, points,
                                   f"floor-{run_tag}"))  # fmt: skip
        hc, hc_srv, hc_db, hc_cli = _measure(url, proc.pid, port, args.clients, args.seconds,
                                             code(""))  # fmt: skip
        qr, qr_srv, _, _ = _measure(url, proc.pid, port, args.clients, args.seconds / 2,
                                    code("?qr=svg"))  # fmt: skip
        issued = [json.loads(b)["token"] for s, b in zip(hc.statuses, hc.bodies, strict=True)
                  if s == 200][:2000]  # fmt: skip
        jwks = httpx.get(f"http://127.0.0.1:{port}/.well-known/jwks.json").json()
        offline = _offline(issued, jwks, "onemap-health-code", min(args.seconds, 5))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        _drop(url)

    def row(name: str, r: Result, target: str, srv: float, db: float, cli: float) -> str:
        bad = sum(s >= 400 for s in r.statuses)
        p50, p99 = r.percentile(0.5), r.percentile(0.99)
        return (f"| {name} | {r.rps:,.0f} | {target} | {p50:.1f} | {p99:.1f} | {bad} | "
                f"{srv:.2f} | {db:.2f} | {cli:.2f} |")  # fmt: skip

    lines = [
        f"# Citizen API benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"Command: `{command}` (scale {args.scale:g}, {args.clients} clients, "
        f"{args.seconds:g} s per phase, one `onemap serve` worker, PostgreSQL on the same "
        f"2-core machine, client in the same machine).", "",
        "| phase | req/s | target | p50 ms | p99 ms | errors | server CPU ms/req | "
        "PostgreSQL CPU ms/req | client CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        row("report submission (no photo), durable", rep, "≥ 300", srv_ms, db_ms, cli_ms),
        row("health-code issue (token, no QR)", hc, "≥ 500", hc_srv, hc_db, hc_cli),
        row("health-code issue with QR (SVG)", qr, "—", qr_srv, float("nan"), float("nan")),
        f"| offline verification (pyjwt + JWKS, one process) | {offline:,.0f} | ≥ 5,000 | | | "
        "| | | |",
        f"| floor: report submission without HTTP (service + DB, {args.clients} connections) "
        f"| {floor:,.0f} | | | | | | | |", "",
        f"Report check, request by request: {len(acked):,} acknowledged (201), "
        f"{len(stored):,} stored with the run's tag, lost {lost}, duplicated {duplicated}, "
        f"stored without an acknowledgement {len(stored) - len(acked)}.",
        f"App / floor ratio for report submission: {rep.rps / floor:.2f}.",
        "CPU bound (projection from the CPU columns, not a measurement of throughput): one "
        f"worker saturates its core at ~{1000 / srv_ms:,.0f} reports/s and "
        f"~{1000 / hc_srv:,.0f} codes/s; the whole machine (2 cores: server + PostgreSQL + "
        f"client) at ~{2000 / (srv_ms + db_ms + cli_ms):,.0f} reports/s and "
        f"~{2000 / (hc_srv + hc_db + hc_cli):,.0f} codes/s.",
        f"Machine load average (1 min) before / after: {load_before:.1f} / "
        f"{os.getloadavg()[0]:.1f} on 2 cores (other engineers' work shares them).", "",
    ]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    out = args.out or ROOT / "bench" / "results" / f"mobile-{datetime.now(UTC):%Y-%m-%d}.md"
    out.write_text(text)


if __name__ == "__main__":
    main()
