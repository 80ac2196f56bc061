"""The sensor lead: exactly one server process at a time runs the MQTT ingest (one broker
session, one republisher), keeps the broker's password and ACL files in step with the
registry, and sweeps the Observations' partitions daily (retention). Every process tries for
a PostgreSQL session advisory lock on a connection of its own; the one holding it leads until
that connection ends (a crash frees the lock), and the others try again every half minute."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.services import sensor_mqtt
from server.kernel.events import EventBroker
from server.kernel.settings import Settings
from server.sta.mqtt_bridge import MqttBridge
from server.sta.mqtt_config import ServerHash, reload_broker, write_files

log = logging.getLogger("onemap.sensors")
type Pool = AsyncConnectionPool[AsyncConnection[Any]]
RETRY_S = 30.0


async def sweep_retention(pool: Pool, settings: Settings) -> tuple[int, int]:
    """Partitions made ahead, months past ``ONEMAP_STA_RETENTION_MONTHS`` dropped."""
    async with pool.connection() as conn:
        made, dropped = await sensor_mqtt.retention(
            conn, settings.sta.retention_months, settings.sta.partitions_ahead_months
        )
    log.info("observation retention swept", extra={"made": made, "dropped": dropped})
    return made, dropped


async def _retention_loop(pool: Pool, settings: Settings) -> None:
    while True:
        try:
            await sweep_retention(pool, settings)
        except psycopg.Error as exc:
            log.warning("observation retention sweep failed: %s", exc)
        await asyncio.sleep(settings.sta.retention_sweep_hours * 3600)


async def _acl_loop(pool: Pool, settings: Settings) -> None:
    """Rewrite the broker's files when devices, Datastreams or accounts change; SIGHUP the
    broker the server manages (``ONEMAP_MQTT_BROKER_PID_FILE``) so it rereads them."""
    mqtt, server_hash = settings.mqtt, ServerHash(settings.mqtt)
    assert mqtt.config_dir is not None
    while True:
        try:
            async with pool.connection() as conn:
                if await write_files(conn, mqtt, mqtt.config_dir, server_hash):
                    reloaded = reload_broker(mqtt.broker_pid_file)
                    log.info("MQTT password and ACL files written", extra={"reloaded": reloaded})
        except (psycopg.Error, OSError) as exc:
            log.warning("MQTT ACL files not refreshed: %s", exc)
        await asyncio.sleep(mqtt.refresh_s)


async def _lead(
    conn: AsyncConnection[Any], pool: Pool, settings: Settings, events: EventBroker
) -> None:
    async with asyncio.TaskGroup() as tasks:
        if settings.sta.retention_sweep_hours > 0:
            tasks.create_task(_retention_loop(pool, settings))
        if settings.mqtt.config_dir is not None:
            tasks.create_task(_acl_loop(pool, settings))
        if settings.mqtt.enabled:
            bridge = MqttBridge(settings.mqtt, pool, events, settings.server.base_url)
            tasks.create_task(bridge.run())
        while True:  # the lock lives as long as this connection: watch it
            await asyncio.sleep(5)
            await sensor_mqtt.alive(conn)


async def run(pool: Pool, settings: Settings, events: EventBroker) -> None:
    while True:
        try:
            url = settings.database.app_libpq_url
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                if await sensor_mqtt.try_lead(conn):
                    log.info("this process leads the sensors (MQTT ingest, retention)")
                    await _lead(conn, pool, settings, events)
        except* Exception as group:  # the lock's connection, the broker, a bug: lead again later
            log.warning("sensor lead lost: %r", group.exceptions[0])
        await asyncio.sleep(RETRY_S)


def start(pool: Pool, settings: Settings, events: EventBroker) -> asyncio.Task[None] | None:
    """The lead's task, or None when there is nothing to lead."""
    if not (
        settings.mqtt.enabled or settings.mqtt.config_dir or settings.sta.retention_sweep_hours
    ):
        return None
    return asyncio.create_task(run(pool, settings, events), name="onemap-sensor-lead")


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
