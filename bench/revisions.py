"""Two revisions of OneMap side by side on the scale-10 city: server CPU and wall time per
request, one request at a time, alternating the servers each round (so a machine that speeds
up or slows down during the run touches both alike). For "did this change cost anything",
where wrk's figures swing ±20% between runs on a shared 2-core machine.

    git worktree add /tmp/before <rev>             # the revision to compare with
    .venv/bin/python bench/revisions.py /tmp/before [--only Q1,Q4] [--rounds 3]

Loopback only, bounded: a fixed number of requests per query and round.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.loadgen import cpu_seconds, serve

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
Q4 = """query($lon: Float!, $lat: Float!) {
  facilities(where: {near: {lon: $lon, lat: $lat, radiusM: 500}}, first: 1000) {
    nodes { id code category nameZh distanceM geometry gridCell { id code name } } } }"""
Q1G = """query($b: BBoxInput!) { facilities(where: {bbox: $b}, first: 100) {
    nodes { id code category nameZh geometry } } }"""
COUNTS = {"Q1": 300, "Q2": 60, "Q3": 1000, "Q4": 100, "Q1g": 300}


def start(root: Path, url: str) -> tuple[subprocess.Popen[bytes], int]:
    data = str(ROOT / ".data" / "bench")
    env = {**os.environ, "PYTHONPATH": str(root), "ONEMAP_DATABASE_URL": url,
           "ONEMAP_LOG_LEVEL": "WARNING", "ONEMAP_DATA_DIR": data}  # fmt: skip
    proc, base = serve(env, root, ready="/ogc/collections", timeout_s=60)
    return proc, int(base.rsplit(":", 1)[1])


def requests(url: str) -> dict[str, list[tuple[str, str, Any]]]:
    rnd = random.Random(1)

    def boxes(km: float) -> list[str]:
        dx, dy = km / 94.9, km / 111.0
        out = []
        for _ in range(32):
            x, y = rnd.uniform(121.44, 121.54 - dx), rnd.uniform(31.19, 31.29 - dy)
            out.append(f"{x:.5f},{y:.5f},{x + dx:.5f},{y + dy:.5f}")
        return out

    import psycopg

    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM facilities WHERE category <> 'hazard_source' "
            "ORDER BY md5(id::text) LIMIT 32")]  # fmt: skip
    points = [(rnd.uniform(121.44, 121.54), rnd.uniform(31.19, 31.29)) for _ in range(32)]
    return {
        "Q1": [("GET", f"/ogc/collections/facilities/items?bbox={b}&limit=100", None)
               for b in boxes(1.0)],
        "Q2": [("GET", f"/ogc/collections/cases/items?bbox={b}&limit=1000", None)
               for b in boxes(5.0)],
        "Q3": [("GET", f"/ogc/collections/facilities/items/{i}", None) for i in ids],
        "Q4": [("POST", "/graphql", {"query": Q4, "variables": {"lon": x, "lat": y}})
               for x, y in points],
        "Q1g": [("POST", "/graphql", {"query": Q1G, "variables": {"b": dict(zip(
                    ("minLon", "minLat", "maxLon", "maxLat"), map(float, b.split(",")),
                    strict=True))}}) for b in boxes(1.0)],
    }  # fmt: skip


def measure(
    port: int, proc: subprocess.Popen[bytes], reqs: list[Any], n: int
) -> tuple[float, float]:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for method, path, body in reqs[:8]:
            client.request(method, path, json=body)
        cpu, start_t = cpu_seconds(proc.pid), time.perf_counter()
        for i in range(n):
            method, path, body = reqs[i % len(reqs)]
            r = client.request(method, path, json=body)
            if r.status_code != 200:
                raise SystemExit(f"{path}: {r.status_code} {r.text[:200]}")
        return ((cpu_seconds(proc.pid) - cpu) * 1000 / n,
                (time.perf_counter() - start_t) * 1000 / n)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path, help="a work tree of the revision to compare with")
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/onemap_bench")
    ap.add_argument("--only", default="Q1,Q2,Q3,Q4,Q1g")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cases = {q: r for q, r in requests(args.database_url).items() if q in args.only.split(",")}
    servers = {"before": start(args.before, args.database_url),
               "after": start(ROOT, args.database_url)}  # fmt: skip
    got: dict[str, dict[str, list[tuple[float, float]]]] = {k: {q: [] for q in cases}
                                                            for k in servers}  # fmt: skip
    try:
        for round_ in range(args.rounds):
            for q, reqs in cases.items():
                order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
                for name in order:
                    proc, port = servers[name]
                    got[name][q].append(measure(port, proc, reqs, COUNTS[q]))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
    for q in cases:
        b = sorted(got["before"][q])[len(got["before"][q]) // 2]
        a = sorted(got["after"][q])[len(got["after"][q]) // 2]
        print(f"{q}: server cpu ms/req before {b[0]:.3f} after {a[0]:.3f} "
              f"({(a[0] / b[0] - 1) * 100:+.0f}%); wall ms/req before {b[1]:.2f} after "
              f"{a[1]:.2f} ({(a[1] / b[1] - 1) * 100:+.0f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
