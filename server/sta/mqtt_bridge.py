"""The MQTT ingest: one paho-mqtt client with a persistent session (fixed client id, clean
session off) hears every device's readings under the devices' mount point, stores them in
batches through ``geo.services.sensor_ingest`` and only then acknowledges them (QoS 1,
paho's ``manual_ack``): a reading the broker saw acknowledged is in the database. It also
republishes every new Observation — from MQTT or REST, heard through PostgreSQL NOTIFY — as
the REST API serialises it to ``v1.1/Datastreams(<id>)/Observations``.

paho runs its network loop in its own thread; messages cross into asyncio through a queue.
A PUBACK carries a packet id that means something only on the connection it came from, so
each message keeps its connection's number and is acknowledged only on that connection;
after a reconnect the broker redelivers what was not acknowledged, and the unique
(Datastream, phenomenon time) key makes a redelivered reading a no-op (docs/sensors.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import psycopg_pool
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.access import Capability, system
from geo.errors import OneMapError
from geo.services.sensor_ingest import Outcome, Reading, ingest
from geo.services.sensor_mqtt import ERRORS, TOPIC, device_accounts, observations_to_publish
from geo.services.sensor_observations import CHANNEL
from server.kernel.events import EventBroker
from server.kernel.settings import MqttSettings

log = logging.getLogger("onemap.mqtt")
INGEST = system(Capability.INGEST_OBSERVATIONS)


@dataclass(frozen=True, slots=True)
class Message:
    connection: int  # which connection it came on (its mid means something only there)
    mid: int
    qos: int
    topic: str
    payload: bytes


class MqttBridge:
    def __init__(
        self,
        settings: MqttSettings,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        events: EventBroker,
        base_url: str,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._events = events
        self._base = base_url.rstrip("/") + "/sta/v1.1"
        self._topic = re.compile(re.escape(settings.device_prefix)
                                 + r"v1\.1/Datastreams\((\d{1,18})\)/Observations")  # fmt: skip
        # paho's thread appends, the event loop takes; the loop is woken (a syscall) only when
        # the inbox turns non-empty, not once per message.
        self._inbox: deque[Message] = deque()
        self._lock = threading.Lock()
        self._waiting = False
        self._arrived = asyncio.Event()
        self._connection = 0
        self.connected = asyncio.Event()
        #: Readings stored (new), duplicates recognised, refused: for logs and tests.
        self.counts = {"stored": 0, "duplicate": 0, "refused": 0}

    def _client(self, loop: asyncio.AbstractEventLoop) -> mqtt.Client:
        s = self._settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id,
                             clean_session=False, manual_ack=True)  # fmt: skip
        client.username_pw_set(s.username, s.login_password())
        client.max_inflight_messages_set(1000)  # our republished QoS 1 messages
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 5)
        wanted = f"{s.device_prefix}v1.1/+/Observations"

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
            if code.is_failure:
                log.warning("MQTT broker refused the server: %s", code)
                return
            self._connection += 1  # before any message of this connection is delivered
            c.subscribe(wanted, qos=1)
            loop.call_soon_threadsafe(self.connected.set)
            log.info("MQTT ingest connected", extra={"broker": f"{s.host}:{s.port}"})

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
            loop.call_soon_threadsafe(self.connected.clear)
            log.warning("MQTT ingest disconnected: %s", code)

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            item = Message(self._connection, msg.mid, msg.qos, msg.topic, bytes(msg.payload))
            with self._lock:
                self._inbox.append(item)
                wake, self._waiting = self._waiting, False
            if wake:
                loop.call_soon_threadsafe(self._arrived.set)

        client.on_connect, client.on_disconnect = on_connect, on_disconnect
        client.on_message = on_message
        return client

    async def run(self) -> None:
        """Ingest and republish until cancelled; the broker keeps the session meanwhile."""
        loop = asyncio.get_running_loop()
        client = self._client(loop)
        client.connect_async(self._settings.host, self._settings.port, keepalive=30)
        client.loop_start()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._ingest(client))
                tasks.create_task(self._republish(client))
        finally:
            # No DISCONNECT: like a crash, what was not acknowledged is redelivered.
            client.loop_stop()
            with contextlib.suppress(OSError):
                sock = client.socket()
                if sock is not None:
                    sock.close()

    def _take(self, batch: list[Message], size: int) -> bool:
        """Move what arrived into ``batch``; True when it is full. When nothing is left, ask
        paho's thread to wake the loop at the next message."""
        with self._lock:
            while self._inbox and len(batch) < size:
                batch.append(self._inbox.popleft())
            if not self._inbox:
                self._arrived.clear()
                self._waiting = True
        return len(batch) >= size

    async def _batch(self) -> list[Message]:
        """The next batch: up to ``batch_size`` messages, or what came within ``flush_ms`` of
        the first."""
        loop = asyncio.get_running_loop()
        size, batch = self._settings.batch_size, list[Message]()
        while not self._take(batch, size) and not batch:
            await self._arrived.wait()
        deadline = loop.time() + self._settings.flush_ms / 1000
        while not self._take(batch, size):
            left = deadline - loop.time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        return batch

    async def _ingest(self, client: mqtt.Client) -> None:
        while True:
            batch = await self._batch()
            outcomes = await self._store(batch)
            refused = []
            for message, outcome in zip(batch, outcomes, strict=True):
                if outcome.error is not None:
                    self.counts["refused"] += 1
                    refused.append((message, outcome.error))
                    log.warning("MQTT observation refused", extra={
                        "topic": message.topic, "error": outcome.error,
                        "payload": message.payload[:200].decode("utf-8", "replace")})  # fmt: skip
                else:
                    self.counts["stored" if outcome.new else "duplicate"] += 1
            if refused:
                await self._tell_devices(client, refused)
            for message in batch:  # stored (or refused for good): acknowledged, in order
                if message.qos > 0 and message.connection == self._connection:
                    client.ack(message.mid, message.qos)

    async def _tell_devices(self, client: mqtt.Client, refused: list[tuple[Message, str]]) -> None:
        """Each refused reading's reason, on its device's error topic (``errors/thing-<id>``
        as the device sees it): the topic it sent to, the message, the start of the payload."""
        prefix = self._settings.device_prefix
        streams = {m.topic: int(found.group(1)) for m, _ in refused
                   if (found := self._topic.fullmatch(m.topic))}  # fmt: skip
        try:
            async with self._pool.connection() as conn:
                accounts = await device_accounts(conn, sorted(set(streams.values())))
        except psycopg.Error as exc:  # the log has them; the readings are refused all the same
            log.warning("refusals not told to the devices: %s", exc)
            return
        for message, error in refused:
            username = accounts.get(streams.get(message.topic, -1))
            if username is None:
                continue  # not a device's topic (the server's own account, say)
            notice = {"topic": message.topic.removeprefix(prefix), "error": error,
                      "payload": message.payload[:200].decode("utf-8", "replace"),
                      "time": datetime.now(UTC).isoformat()}  # fmt: skip
            client.publish(prefix + ERRORS.format(username), json.dumps(notice), qos=1)

    def _reading(self, message: Message) -> Reading | Outcome:
        found = self._topic.fullmatch(message.topic)
        if found is None:
            return Outcome(error="Not a Datastream's Observations topic.")
        try:
            body = json.loads(message.payload, parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError) as exc:
            return Outcome(error=f"The payload is not valid JSON: {exc}.")
        return Reading(int(found.group(1)), body)

    async def _store(self, batch: list[Message]) -> list[Outcome]:
        """Each message's outcome, once its batch is committed. A database that is away is
        tried again (nothing acknowledged meanwhile: the broker keeps the readings); a batch
        the database refuses is stored reading by reading, so one that cannot be stored is
        refused alone instead of holding up the session."""
        parsed = [self._reading(m) for m in batch]
        readings = [p for p in parsed if isinstance(p, Reading)]
        try:
            stored = iter(await self._ingest_retrying(readings) if readings else [])
        except Exception:  # the database refused it, or a bug: find the culprit, go on
            log.exception("MQTT batch not stored, storing it one by one")
            stored = iter([await self._one(r) for r in readings])
        return [p if isinstance(p, Outcome) else next(stored) for p in parsed]

    async def _ingest_retrying(self, readings: list[Reading]) -> list[Outcome]:
        backoff = 0.2
        while True:
            try:
                async with self._pool.connection() as conn:
                    return await ingest(conn, INGEST, readings)
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
                log.warning("MQTT batch not stored, retrying in %.1f s: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)

    async def _one(self, reading: Reading) -> Outcome:
        try:
            (outcome,) = await self._ingest_retrying([reading])
        except Exception as exc:
            return Outcome(error=f"The reading could not be stored: {exc!r}")
        return outcome

    async def _republish(self, client: mqtt.Client) -> None:
        async for event in self._events.subscribe(CHANNEL):
            ids = [int(i) for i in event.get("ids", [])]
            try:
                async with self._pool.connection() as conn:
                    rows = await observations_to_publish(conn, ids, self._base)
            except (psycopg.Error, OneMapError) as exc:  # ingest goes on; REST has them
                log.warning("new observations not republished: %s", exc)
                continue
            qos = self._settings.republish_qos
            for ds, entity in rows:
                client.publish(TOPIC.format(ds), entity, qos=qos)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
