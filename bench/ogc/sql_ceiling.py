"""The "SQL ceiling" of the tile rows: the very statements OneMap runs for a tile
(``geo.queries.tiles.mvt`` with the caller's view), run straight on PostgreSQL with psycopg by
as many connections as wrk opens, with the OGC pool's session settings. No HTTP, no Python web
stack: what PostgreSQL alone delivers, so a tile row reads as a share of it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import psycopg

from geo.layers import LayerView
from geo.queries import fetch
from geo.queries.tiles import Tile, mvt
from server.kernel.db import READ_SESSION_OPTIONS


async def _worker(
    url: str, jobs: list[tuple[LayerView, Tile]], cap: int, until: float, offset: int,
    latencies: list[float],
) -> None:  # fmt: skip
    options = f"-c timezone=UTC {READ_SESSION_OPTIONS}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, options=options) as c:
        i = offset
        while time.monotonic() < until:
            view, tile = jobs[i % len(jobs)]
            q = mvt(view, tile, cap)
            t0 = time.monotonic()
            await fetch(c, q)  # as OneMap fetches it: the same statement and result format
            latencies.append(time.monotonic() - t0)
            i += 1


async def _run(
    url: str, jobs: list[tuple[LayerView, Tile]], cap: int, seconds: float, connections: int
) -> dict[str, float]:
    latencies: list[float] = []
    start = time.monotonic()
    until = start + seconds
    await asyncio.gather(
        *(_worker(url, jobs, cap, until, n * 7, latencies) for n in range(connections))
    )
    elapsed = time.monotonic() - start
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {"rps": len(latencies) / elapsed, "p50": statistics.median(ordered) * 1000
            if ordered else 0.0, "p99": pct(0.99), "errors": 0, "requests": len(latencies),
            "cpu_ms": float("nan")}  # fmt: skip


def ceiling(
    url: str, jobs: list[tuple[LayerView, Tile]], cap: int, seconds: int, warmup: int,
    connections: int,
) -> dict[str, Any]:  # fmt: skip
    asyncio.run(_run(url, jobs, cap, warmup, connections))
    return asyncio.run(_run(url, jobs, cap, seconds, connections))
