"""OGC side-by-side benchmark: OneMap vs tipg vs stock pygeoapi on the same scale-10 city.

    .venv/bin/pip install -e '.[bench]'; apt-get install wrk
    .venv/bin/python bench/ogc/run.py --load          # once: create, migrate, seed scale 10
    .venv/bin/python bench/ogc/run.py --duration 15   # writes bench/results/ogc-<date>.md

Each server runs with one worker on 127.0.0.1; wrk (2 threads, 16 connections) rotates through
64 fixed variants of each query. Loopback only, bounded in time: every run stops by itself.

Tile rows: ``onemap`` runs with its tile cache off (every tile built: the cold figure),
``onemap-warm`` with it on, replaying the tile variants it has already served (Q7: cache
hits), and ``sql`` is the SQL ceiling — the same tile statements run straight on PostgreSQL
with psycopg by 16 connections (``sql_ceiling.py``) — so each tile figure is a ratio in one run.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import loadgen
from bench.loadgen import Request, cpu_seconds
from bench.ogc.sql_ceiling import ceiling

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/onemap_bench"
# The dense middle of the demo city, where a 1 km box holds ~100–2,000 facilities.
CENTRE = (121.44, 31.19, 121.54, 31.29)
QUERIES = ["Q1", "Q2", "Q2c", "Q2d", "Q3", "Q5", "Q5c", "Q5d", "Q6", "Q7"]
TITLES = {
    "Q1": "facilities in a ~1 km bbox, limit 100",
    "Q2": "cases in a ~5 km bbox, limit 1000",
    "Q2c": "cases in a ~5 km bbox, limit 1000, as a city-wide dispatcher (full cases)",
    "Q2d": "cases in a ~5 km bbox, limit 1000, as a district dispatcher (jurisdiction in SQL)",
    "Q3": "one facility by id",
    "Q5": "facilities tile z14",
    "Q5c": "cases tile z14",
    "Q5d": "cases tile z14, as a district dispatcher",
    "Q6": "cases tile z11 (aggregated above 10,000 features)",
    "Q7": "warm replay of the Q5, Q5c and Q6 tiles (OneMap: tile cache hits)",
}
#: The tile rows the SQL ceiling runs, and the rows that ride on the tile cache.
TILE_ROWS = ("Q5", "Q5c", "Q5d", "Q6")
WARM = ("Q7",)
#: OneMap's staff variants: the same request with a dispatcher's token. Peers have no access
#: control, so their figure for the base query is the one to hold these against.
STAFF = {"Q2c": ("Q2", "city"), "Q2d": ("Q2", "district"), "Q5d": ("Q5c", "district")}


@dataclass(frozen=True)
class Variants:
    boxes1: list[tuple[float, float, float, float]]
    boxes5: list[tuple[float, float, float, float]]
    ids: list[int]
    tiles: list[tuple[int, int, int]]  # z, x (col), y (row)
    tiles11: list[tuple[int, int, int]]


def variants(url: str) -> Variants:
    rnd = random.Random(20261115)  # fixed benchmark variants

    def box(w_km: float) -> tuple[float, float, float, float]:
        dx, dy = w_km / 94.9, w_km / 111.0  # degrees per km at 31.2° N
        x = rnd.uniform(CENTRE[0], CENTRE[2] - dx)
        y = rnd.uniform(CENTRE[1], CENTRE[3] - dy)
        return (round(x, 5), round(y, 5), round(x + dx, 5), round(y + dy, 5))

    boxes1 = [box(1.0) for _ in range(64)]
    boxes5 = [box(5.0) for _ in range(64)]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM facilities WHERE category <> 'hazard_source' ORDER BY md5(id::text) "
            "LIMIT 64"
        ).fetchall()
    ids = [int(r[0]) for r in rows]

    def tiles(z: int) -> list[tuple[int, int, int]]:
        found = []
        for _ in range(64):
            lon, lat = rnd.uniform(CENTRE[0], CENTRE[2]), rnd.uniform(CENTRE[1], CENTRE[3])
            n = 1 << z
            x = int((lon + 180) / 360 * n)
            y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
            found.append((z, x, y))
        return found

    return Variants(boxes1, boxes5, ids, tiles(14), tiles(11))


def bbox(b: tuple[float, float, float, float]) -> str:
    return ",".join(str(v) for v in b)


def paths(server: str, q: str, v: Variants) -> list[str]:
    q = STAFF.get(q, (q, ""))[0]
    server = "onemap" if server.startswith("onemap") else server
    if q == "Q7":
        return [*paths(server, "Q5", v), *paths(server, "Q5c", v), *paths(server, "Q6", v)]
    fac = {"onemap": "facilities", "tipg": "public.facilities", "pygeoapi": "facilities"}[server]
    cas = {"onemap": "cases", "tipg": "public.cases", "pygeoapi": "cases"}[server]
    pre = "/ogc" if server == "onemap" else ""
    f = "&f=json" if server == "pygeoapi" else ""
    if q == "Q1":
        return [f"{pre}/collections/{fac}/items?bbox={bbox(b)}&limit=100{f}" for b in v.boxes1]
    if q == "Q2":
        return [f"{pre}/collections/{cas}/items?bbox={bbox(b)}&limit=1000{f}" for b in v.boxes5]
    if q == "Q3":
        return [f"{pre}/collections/{fac}/items/{i}{'?f=json' if f else ''}" for i in v.ids]
    layer = fac if q == "Q5" else cas
    tiles = v.tiles11 if q == "Q6" else v.tiles
    if server == "tipg":  # tipg's tile path is z/x/y
        return [f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in tiles]
    return [f"{pre}/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}" for z, x, y in tiles]


def sql_jobs(url: str, q: str, v: Variants) -> list[tuple[Any, Any]]:
    """The (view, tile) of each variant, as OneMap's tile route would run it."""
    from geo import access
    from geo.layers import CASES_PUBLIC, FACILITIES_PUBLIC
    from geo.queries.tiles import Tile

    view = FACILITIES_PUBLIC if q == "Q5" else CASES_PUBLIC
    if q in STAFF:
        principal = access.Principal(1, frozenset({"dispatcher"}),
                                     jurisdiction=district(url))  # fmt: skip
        found = access.view_for(principal, "cases")
        assert found is not None
        view = found
    tiles = v.tiles11 if q == "Q6" else v.tiles
    return [(view, Tile(z, x, y)) for z, x, y in tiles]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pygeoapi_config(url: str, port: int, folder: Path) -> dict[str, str]:
    """Stock pygeoapi: its PostgreSQL provider (psycopg2) on the same tables."""
    conninfo = psycopg.conninfo.conninfo_to_dict(url)
    data = {"host": conninfo.get("host", "127.0.0.1"), "port": int(conninfo.get("port", 5432)),
            "dbname": conninfo["dbname"], "user": conninfo.get("user", "postgres"),
            "password": conninfo.get("password", ""), "search_path": ["public"]}  # fmt: skip

    def resource(table: str, time_field: str | None) -> dict[str, object]:
        provider = {"type": "feature", "name": "PostgreSQL", "data": data, "id_field": "id",
                    "table": table, "geom_field": "geom"}  # fmt: skip
        if time_field:
            provider["time_field"] = time_field
        return {"type": "collection", "title": table, "description": table, "keywords": [table],
                "links": [], "extents": {"spatial": {"bbox": [121.4, 31.16, 121.58, 31.32],
                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [provider]}  # fmt: skip

    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
                   "languages": ["en-US"], "limits": {"default_items": 100, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                           "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench",
                                        "keywords": ["bench"], "keywords_type": "theme",
                                        "terms_of_service": "", "url": "http://127.0.0.1"},
                     "license": {"name": "x", "url": "http://127.0.0.1"},
                     "provider": {"name": "x", "url": "http://127.0.0.1"},
                     "contact": {"name": "x"}},
        "resources": {"facilities": resource("facilities", None),
                      "cases": resource("cases", "reported_at")},
    }  # fmt: skip
    cfg = folder / "pygeoapi.yml"
    cfg.write_text(yaml.safe_dump(config))
    oas = folder / "openapi.yml"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)}
    with oas.open("w") as out:
        subprocess.run([str(BIN / "pygeoapi"), "openapi", "generate", str(cfg)], env=env,
                       stdout=out, check=True, stderr=subprocess.DEVNULL)  # fmt: skip
    return {"PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)}


def start(server: str, url: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ}
    if server.startswith("onemap"):
        env |= {"ONEMAP_DATABASE_URL": url, "ONEMAP_LOG_LEVEL": "WARNING",
                "ONEMAP_DATA_DIR": str(ROOT / ".data" / "bench"),
                # cold figures with the tile cache off; onemap-warm keeps it (256 MB)
                "ONEMAP_OGC_TILE_CACHE_MB": "0" if server == "onemap" else "256"}  # fmt: skip
        cmd = [str(BIN / "onemap"), "serve", "--port", str(port), "--workers", "1"]
    elif server == "tipg":
        env |= {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["public"]',
                "TIPG_MAX_FEATURES_PER_TILE": "10000"}  # fmt: skip
        cmd = [str(BIN / "uvicorn"), "tipg.main:app", "--port", str(port), "--host", "127.0.0.1",
               "--workers", "1", "--no-access-log", "--log-level", "warning"]  # fmt: skip
    else:
        env |= pygeoapi_config(url, port, folder)
        cmd = [str(BIN / "uvicorn"), "pygeoapi.starlette_app:APP", "--port", str(port),
               "--host", "127.0.0.1", "--workers", "1", "--no-access-log",
               "--log-level", "warning"]  # fmt: skip
    with (folder / f"{server}.log").open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            probe = "/ogc/collections" if server.startswith("onemap") else "/collections"
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=5).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"{server} did not start; see {folder / (server + '.log')}")


def wrk(port: int, urls: list[str], seconds: int, conns: int, folder: Path,
        auth: str | None = None) -> dict[str, float]:  # fmt: skip
    requests = [Request("GET", u, authorization=auth) for u in urls]
    return loadgen.wrk(port, requests, seconds, conns, folder)


def check(port: int, urls: list[str], auth: str | None = None) -> str:
    """Every variant answers 200 before timing (a server that errors is not fast)."""
    headers = {"Authorization": auth} if auth else {}
    bad = [
        u
        for u in urls
        if httpx.get(f"http://127.0.0.1:{port}{u}", headers=headers, timeout=60).status_code
        not in (200, 204)
    ]
    return f"{len(bad)} of {len(urls)} variants fail, e.g. {bad[0]}" if bad else ""


def district(url: str) -> Any:
    """The jurisdiction of the district holding the benchmark's centre."""
    from geo.access import Jurisdiction, Scope

    mid = ((CENTRE[0] + CENTRE[2]) / 2, (CENTRE[1] + CENTRE[3]) / 2)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM admin_areas WHERE level = 'district' AND "
            "ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            mid,
        ).fetchone()
    assert row is not None
    return Jurisdiction(Scope.DISTRICT, (int(row[0]),))


def dispatcher_token(url: str, scope: str) -> str:
    """A bearer token of the demo dispatcher, city-wide or for the district holding the
    benchmark's centre (so its boxes mostly fall inside it), signed with the server's keys."""
    from geo.access import CITY
    from server.kernel.auth.keys import load_keys
    from server.kernel.auth.tokens import TokenService
    from server.kernel.settings import AuthSettings

    with psycopg.connect(url) as conn:
        user = conn.execute("SELECT id FROM users WHERE phone = '13800000006'").fetchone()
    assert user is not None
    jurisdiction = CITY if scope == "city" else district(url)
    auth = AuthSettings()
    tokens = TokenService(load_keys(auth, ROOT / ".data" / "bench"), auth)
    token = tokens.issue_access(int(user[0]), ["dispatcher"], jurisdiction=jurisdiction,
                                ttl_s=3600)  # fmt: skip
    return f"Bearer {token}"


def load(url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    env = {**os.environ, "ONEMAP_DATABASE_URL": url}
    subprocess.run([str(BIN / "onemap"), "migrate"], env=env, check=True)
    subprocess.run([str(BIN / "onemap"), "seed", "--scale", "10"], env=env, check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=DEFAULT_URL)
    ap.add_argument("--load", action="store_true", help="create, migrate and seed scale 10 first")
    ap.add_argument("--duration", type=int, default=15, help="seconds per query per server")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--servers", default="onemap,onemap-warm,sql,tipg,pygeoapi")
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    if args.load:
        load(args.database_url)
    v = variants(args.database_url)
    results: dict[tuple[str, str], dict[str, float] | str] = {}
    servers = args.servers.split(",")
    queries = args.queries.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for server in servers:
            if server == "sql":
                for q in queries:
                    if q not in TILE_ROWS:
                        results[(server, q)] = "tile rows only"
                        continue
                    jobs = sql_jobs(args.database_url, q, v)
                    results[(server, q)] = r = ceiling(args.database_url, jobs, 10_000,
                                                       args.duration, args.warmup,
                                                       args.connections)  # fmt: skip
                    print(server, q, r, flush=True)
                continue
            proc, port = start(server, args.database_url, folder)
            try:
                for q in queries:
                    skip = why_not(server, q)
                    if skip:
                        results[(server, q)] = skip
                        continue
                    urls = paths(server, q, v)
                    auth = dispatcher_token(args.database_url, STAFF[q][1]) if q in STAFF else None
                    problem = check(port, urls, auth)  # (for onemap-warm: fills the cache)
                    if problem:
                        results[(server, q)] = problem
                        continue
                    wrk(port, urls, args.warmup, args.connections, folder, auth)
                    before = cpu_seconds(proc.pid)
                    r = wrk(port, urls, args.duration, args.connections, folder, auth)
                    r["cpu_ms"] = (cpu_seconds(proc.pid) - before) * 1000 / max(1, r["requests"])
                    results[(server, q)] = r
                    print(server, q, r, flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    write(args, servers, queries, results)


def why_not(server: str, q: str) -> str:
    """Why a server does not run a query (empty: it does)."""
    if q in STAFF and not server.startswith("onemap"):
        return "no access control: see the base query"
    if server == "onemap-warm" and q not in WARM:
        return "see onemap (cache off)"
    if server == "onemap" and q in WARM:
        return "cache off: see onemap-warm"
    if server == "pygeoapi" and q in (*TILE_ROWS, *WARM):
        return "not run: MVT-postgresql takes seconds per tile"
    return ""


def cpu(ms: float) -> str:
    return "—" if math.isnan(ms) else f"{ms:.2f}"  # the SQL ceiling has no server process


def write(args: argparse.Namespace, servers: list[str], queries: list[str],
          results: dict[tuple[str, str], dict[str, float] | str]) -> None:  # fmt: skip
    stamp = datetime.now(UTC)
    out = args.out or ROOT / "bench" / "results" / f"ogc-{stamp:%Y-%m-%d}.md"
    cmd = " ".join(["python", "bench/ogc/run.py", *sys.argv[1:]])
    lines = [
        f"# OGC benchmark, {stamp:%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{cmd}`  ",
        f"Demo city ({args.database_url.rsplit('/', 1)[-1]}); each server one worker on "
        f"127.0.0.1; wrk -t2 -c{args.connections}, {args.duration} s per query after a "
        f"{args.warmup} s warm-up, 64 fixed variants per query; {os.cpu_count()} cores shared "
        "by server, PostgreSQL and wrk. `cpu ms/req` is the server process's CPU per request.",
        "",
        "| query | server | req/s | p50 ms | p99 ms | errors | cpu ms/req |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for q in queries:
        for s in servers:
            r = results.get((s, q), "not run")
            if isinstance(r, str):
                lines.append(f"| {q} {TITLES[q]} | {s} | — | — | — | — | {r} |")
            else:
                lines.append(
                    f"| {q} {TITLES[q]} | {s} | {r['rps']:.1f} | {r['p50']:.1f} | "
                    f"{r['p99']:.1f} | {int(r['errors'])} | {cpu(r['cpu_ms'])} |"
                )
    lines += ["", "Ratios (OneMap req/s ÷ peer req/s, same run):", ""]
    for q in queries:
        mine = results.get(("onemap-warm" if q in WARM else "onemap", q))
        for peer in ("tipg", "pygeoapi"):
            theirs = results.get((peer, STAFF.get(q, (q, ""))[0]))
            if isinstance(mine, dict) and isinstance(theirs, dict) and theirs["rps"] > 0:
                lines.append(f"- {q}: {mine['rps'] / theirs['rps']:.2f}× {peer}")
    lines += [
        "",
        "Tiles against the SQL ceiling (OneMap, cache off ÷ the same statements on "
        "PostgreSQL alone; target ≥ 0.90) and warm against tipg (target ≥ 20×):",
        "",
    ]
    for q in TILE_ROWS:
        mine, sql = results.get(("onemap", q)), results.get(("sql", q))
        if isinstance(mine, dict) and isinstance(sql, dict) and sql["rps"] > 0:
            lines.append(f"- {q}: {mine['rps'] / sql['rps']:.2f} of the SQL ceiling")
    for q in WARM:
        warm, peer = results.get(("onemap-warm", q)), results.get(("tipg", q))
        if isinstance(warm, dict) and isinstance(peer, dict) and peer["rps"] > 0:
            lines.append(f"- {q}: warm {warm['rps'] / peer['rps']:.1f}× tipg")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
