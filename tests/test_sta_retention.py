"""Observations' retention (ONEMAP_STA_RETENTION_MONTHS): `onemap sensors retention` and the
daily sweep drop whole months past it; one process at a time leads the sweep (and the MQTT
ingest) through a session advisory lock (docs/sensors.md)."""

from __future__ import annotations

import asyncio

import psycopg
from click.testing import CliRunner

from geo.services.sensor_mqtt import try_lead
from server.cli import main
from server.kernel.settings import Settings

OLD = "sta_observations_p200001"


def _old_partition(database_url: str, owner: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {owner}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {OLD} PARTITION OF sta_observations "
                     "FOR VALUES FROM ('2000-01-01') TO ('2000-02-01')")  # fmt: skip


def _exists(database_url: str, name: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        return bool(row and row[0])


def test_retention_drops_whole_months_past_the_setting(
    database_url: str, settings: Settings
) -> None:
    _old_partition(database_url, settings.database.owner_role)
    env = {"ONEMAP_DATABASE_URL": database_url, "ONEMAP_DATA_DIR": str(settings.data.dir)}
    kept = CliRunner().invoke(main, ["sensors", "retention"], env=env)  # 0: keep every month
    assert kept.exit_code == 0, kept.output
    assert "dropped: 0" in kept.output and _exists(database_url, OLD)
    swept = CliRunner().invoke(main, ["sensors", "retention"],
                               env={**env, "ONEMAP_STA_RETENTION_MONTHS": "24"})  # fmt: skip
    assert swept.exit_code == 0, swept.output
    assert "dropped: 1" in swept.output
    assert not _exists(database_url, OLD)
    assert _exists(database_url, "sta_observations_default")


def test_one_process_leads_at_a_time(settings: Settings) -> None:
    url = settings.database.for_server().app_libpq_url

    async def run() -> list[bool]:
        first = await psycopg.AsyncConnection.connect(url, autocommit=True)
        second = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            taken = [await try_lead(first), await try_lead(second)]
            await first.close()  # the leader's process ends: its lock with it
            # The server lets go when that backend has exited, a moment after the close.
            for _ in range(50):
                if await try_lead(second):
                    return [*taken, True]
                await asyncio.sleep(0.1)
            return [*taken, False]
        finally:
            await second.close()

    assert asyncio.run(run()) == [True, False, True]


def test_the_leading_process_sweeps_by_itself(database_url: str, settings: Settings) -> None:
    """The server's own daily sweep: run by the lead task as it takes the lead."""
    from server.kernel.db import make_pool
    from server.kernel.events import EventBroker
    from server.kernel.settings import SensorSettings
    from server.sta import lead

    _old_partition(database_url, settings.database.owner_role)
    swept = settings.model_copy(update={
        "database": settings.database.for_server(),
        "sta": SensorSettings(retention_months=24, retention_sweep_hours=24)})  # fmt: skip

    async def run() -> None:
        pool = make_pool(swept.database)
        await pool.open(wait=True)
        task = lead.start(pool, swept, EventBroker(swept.database.app_libpq_url))
        assert task is not None
        try:
            for _ in range(100):
                if not _exists(database_url, OLD):
                    return
                await asyncio.sleep(0.1)
        finally:
            await lead.stop(task)
            await pool.close()

    asyncio.run(run())
    assert not _exists(database_url, OLD)
