"""Keeps this process's layer catalogue registry (geo.catalogue) current: loaded at start-up,
reloaded on every ``NOTIFY onemap_catalogue`` (a registration, change or removal committed by
any process — the CLI, another worker's GraphQL mutation) and, in case a notice was lost while
the listener reconnected, every :data:`POLL_S` seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from geo.catalogue import CHANNEL
from geo.services.catalogue import reload
from server.kernel.events import EventBroker

log = logging.getLogger("onemap.catalogue")
POLL_S = 30.0


async def load(pool: AsyncConnectionPool[Any]) -> None:
    """Load the registry once (start-up); a database not reachable leaves it as it was."""
    try:
        async with pool.connection() as conn:
            registry = await reload(conn)
        log.info("layer catalogue loaded", extra={"layers": len(registry.layers)})
    except psycopg.Error as exc:
        log.warning("layer catalogue not loaded: %s", exc)


async def follow(pool: AsyncConnectionPool[Any], broker: EventBroker) -> None:
    """Reload on each notice (and every POLL_S seconds) until cancelled."""
    notices = broker.subscribe(CHANNEL)
    waiting: asyncio.Future[Any] = asyncio.ensure_future(anext(notices))
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiting), POLL_S)
            if waiting.done():
                waiting = asyncio.ensure_future(anext(notices))
            await load(pool)
    finally:
        waiting.cancel()
        close = getattr(notices, "aclose", None)  # an async generator: unsubscribe now
        if close is not None:
            with contextlib.suppress(RuntimeError):  # still running in the cancelled waiter
                await close()


def start(pool: AsyncConnectionPool[Any], broker: EventBroker) -> asyncio.Task[None]:
    return asyncio.create_task(follow(pool, broker), name="onemap-catalogue")


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
