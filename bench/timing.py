"""Timing one statement and reading percentiles: shared by the database-side benchmarks."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from geo.queries import Query, fetch_sync


def timed[T](conn: psycopg.Connection[Any], query: Query[T]) -> tuple[T, float]:
    """The statement's answer and the milliseconds it took (the database plus the driver)."""
    t0 = time.perf_counter()
    found = fetch_sync(conn, query)
    return found, (time.perf_counter() - t0) * 1000


def pct(values: list[float], p: float) -> float:
    """The ``p`` quantile (0–1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]
