"""Nothing lost, nothing twice: a device publishes QoS 1 readings while the server's ingest is
killed and started again, and while the broker restarts (persistence on); every reading the
broker acknowledged ends up stored exactly once (docs/sensors.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from geo.services.sensor_ingest import Outcome
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings
from server.sta.mqtt_bridge import Message, MqttBridge
from tests.mqtt_helpers import Broker, Client, Ingest, connect, private_broker, stored, wait_until
from tests.sta_helpers import create, datastreams_of, staff, station

TOPIC = "v1.1/Datastreams({})/Observations"


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Broker]:
    with private_broker(tmp_path_factory.mktemp("mosquitto"), database_url) as b:
        yield b


def _gauge(client: TestClient, tokens: TokenService, database_url: str, broker: Broker,
           name: str) -> tuple[int, tuple[str, str]]:  # fmt: skip
    admin = staff(tokens, database_url, "admin")
    thing = create(client, admin, "Things", station(name))
    (ds,) = datastreams_of(client, admin, thing)
    return ds, broker.device(thing)


class Publisher(threading.Thread):
    """A device sending ``n`` numbered readings at QoS 1 and counting those the broker
    acknowledged (PUBACK). paho keeps what it could not send or was in flight when the
    connection dropped and sends it again once reconnected, as a device should."""

    def __init__(self, device: Client, ds: int, n: int, pause: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.device, self.ds, self.n, self.pause = device, ds, n, pause
        self.start_at = datetime.now(UTC) - timedelta(hours=3)
        self.acked_mids: set[int] = set()  # (n < 65,535: a packet id is never reused)
        self._mids: dict[int, int] = {}
        device.paho.on_publish = lambda _c, _u, mid, _rc, _p: self.acked_mids.add(mid)

    @property
    def acked(self) -> set[int]:
        return {self._mids.get(m, -1) for m in set(self.acked_mids)}

    def run(self) -> None:
        for i in range(self.n):
            at = (self.start_at + timedelta(milliseconds=i)).isoformat()
            info = self.device.publish(TOPIC.format(self.ds), {"result": i, "phenomenonTime": at})
            self._mids[info.mid] = i
            if self.pause:
                time.sleep(self.pause)

    def all_acked(self, timeout: float = 60) -> None:
        self.join(timeout)
        wait_until(lambda: len(self.acked) >= self.n, timeout=timeout, what="every PUBACK")
        assert self.acked == set(range(self.n))


def _exactly(database_url: str, ds: int, n: int) -> None:
    wait_until(lambda: len(stored(database_url, ds)) >= n, timeout=60, what=f"{n} readings")
    time.sleep(0.5)  # nothing more arrives (a duplicate would be a row too many)
    rows = stored(database_url, ds)
    assert len(rows) == n
    assert sorted(r[2] for r in rows) == list(range(n))


def _device(broker: Broker, user: str, password: str) -> Client:
    return connect(broker.settings.device_port, user, password, client_id=f"dev-{user}",
                   clean=False, inflight=100)  # fmt: skip


def test_killing_the_ingest_loses_and_repeats_nothing(
    client: TestClient, tokens: TokenService, database_url: str, broker: Broker, settings: Settings
) -> None:
    ds, (user, password) = _gauge(client, tokens, database_url, broker, "restart gauge 1")
    n = 3000
    ingest = Ingest(settings, broker.settings)
    ingest.start()
    device = _device(broker, user, password)
    publisher = Publisher(device, ds, n, pause=0.0005)
    publisher.start()
    try:
        for share in (3, 2):  # killed twice mid-stream, each time started again
            wait_until(lambda s=share: len(stored(database_url, ds)) >= n // s, timeout=60,
                       what="readings flowing")  # fmt: skip
            ingest.kill()
            time.sleep(0.3)
            ingest.start()
        publisher.all_acked()
        _exactly(database_url, ds, n)
    finally:
        device.close()
        ingest.kill()


def test_a_broker_restart_loses_and_repeats_nothing(
    client: TestClient, tokens: TokenService, database_url: str, broker: Broker, settings: Settings
) -> None:
    ds, (user, password) = _gauge(client, tokens, database_url, broker, "restart gauge 2")
    # 1. Readings queued for the absent server survive the broker's restart.
    ingest = Ingest(settings, broker.settings)
    ingest.start()
    ingest.kill()  # the session exists, the server is away
    device = _device(broker, user, password)
    first = Publisher(device, ds, 500)
    first.start()
    first.all_acked()
    device.close()
    broker.stop()
    broker.start()
    ingest.start()
    try:
        _exactly(database_url, ds, 500)
        # 2. A restart while readings flow: the device and the server reconnect by themselves.
        ds2, (user2, password2) = _gauge(client, tokens, database_url, broker, "restart gauge 3")
        device = _device(broker, user2, password2)
        publisher = Publisher(device, ds2, 2000, pause=0.001)
        publisher.start()
        wait_until(lambda: len(stored(database_url, ds2)) >= 500, timeout=60, what="flowing")
        broker.stop()
        time.sleep(0.5)
        broker.start()
        publisher.all_acked()
        _exactly(database_url, ds2, 2000)
        device.close()
    finally:
        ingest.kill()


class CrashAfterCommit(MqttBridge):
    """Dies between its first batch's commit and the PUBACKs: the worst moment."""

    async def _store(self, batch: list[Message]) -> list[Outcome]:
        await super()._store(batch)
        raise RuntimeError("crashed between the commit and the PUBACK")


def test_a_reading_stored_but_not_acknowledged_is_stored_once(
    client: TestClient, tokens: TokenService, database_url: str, broker: Broker, settings: Settings
) -> None:
    ds, (user, password) = _gauge(client, tokens, database_url, broker, "restart gauge 4")
    device = _device(broker, user, password)
    publisher = Publisher(device, ds, 200)
    crashing = Ingest(settings, broker.settings, bridge=CrashAfterCommit)
    crashing.start()
    publisher.start()
    publisher.all_acked()
    wait_until(lambda: len(stored(database_url, ds)) > 0, what="a first batch")
    crashing.kill()
    committed = len(stored(database_url, ds))
    ingest = Ingest(settings, broker.settings)
    ingest.start()  # the broker redelivers the batch that was stored but not acknowledged
    try:
        _exactly(database_url, ds, 200)
        assert ingest.bridge is not None
        assert ingest.bridge.counts["duplicate"] >= committed > 0
    finally:
        ingest.kill()
        device.close()
