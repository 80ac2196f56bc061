"""Cross-worker events: one LISTEN connection per process fans PostgreSQL NOTIFY out to
in-process subscribers (GraphQL subscriptions, the tile cache's invalidation). Every worker
sees every event because every worker listens; a slow subscriber loses its oldest events rather
than stalling the others. Events sent while the listener is reconnecting are lost: ``live`` says
whether it listens now, and ``generation`` counts its connections, so a subscriber that must
not miss one (a cache) can tell and start over."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg

log = logging.getLogger("onemap.events")

CHANNELS = ("onemap_case_events", "onemap_camera_status", "onemap_sessions", "onemap_tile_changes",
            "onemap_staff_notifications", "onemap_sensor_alarms",
            "onemap_sta_observations", "onemap_incident_events",
            "onemap_catalogue")  # fmt: skip
QUEUE_SIZE = 1_000


class EventBroker:
    def __init__(self, url: str) -> None:
        self._url = url
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {
            c: set() for c in CHANNELS
        }
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        #: Listening now; how many times the listener has (re)connected.
        self.live = False
        self.generation = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="onemap-event-broker")
        # Subscribers must not miss events sent right after start-up: wait for LISTEN.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as c:
                    for channel in CHANNELS:
                        await c.execute(f"LISTEN {channel}")
                    self.generation += 1
                    self.live = True
                    self._ready.set()
                    backoff = 0.5
                    async for note in c.notifies():
                        self._publish(note.channel, note.payload)
            except asyncio.CancelledError:
                self.live = False
                raise
            except psycopg.Error as exc:
                self.live = False
                log.warning("event listener lost its connection, retrying: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)

    def _publish(self, channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            log.warning("ignoring a malformed %s payload", channel)
            return
        for queue in self._subscribers.get(channel, ()):
            if queue.full():
                queue.get_nowait()  # drop the oldest for this slow subscriber
            queue.put_nowait(event)

    async def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[channel].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers[channel].discard(queue)
