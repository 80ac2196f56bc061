"""A heavy-query storm: 8 clients send the costliest GraphQL operation their principal class may
send, back to back, while one client sends a light request (one OGC feature) every 20 ms. The
light request's latency (p50, p99) is measured before and during the storm, per class.

    .venv/bin/python bench/reliability/storm.py [--database-url URL] [--seconds 20]

"The costliest operation a class may send" is found with the server's own pricing
(server/gql/cost.py): for each shape below, the largest page whose price fits the class's
budget. The light client runs in its own process, so parsing the storm's large answers never
delays it. Loopback only, bounded by ``--seconds``. Results go to stdout as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.revisions import start
from graphql import parse
from server.gql.cost import Pricer
from server.gql.schema import contract_schema
from server.kernel.settings import GraphQLSettings

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8

#: Shapes whose price grows with $n: each class sends the costliest one it may.
SHAPES = {
    "stats": "query($n: Int!) { caseStats(groupBy: [GRID_CELL, CATEGORY, STATUS, DAY], "
    "limit: $n) { gridCellId category status day count } }",
    "facilities": "query($n: Int) { a: facilities(first: $n) { nodes { id code category nameZh "
    "nameEn address geometry gridCell { id code name } } } b: facilities(first: $n) { nodes { "
    "id code category nameZh nameEn address geometry gridCell { id code name } } } }",
    "cases": "query($n: Int) { cases(first: $n) { nodes { id publicId category status priority "
    "reportedAt geometry description address events { at eventType note } } } }",
}


def costliest(budget: int) -> dict[str, tuple[str, int, int]]:
    """For each shape, (document, n, price) with the largest n whose price is within budget."""
    schema = contract_schema()._schema
    settings = GraphQLSettings()
    out: dict[str, tuple[str, int, int]] = {}
    for name, doc in SHAPES.items():
        ast = parse(doc)
        lo, hi = 1, settings.max_stats_buckets if name == "stats" else settings.max_first
        price = 0
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if Pricer(schema, ast, {"n": mid}, settings).operation(ast, None) <= budget:
                lo = mid
            else:
                hi = mid - 1
        price = Pricer(schema, ast, {"n": lo}, settings).operation(ast, None)
        out[name] = (doc, lo, price)
    return out


def bearer(url: str, roles: list[str]) -> str | None:
    if roles == []:
        return None
    from geo.access import CITY
    from server.kernel.auth.keys import load_keys
    from server.kernel.auth.tokens import TokenService
    from server.kernel.settings import AuthSettings

    auth = AuthSettings()
    tokens = TokenService(load_keys(auth, ROOT / ".data" / "bench"), auth)
    return "Bearer " + tokens.issue_access(9001, roles, jurisdiction=CITY, ttl_s=3600)


def light(port: int, seconds: float, fid: int, out: Any) -> None:
    """The light client: one feature every 20 ms; its latencies (ms) go to ``out``."""
    got: list[float] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t = time.perf_counter()
            r = client.get(f"/ogc/collections/facilities/items/{fid}")
            got.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                got[-1] = float("inf")
            time.sleep(0.02)
    out.put(got)


async def heavy(port: int, seconds: float, body: dict[str, Any], auth: str | None) -> list[int]:
    """CLIENTS clients sending ``body`` back to back; the statuses/codes they got."""
    headers = {"Authorization": auth} if auth else {}
    answers: list[int] = []

    async def one(client: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r = await client.post("/graphql", json=body, headers=headers)
            answers.append(r.status_code)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        await asyncio.gather(*(one(client) for _ in range(CLIENTS)))
    return answers


def run_light(port: int, seconds: float, fid: int) -> tuple[multiprocessing.Process, Any]:
    queue: Any = multiprocessing.Queue()
    proc = multiprocessing.Process(target=light, args=(port, seconds, fid, queue))
    proc.start()
    return proc, queue


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/onemap_bench")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--classes", default="anonymous,citizen,staff")
    args = ap.parse_args()
    import psycopg

    with psycopg.connect(args.database_url) as conn:
        row = conn.execute("SELECT min(id) FROM facilities WHERE category <> 'hazard_source'")
        fid = int((row.fetchone() or [1])[0])
    settings = GraphQLSettings()
    classes = {
        "anonymous": ([], settings.cost_budget_anonymous),
        "citizen": (["citizen"], settings.cost_budget_citizen),
        "staff": (["dispatcher"], settings.cost_budget_staff),
    }
    server, port = start(ROOT, args.database_url)
    rows = []
    try:
        quiet_proc, quiet_q = run_light(port, min(args.seconds, 10), fid)
        quiet = quiet_q.get()
        quiet_proc.join()
        rows.append(("none (quiet)", "-", "-", "-", quiet))
        for name in args.classes.split(","):
            roles, budget = classes[name]
            auth = bearer(args.database_url, roles)
            for shape, (doc, n, price) in costliest(budget).items():
                proc, queue = run_light(port, args.seconds, fid)
                answers = asyncio.run(
                    heavy(port, args.seconds, {"query": doc, "variables": {"n": n}}, auth)
                )
                lat = queue.get()
                proc.join()
                statuses = {s: answers.count(s) for s in sorted(set(answers))}
                rows.append((name, f"{shape} (n={n}, price {price:,})", str(len(answers)),
                             str(statuses), lat))  # fmt: skip
    finally:
        server.terminate()
    print(f"light request: GET /ogc/collections/facilities/items/{fid}, every 20 ms, own process;"
          f" storm: {CLIENTS} clients back to back, {args.seconds:.0f} s per row\n")  # fmt: skip
    print("| storm class | heavy operation | heavy answers | statuses | light p50 ms | "
          "light p99 ms | light max ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for cls, shape, count, statuses, lat in rows:
        print(f"| {cls} | {shape} | {count} | {statuses} | {statistics.median(lat):.1f} | "
              f"{p(lat, 0.99):.1f} | {max(lat):.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
