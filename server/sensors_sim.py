"""``onemap simulate sensors``: the demo city's devices publish readings over MQTT, as devices
would, to the broker's device listener (docs/sensors.md, "Simulating the city"); the models
and scenarios are seed/simulate.py, the devices are read by geo.queries.sensor_sim.

It logs in as the server's own broker account (``ONEMAP_MQTT_USERNAME``, its password from
``ONEMAP_MQTT_PASSWORD`` or ``ONEMAP_MQTT_PASSWORD_FILE``): the devices' own passwords are
kept only hashed, and the server's account may write every topic. Its client id is its own
(``onemap-simulator-<pid>``, a clean session), never the ingest's, whose persistent session
it would otherwise take over. paho's network loop runs in its thread; publishes are QoS 1 and
counted when the broker acknowledges them (the broker has them; the server stores them after).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from seed.simulate import Fleet
from server.kernel.settings import MqttSettings

log = logging.getLogger("onemap.simulate")
TOPIC = "v1.1/Datastreams({})/Observations"
#: How often the loop looks for readings due (seconds).
TICK_S = 0.1


@dataclass
class Counts:
    sent: int = 0
    acknowledged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self) -> None:
        with self.lock:
            self.acknowledged += 1


class Publisher:
    """One paho client on the device listener, its loop in paho's thread."""

    def __init__(self, settings: MqttSettings) -> None:
        self.counts = Counts()
        self._connected = threading.Event()
        self._refused: str | None = None
        client_id = f"onemap-simulator-{os.getpid()}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        client.username_pw_set(settings.username, settings.login_password())
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 5)

        def on_connect(_c: mqtt.Client, _u: object, _f: object, code: object, _p: object) -> None:
            if getattr(code, "is_failure", False):
                self._refused = str(code)
            self._connected.set()

        client.on_connect = on_connect
        client.on_publish = lambda *_: self.counts.ack()
        self.client = client
        self.where = f"{settings.host}:{settings.device_port}"
        self._settings = settings

    def connect(self, timeout: float = 10) -> None:
        s = self._settings
        try:
            self.client.connect(s.host, s.device_port, keepalive=30)
        except OSError as exc:
            raise ConnectionError(f"cannot reach the MQTT broker's device listener at "
                                  f"{self.where}: {exc}") from None  # fmt: skip
        self.client.loop_start()
        if not self._connected.wait(timeout) or self._refused:
            self.client.loop_stop()
            raise ConnectionError(
                f"the MQTT broker at {self.where} refused {s.username!r} "
                f"({self._refused or 'no answer'}): the simulator logs in as the server's account "
                "— set ONEMAP_MQTT_USERNAME and ONEMAP_MQTT_PASSWORD (or _PASSWORD_FILE) as the "
                "server has them"
            )

    def publish(self, datastreams: list[int], results: list[float], at: str) -> None:
        for ds, value in zip(datastreams, results, strict=True):
            payload = f'{{"phenomenonTime":"{at}","result":{value!r}}}'
            self.client.publish(TOPIC.format(ds), payload, qos=1)
        self.counts.sent += len(datastreams)

    def close(self, stall_s: float = 5) -> None:
        """Wait for the broker's acknowledgements while they keep coming, then disconnect."""
        seen, since = -1, time.monotonic()
        while self.counts.acknowledged < self.counts.sent:
            if self.counts.acknowledged != seen:
                seen, since = self.counts.acknowledged, time.monotonic()
            elif time.monotonic() - since > stall_s:
                break
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()


def run(fleet: Fleet, publisher: Publisher, duration: float | None, quiet: bool) -> float:
    """Publish what is due until ``duration`` real seconds (None: until interrupted); the
    seconds it ran."""
    start = time.monotonic()
    ids = np.array([d.datastream_id for d in fleet.devices], dtype=np.int64)
    shown = 0.0
    try:
        while True:
            t = time.monotonic() - start
            if duration is not None and t >= duration:
                break
            due = np.nonzero(fleet.due <= t)[0]
            if len(due):
                now = datetime.now(UTC)
                results = fleet.readings(due, t, int(now.timestamp()))
                at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                publisher.publish(ids[due].tolist(), results.tolist(), at)
                fleet.advance(due, t)
            if not quiet and t - shown >= 1:
                shown = t
                _progress(t, duration, publisher.counts)
            time.sleep(max(0.0, min(TICK_S, float(fleet.due.min()) - t)))
    except KeyboardInterrupt:
        log.info("simulation interrupted")
    if not quiet:
        _progress(time.monotonic() - start, duration, publisher.counts)
        sys.stderr.write("\n")
    return time.monotonic() - start


def _progress(t: float, duration: float | None, counts: Counts) -> None:
    total = f"/{duration:.0f}" if duration is not None else ""
    sys.stderr.write(f"\rsimulate: {t:5.0f}{total} s, readings sent {counts.sent:,}, "
                     f"acknowledged {counts.acknowledged:,}   ")  # fmt: skip
    sys.stderr.flush()
