"""A private Mosquitto per test module (never the system's): generated password and ACL files
from the test database's registry, two listeners on free ports, persistence in a temp dir;
the server's MQTT ingest run in a thread of its own (so it can be killed and started again);
and paho-mqtt clients acting as devices and subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import queue
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from geo.access import Capability, system
from geo.services.sensor_mqtt import issue_device, issue_reader
from server.kernel.db import make_pool
from server.kernel.events import EventBroker
from server.kernel.settings import MqttSettings, Settings
from server.sta.mqtt_bridge import MqttBridge
from server.sta.mqtt_config import ServerHash, mosquitto_conf, write_files

MOSQUITTO = "/usr/sbin/mosquitto"
ADMIN = system(Capability.MANAGE_SENSORS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"mosquitto did not listen on {port}")


def run_async(database_url: str, work: Callable[[Any], Any]) -> Any:
    """``work(conn)`` on an async connection, committed (the services are async)."""

    async def go() -> Any:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            out = await work(conn)
            await conn.commit()
            return out

    return asyncio.run(go())


class Broker:
    """A Mosquitto of the test's own, configured as `onemap mqtt config --conf` writes it."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.dir = directory
        self.database_url = database_url
        self.settings = MqttSettings(enabled=True, port=free_port(), device_port=free_port(),
                                     password=secrets.token_urlsafe(16), batch_size=2000,
                                     flush_ms=10, config_dir=directory)  # fmt: skip
        self._hash = ServerHash(self.settings)
        self.process: subprocess.Popen[bytes] | None = None
        conf = mosquitto_conf(self.settings, directory, persistence=directory / "data")
        # Run as whoever runs the tests (as root Mosquitto would switch to its own user,
        # which cannot read the 0600 files made here).
        (directory / "mosquitto.conf").write_text(f"user {getpass.getuser()}\n{conf}")
        (directory / "data").mkdir()

    def refresh(self) -> None:
        """Files from the registry, and Mosquitto told to reread them (SIGHUP)."""
        run_async(self.database_url,
                  lambda c: write_files(c, self.settings, self.dir, self._hash))  # fmt: skip
        if self.process is not None:
            self.process.send_signal(signal.SIGHUP)
            time.sleep(0.2)

    def start(self) -> None:
        self.refresh()
        with (self.dir / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")],
                                            stdout=log, stderr=log)  # fmt: skip
        # what a managed broker's pid_file holds (Mosquitto writes it only with -d)
        (self.dir / "mosquitto.pid").write_text(f"{self.process.pid}\n")
        _wait_port(self.settings.port)
        _wait_port(self.settings.device_port)

    def stop(self) -> None:
        """A clean stop (SIGTERM): Mosquitto saves its persistence file."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def device(self, thing_id: int) -> tuple[str, str]:
        """A Thing's new credentials, the broker reloaded."""
        creds = run_async(self.database_url, lambda c: issue_device(c, ADMIN, thing_id))
        self.refresh()
        return creds  # type: ignore[no-any-return]

    def reader(self, username: str, kind: str = "internal") -> tuple[str, str]:
        password = run_async(self.database_url, lambda c: issue_reader(c, ADMIN, username, kind))
        self.refresh()
        return username, password


@contextlib.contextmanager
def private_broker(tmp: Path, database_url: str) -> Iterator[Broker]:
    broker = Broker(tmp, database_url)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class Ingest:
    """The server's MQTT ingest (MqttBridge) on an event loop in a thread of its own, with its
    own pool and NOTIFY listener, as a server process has."""

    def __init__(
        self, settings: Settings, mqtt_settings: MqttSettings, bridge: type[MqttBridge] = MqttBridge
    ) -> None:
        self._bridge_class = bridge
        self._settings = settings.model_copy(
            update={"database": settings.database.for_server(), "mqtt": mqtt_settings}
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[Any] | None = None
        self._thread: threading.Thread | None = None
        self.bridge: MqttBridge | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def main() -> None:
            s = self._settings
            pool = make_pool(s.database)
            await pool.open(wait=True)
            events = EventBroker(s.database.app_libpq_url)
            await events.start()
            self.bridge = self._bridge_class(s.mqtt, pool, events, "http://testserver")
            task = asyncio.create_task(self.bridge.run())
            await self.bridge.connected.wait()
            await asyncio.sleep(0.3)  # subscribed
            ready.set()
            try:
                await task
            finally:
                await events.stop()
                await pool.close()

        loop = self._loop

        def thread() -> None:
            asyncio.set_event_loop(loop)
            self._task = loop.create_task(main())
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                self.error = exc
            loop.close()

        self._thread = threading.Thread(target=thread, daemon=True)
        self._thread.start()
        assert ready.wait(15), "the MQTT ingest did not connect"

    def kill(self) -> None:
        """Cancel the task abruptly: whatever it had not acknowledged, the broker redelivers."""
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(15)
        self._loop = self._task = self._thread = None


@dataclass
class Client:
    """A paho-mqtt client: a device or a subscriber."""

    paho: mqtt.Client
    received: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)

    def publish(self, topic: str, payload: Any, qos: int = 1) -> mqtt.MQTTMessageInfo:
        data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return self.paho.publish(topic, data, qos=qos)

    def take(self, n: int, timeout: float = 10) -> list[tuple[str, Any]]:
        out = []
        end = time.monotonic() + timeout
        while len(out) < n:
            out.append(self.received.get(timeout=max(0.01, end - time.monotonic())))
        return out

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def connect(
    port: int,
    username: str | None,
    password: str | None,
    *,
    client_id: str = "",
    clean: bool = True,
    subscribe: str | None = None,
    inflight: int = 20,
) -> Client:
    """A connected client; AssertionError naming the reason when the broker refuses it."""
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                       clean_session=clean)  # fmt: skip
    if username is not None:
        paho.username_pw_set(username, password)
    paho.max_inflight_messages_set(inflight)
    paho.reconnect_delay_set(1, 2)
    client = Client(paho)
    connected: queue.Queue[Any] = queue.Queue()
    subscribed = threading.Event()

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        connected.put(code)
        if subscribe is not None and not code.is_failure:
            c.subscribe(subscribe, qos=1)

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        client.received.put((msg.topic, json.loads(msg.payload)))

    paho.on_connect, paho.on_message = on_connect, on_message
    paho.on_subscribe = lambda *_: subscribed.set()
    paho.connect("127.0.0.1", port)
    paho.loop_start()
    code = connected.get(timeout=10)
    if code.is_failure:
        paho.loop_stop()
        raise ConnectionRefusedError(str(code))
    if subscribe is not None:
        assert subscribed.wait(10)
    return client


def stored(database_url: str, datastream_id: int) -> list[tuple[int, Any, Any]]:
    """(id, phenomenon time, result) of a Datastream's stored Observations, oldest first."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT id, phenomenon_time, result FROM sta_observations "
            "WHERE datastream_id = %s ORDER BY phenomenon_time",
            (datastream_id,),
        ).fetchall()


def wait_until(check: Callable[[], bool], timeout: float = 15, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
