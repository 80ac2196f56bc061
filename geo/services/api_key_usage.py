"""What API keys read, counted without slowing the reads: requests, features (rows) and
bytes per key, day (UTC) and dataset, added up in memory and written in one statement every
``flush_s`` seconds (and when the process stops) — the only writer of ``api_key_usage``.

The write is an additive upsert, so every worker's and every process's counts add up in the
same rows. A request never waits for it; a flush that fails keeps its counts for the next one
(a process killed outright loses at most ``flush_s`` seconds of counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

log = logging.getLogger("onemap.api_keys")

_UPSERT = """
INSERT INTO api_key_usage AS u (key_id, day, dataset, requests, rows, bytes, last_at)
SELECT * FROM unnest(%(keys)s::int[], %(days)s::date[], %(datasets)s::text[],
                     %(requests)s::bigint[], %(rows)s::bigint[], %(bytes)s::bigint[],
                     %(last)s::timestamptz[])
ON CONFLICT (key_id, day, dataset) DO UPDATE SET requests = u.requests + excluded.requests,
    rows = u.rows + excluded.rows, bytes = u.bytes + excluded.bytes,
    last_at = greatest(u.last_at, excluded.last_at)
"""


@dataclass(slots=True)
class _Count:
    requests: int = 0
    rows: int = 0
    bytes: int = 0
    last_at: datetime | None = None


Key = tuple[int, date, str]
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection[Any]]]


class UsageRecorder:
    """Counts in memory, written in batches by a background task (:meth:`start`)."""

    def __init__(self, connect: Connect, flush_s: float = 5.0) -> None:
        self._connect = connect
        self.flush_s = flush_s
        self._counts: dict[Key, _Count] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, key_id: int, dataset: str, rows: int, size: int) -> None:
        """One request served: counted now, written with the next flush."""
        now = datetime.now(UTC)
        found = self._counts.setdefault((key_id, now.date(), dataset), _Count())
        found.requests += 1
        found.rows += max(0, rows)
        found.bytes += max(0, size)
        found.last_at = now

    async def flush(self) -> int:
        """Write what was counted since the last flush (one statement); the rows written."""
        if not self._counts:
            return 0
        taken, self._counts = self._counts, {}
        ks = list(taken)
        params = {
            "keys": [k[0] for k in ks], "days": [k[1] for k in ks], "datasets": [k[2] for k in ks],
            "requests": [taken[k].requests for k in ks], "rows": [taken[k].rows for k in ks],
            "bytes": [taken[k].bytes for k in ks], "last": [taken[k].last_at for k in ks],
        }  # fmt: skip
        try:
            async with self._connect() as conn:
                await conn.execute(_UPSERT, params)
                if not conn.autocommit:
                    await conn.commit()
        except (psycopg.Error, OSError) as exc:
            for k, c in taken.items():  # keep them for the next flush
                mine = self._counts.setdefault(k, _Count())
                mine.requests += c.requests
                mine.rows += c.rows
                mine.bytes += c.bytes
                mine.last_at = max(t for t in (mine.last_at, c.last_at) if t is not None)
            log.warning("API key usage not written (kept for the next flush): %s", exc)
            return 0
        return len(ks)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="onemap-api-key-usage")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    async def close(self) -> None:
        """Stop the task and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
