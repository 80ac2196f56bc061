"""Offline detection: a Datastream that has missed its expected readings goes offline.

A Datastream's period is ``properties.period`` (seconds between readings, as the device
sends them), else the setting ``ONEMAP_STA_DEFAULT_PERIOD_SECONDS``; after
``ONEMAP_STA_OFFLINE_MISSED_PERIODS`` periods without a reading (by its newest phenomenon
time) the sweep marks it offline — one statement for the city, under its own advisory lock so
exactly one process sweeps at a time (server.kernel.sweeper runs it beside the supervision
sweep). Its next reading brings it back (geo.services.sensor_alarms). Only Datastreams that
have reported at least once are watched: a device registered but never installed is not lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from geo.services.sensor_effects import set_states

#: "onemap sensors offline" (any fixed bigint no other lock uses).
LOCK_KEY = 0x6F6E_656D_6170_534F

_LOST = """
SELECT d.id, d.thing_id FROM sta_datastreams d
LEFT JOIN sensor_datastream_states s ON s.datastream_id = d.id
WHERE d.latest_phenomenon_time IS NOT NULL
  AND s.state IS DISTINCT FROM 'offline'
  AND d.latest_phenomenon_time < %(now)s - make_interval(secs => %(missed)s * CASE
      WHEN jsonb_typeof(d.properties -> 'period') = 'number'
       AND (d.properties ->> 'period')::float8 > 0
      THEN (d.properties ->> 'period')::float8 ELSE %(period)s END)
ORDER BY d.id
"""


async def sweep_offline(
    conn: AsyncConnection[Any], now: datetime, *, default_period_s: float, missed_periods: int
) -> int | None:
    """Mark the Datastreams gone quiet offline; how many (None: another process sweeps)."""
    async with conn.transaction():
        cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,))
        row = await cur.fetchone()
        if not (row and row[0]):
            return None
        cur = await conn.execute(_LOST, {"now": now, "missed": missed_periods,
                                         "period": default_period_s})  # fmt: skip
        lost = await cur.fetchall()
        if lost:
            await set_states(conn, [(ds, thing, "offline", False) for ds, thing in lost])
        return len(lost)
