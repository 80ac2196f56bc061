"""The supervision sweep in the background of every server process (geo.services.sweep): every
ONEMAP_SUPERVISION_SWEEP_SECONDS, started in the app's lifespan. Each process tries; the
advisory lock lets one sweep at a time and the others skip, so the city is swept about once an
interval however many processes serve it. The first sweep waits a random part of the interval,
so processes started together do not all try at once."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.services.sensor_offline import sweep_offline
from geo.services.sweep import SweepReport, sweep
from server.kernel.settings import Settings

log = logging.getLogger("onemap.sweep")


async def sweep_once(conn: AsyncConnection[Any], settings: Settings) -> SweepReport:
    """The supervision sweep, then the sensors' offline detection (each under its own lock)."""
    now = datetime.now(UTC)
    report = await sweep(conn, now, settings.clock.rules(), settings.supervision.rules())
    offline = await sweep_offline(conn, now, default_period_s=settings.sta.default_period_seconds,
                                  missed_periods=settings.sta.offline_missed_periods)  # fmt: skip
    if offline:
        log.info("%d datastreams went offline", offline)
    return report


async def run_sweeps(pool: AsyncConnectionPool[AsyncConnection[Any]], settings: Settings) -> None:
    """Sweep every interval until cancelled; a failed sweep is logged and the next one runs."""
    interval = settings.supervision.sweep_seconds
    await asyncio.sleep(random.uniform(0, interval))  # noqa: S311 - jitter
    while True:
        try:
            async with pool.connection() as conn:
                await sweep_once(conn, settings)
        except (psycopg.Error, OSError) as exc:
            log.warning("supervision sweep failed, retrying in %.0f s: %s", interval, exc)
        await asyncio.sleep(interval)


def start(
    pool: AsyncConnectionPool[AsyncConnection[Any]], settings: Settings
) -> asyncio.Task[None] | None:
    """The background task, or None when ONEMAP_SUPERVISION_SWEEP_SECONDS is 0."""
    if settings.supervision.sweep_seconds <= 0:
        return None
    return asyncio.create_task(run_sweeps(pool, settings), name="onemap-supervision-sweep")
