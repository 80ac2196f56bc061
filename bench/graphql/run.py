"""GraphQL side-by-side benchmark: OneMap vs PostGraphile 4 (+ @graphile/postgis), one city.

    (cd bench/graphql && npm install)              # PostGraphile, pinned in package.json
    .venv/bin/python bench/graphql/run.py          # writes bench/results/graphql-<date>.md

Needs the scale-10 city (bench/ogc/run.py --load creates `onemap_bench`) and Debian's wrk.
Q4: facilities within 500 m of a point, each with its containing grid cell. Q1g: facilities in
a ~1 km bbox, first 100. PostGraphile has no spatial filters, so it gets the same SQL as set-
returning functions it exposes as root fields (the usual way); both return the same rows, which
the script checks before timing. Each server has one worker; wrk: 2 threads, 16 connections,
64 fixed variants rotated, on 127.0.0.1, bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.loadgen import Request, cpu_seconds, wrk

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/onemap_bench"
CENTRE = (121.44, 31.19, 121.54, 31.29)

# The peer's root fields: the same SQL as OneMap's, as functions PostGraphile exposes.
PEER_FUNCTIONS = """
CREATE OR REPLACE FUNCTION bench_facilities_near(lon float8, lat float8, radius float8)
RETURNS SETOF facilities LANGUAGE sql STABLE AS $$
  SELECT f.* FROM facilities f
  WHERE f.category <> 'hazard_source'
    AND f.geom && ST_Expand(ST_SetSRID(ST_MakePoint(lon, lat), 4326),
                            radius / (111320 * cos(radians(lat))) * 1.01, radius / 110540 * 1.01)
    AND ST_DWithin(f.geom::geography, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, radius)
  ORDER BY ST_Distance(f.geom::geography, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography), f.id
$$;
CREATE OR REPLACE FUNCTION bench_facilities_in_bbox(x0 float8, y0 float8, x1 float8, y1 float8)
RETURNS SETOF facilities LANGUAGE sql STABLE AS $$
  SELECT f.* FROM facilities f
  WHERE f.category <> 'hazard_source' AND f.geom && ST_MakeEnvelope(x0, y0, x1, y1, 4326)
    AND ST_Intersects(f.geom, ST_MakeEnvelope(x0, y0, x1, y1, 4326))
  ORDER BY f.id
$$;
"""

ONEMAP_Q4 = """query($lon: Float!, $lat: Float!) {
  facilities(where: {near: {lon: $lon, lat: $lat, radiusM: 500}}, first: 1000) {
    nodes { id code category nameZh distanceM geometry gridCell { id code name } } } }"""
PEER_Q4 = """query($lon: Float!, $lat: Float!) {
  benchFacilitiesNear(lon: $lon, lat: $lat, radius: 500, first: 1000) {
    nodes { id code category nameZh geom { geojson } gridCellByGridCellId { id code name } } } }"""
ONEMAP_Q1 = """query($b: BBoxInput!) { facilities(where: {bbox: $b}, first: 100) {
    nodes { id code category nameZh geometry } } }"""
PEER_Q1 = """query($x0: Float!, $y0: Float!, $x1: Float!, $y1: Float!) {
  benchFacilitiesInBbox(x0: $x0, y0: $y0, x1: $x1, y1: $y1, first: 100) {
    nodes { id code category nameZh geom { geojson } } } }"""


def variants(seed: int = 4) -> tuple[list[tuple[float, float]], list[tuple[float, ...]]]:
    rng = random.Random(seed)
    points = [(rng.uniform(CENTRE[0], CENTRE[2]), rng.uniform(CENTRE[1], CENTRE[3]))
              for _ in range(64)]  # fmt: skip
    boxes = [(x - 0.005, y - 0.0045, x + 0.005, y + 0.0045)
             for x, y in ((rng.uniform(CENTRE[0], CENTRE[2]), rng.uniform(CENTRE[1], CENTRE[3]))
                          for _ in range(64))]  # fmt: skip
    return points, boxes


def bodies(server: str, query: str) -> list[str]:
    points, boxes = variants()
    out = []
    if query == "Q4":
        for lon, lat in points:
            doc = ONEMAP_Q4 if server == "onemap" else PEER_Q4
            out.append(json.dumps({"query": doc, "variables": {"lon": lon, "lat": lat}}))
    else:
        for x0, y0, x1, y1 in boxes:
            if server == "onemap":
                v: dict[str, Any] = {"b": {"minLon": x0, "minLat": y0, "maxLon": x1, "maxLat": y1}}
                out.append(json.dumps({"query": ONEMAP_Q1, "variables": v}))
            else:
                v = {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
                out.append(json.dumps({"query": PEER_Q1, "variables": v}))
    return out


def ids(server: str, body: dict[str, Any]) -> list[str]:
    data = body["data"]
    field = next(iter(data.values()))
    nodes = field["nodes"]
    if server == "onemap":
        return [n["id"] for n in nodes]
    return [str(n["id"]) for n in nodes]


def start(server: str, url: str, port: int) -> subprocess.Popen[bytes]:
    if server == "onemap":
        env = {**os.environ, "ONEMAP_DATABASE_URL": url, "ONEMAP_LOG_LEVEL": "WARNING",
               "ONEMAP_DATABASE_POOL_MAX_SIZE": "16"}  # fmt: skip
        cmd = [str(BIN / "onemap"), "serve", "--port", str(port), "--workers", "1"]
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    cmd = [str(HERE / "node_modules" / ".bin" / "postgraphile"), "-c", url, "--host", "127.0.0.1",
           "--port", str(port), "--append-plugins", "@graphile/postgis", "--dynamic-json",
           "--disable-graphiql", "--disable-query-log", "--max-pool-size", "16"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        try:
            httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"},
                       timeout=2)  # fmt: skip
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit(f"server on {port} did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=DEFAULT_URL)
    ap.add_argument("--duration", type=int, default=15, help="seconds per query per server")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(PEER_FUNCTIONS)
    results: dict[tuple[str, str], dict[str, float]] = {}
    answers: dict[tuple[str, str], list[list[str]]] = {}
    for n, server in enumerate(("onemap", "postgraphile")):
        port = 18_400 + n
        proc = start(server, args.database_url, port)
        try:
            wait(port, proc)
            for query in ("Q4", "Q1g"):
                reqs = [Request("POST", "/graphql", b) for b in bodies(server, query)]
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                    answers[(server, query)] = [
                        ids(server, http.post("/graphql", content=r.body,
                                              headers={"Content-Type": "application/json"}).json())
                        for r in reqs
                    ]  # fmt: skip
                with tempfile.TemporaryDirectory() as tmp:
                    wrk(port, reqs, 3, args.connections, Path(tmp))  # warm-up
                    cpu0 = cpu_seconds(proc.pid)
                    figures = wrk(port, reqs, args.duration, args.connections, Path(tmp))
                    figures["cpu_ms"] = (
                        (cpu_seconds(proc.pid) - cpu0) * 1000 / max(figures["requests"], 1)
                    )
                results[(server, query)] = figures
                print(server, query, figures, flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    same = {q: answers[("onemap", q)] == answers[("postgraphile", q)] for q in ("Q4", "Q1g")}
    write(args, results, same)


def write(args: argparse.Namespace, results: dict[tuple[str, str], dict[str, float]],
          same: dict[str, bool]) -> None:  # fmt: skip
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    out = args.out or ROOT / "bench" / "results" / f"graphql-{today}.md"
    titles = {"Q4": "facilities within 500 m of a point, each with its grid cell",
              "Q1g": "facilities in a ~1 km bbox, first 100"}  # fmt: skip
    lines = [
        f"# GraphQL benchmark, {today}", "",
        "Command: `.venv/bin/python bench/graphql/run.py"
        f" --duration {args.duration} --connections {args.connections}`", "",
        "Scale-10 city (200,000 facilities, 1,000,000 cases), one worker per server, wrk with 2 "
        f"threads and {args.connections} connections over 64 fixed variants, "
        f"{args.duration} s per query after a 3 s warm-up, on this 2-core machine (the load "
        "generator shares the cores). `cpu ms/req` is the server process's CPU per request.", "",
        "| query | server | req/s | p50 ms | p99 ms | errors | cpu ms/req | same rows |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for q in ("Q4", "Q1g"):
        for s in ("onemap", "postgraphile"):
            r = results[(s, q)]
            lines.append(f"| {q} {titles[q]} | {s} | {r['rps']:.0f} | {r['p50']:.1f} | "
                         f"{r['p99']:.1f} | {r['errors']:.0f} | {r['cpu_ms']:.2f} | "
                         f"{'yes' if same[q] else 'NO'} |")  # fmt: skip
    lines += ["", "Ratios (OneMap / PostGraphile, req/s): " + ", ".join(
        f"{q} {results[('onemap', q)]['rps'] / max(results[('postgraphile', q)]['rps'], 1e-9):.2f}×"
        for q in ("Q4", "Q1g")) + "."]  # fmt: skip
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
