"""MQTT ingest through a real (private) Mosquitto, driven with paho-mqtt as a device and a
subscriber would: readings stored, readable through REST, republished as entities; REST's
reach subscribers too; anonymous clients and foreign topics refused; bad payloads store
nothing and do not hold up good ones (docs/sensors.md)."""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings
from tests.mqtt_helpers import Broker, Ingest, connect, private_broker, stored, wait_until
from tests.sta_helpers import STA, create, datastreams_of, staff, station

TOPIC = "v1.1/Datastreams({})/Observations"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Broker]:
    with private_broker(tmp_path_factory.mktemp("mosquitto"), database_url) as b:
        yield b


@pytest.fixture(scope="module")
def ingest(broker: Broker, settings: Settings) -> Iterator[Ingest]:
    running = Ingest(settings, broker.settings)
    running.start()
    yield running
    running.kill()


@pytest.fixture(scope="module")
def admin(client: TestClient, tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


def _device(client: TestClient, admin: dict[str, str], broker: Broker, name: str,
            streams: int = 1) -> tuple[list[int], tuple[str, str]]:  # fmt: skip
    thing = create(client, admin, "Things", station(name, streams=streams))
    return datastreams_of(client, admin, thing), broker.device(thing)


def _at(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def test_a_device_reading_is_stored_readable_and_published(
    client: TestClient, admin: dict[str, str], broker: Broker, ingest: Ingest, database_url: str
) -> None:
    (ds,), (user, password) = _device(client, admin, broker, "mqtt gauge 1")
    watcher = connect(broker.settings.port, *broker.reader("watcher-1"), subscribe=TOPIC.format(ds))
    device = connect(broker.settings.device_port, user, password)
    try:
        times = [_at(30 - i) for i in range(3)]
        for i, t in enumerate(times):
            device.publish(
                TOPIC.format(ds), {"result": 1.5 + i, "phenomenonTime": t}
            ).wait_for_publish(5)
        got = watcher.take(3)
        assert [topic for topic, _ in got] == [
            TOPIC.format(ds)
        ] * 3  # the entity, not the raw payload
        assert sorted(e["result"] for _, e in got) == [1.5, 2.5, 3.5]
        rest = client.get(f"{STA}/Datastreams({ds})/Observations?$orderby=phenomenonTime",
                          headers=admin).json()["value"]  # fmt: skip
        assert [o["result"] for o in rest] == [1.5, 2.5, 3.5]
        by_id = {e["@iot.id"]: e for _, e in got}
        for entity in rest:  # what subscribers get is what REST serves, exactly
            assert by_id[entity["@iot.id"]] == entity
        latest = client.get(f"{STA}/Datastreams({ds})", headers=admin)
        assert latest.status_code == 200
    finally:
        device.close()
        watcher.close()


def test_rest_observations_reach_subscribers(
    client: TestClient, admin: dict[str, str], broker: Broker, ingest: Ingest
) -> None:
    (ds,), _ = _device(client, admin, broker, "mqtt gauge 2")
    watcher = connect(broker.settings.port, *broker.reader("watcher-2"), subscribe=TOPIC.format(ds))
    try:
        body = {
            "result": 7.25,
            "phenomenonTime": f"{_at(6)}/{_at(5)}",
            "resultTime": _at(4),
            "validTime": f"{_at(5)}/{_at(0)}",
            "parameters": {"battery": 0.8},
            "resultQuality": {"flag": "ok"},
        }
        posted = client.post(f"{STA}/Datastreams({ds})/Observations", json=body, headers=admin)
        assert posted.status_code == 201, posted.text
        ((topic, entity),) = watcher.take(1)
        assert topic == TOPIC.format(ds)
        assert entity["@iot.id"] == posted.json()["@iot.id"]
        assert entity["result"] == 7.25 and entity["parameters"] == {"battery": 0.8}
        read = client.get(f"{STA}/Observations({entity['@iot.id']})", headers=admin)
        assert entity == read.json()
    finally:
        watcher.close()


def test_the_same_reading_twice_is_stored_once_on_both_paths(
    client: TestClient, admin: dict[str, str], broker: Broker, ingest: Ingest, database_url: str
) -> None:
    (ds,), (user, password) = _device(client, admin, broker, "mqtt gauge dup")
    at = _at(3)
    first = client.post(f"{STA}/Datastreams({ds})/Observations",
                        json={"result": 1.0, "phenomenonTime": at}, headers=admin)  # fmt: skip
    again = client.post(f"{STA}/Datastreams({ds})/Observations",
                        json={"result": 1.0, "phenomenonTime": at}, headers=admin)  # fmt: skip
    assert again.json()["@iot.id"] == first.json()["@iot.id"]
    # The same reading twice in one CreateObservations set, and once more: one stored.
    twice = [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
              "dataArray": [[at, 1.0], [at, 1.0]]}]  # fmt: skip
    links = client.post(f"{STA}/CreateObservations", json=twice, headers=admin)
    assert links.status_code == 201, links.text
    assert links.json() == [first.headers["Location"]] * 2
    device = connect(broker.settings.device_port, user, password)
    try:
        device.publish(TOPIC.format(ds), {"result": 1.0, "phenomenonTime": at}).wait_for_publish(5)
        device.publish(
            TOPIC.format(ds), {"result": 2.0, "phenomenonTime": _at(2)}
        ).wait_for_publish(5)
        wait_until(lambda: len(stored(database_url, ds)) == 2, what="the second reading")
    finally:
        device.close()
    assert [r[2] for r in stored(database_url, ds)] == [1.0, 2.0]
    # Moving a reading onto another's time would make two: refused, nothing changed.
    second = max(r[0] for r in stored(database_url, ds))
    moved = client.patch(f"{STA}/Observations({second})", json={"phenomenonTime": at},
                         headers=admin)  # fmt: skip
    assert moved.status_code == 409, moved.text
    assert "one reading per Datastream and time" in moved.json()["detail"]
    assert [r[2] for r in stored(database_url, ds)] == [1.0, 2.0]


def test_anonymous_and_wrong_passwords_are_refused(broker: Broker) -> None:
    for port in (broker.settings.port, broker.settings.device_port):
        with pytest.raises(ConnectionRefusedError):
            connect(port, None, None)
        with pytest.raises(ConnectionRefusedError):
            connect(port, "thing-1", "not its password")


def test_a_device_may_publish_only_to_its_own_datastreams(
    client: TestClient, admin: dict[str, str], broker: Broker, ingest: Ingest, database_url: str
) -> None:
    (mine,), (user, password) = _device(client, admin, broker, "mqtt gauge A")
    (theirs,), _ = _device(client, admin, broker, "mqtt gauge B")
    device = connect(broker.settings.device_port, user, password)
    # On the main listener too: it may not write the subscribers' topic (a forged entity).
    direct = connect(broker.settings.port, user, password, subscribe="#")
    watcher = connect(
        broker.settings.port, *broker.reader("watcher-3"), subscribe=TOPIC.format(theirs)
    )
    try:
        device.publish(
            TOPIC.format(theirs), {"result": 99.0, "phenomenonTime": _at(4)}
        ).wait_for_publish(5)
        direct.publish(TOPIC.format(theirs), {"@iot.id": 1, "result": 99.0}).wait_for_publish(5)
        device.publish(
            TOPIC.format(mine), {"result": 1.0, "phenomenonTime": _at(3)}
        ).wait_for_publish(5)
        wait_until(lambda: len(stored(database_url, mine)) == 1, what="its own reading")
        assert stored(database_url, theirs) == []
        assert watcher.received.empty()
        assert direct.received.empty(), "a device reads nothing"
    finally:
        for c in (device, direct, watcher):
            c.close()


BAD = [
    (b"{not json", "not valid JSON"),
    (b'{"result": "high", "phenomenonTime": "2026-01-01T00:00:00Z"}', "needs a number"),
    (b'{"result": 1.0, "phenomenonTime": "2999-01-01T00:00:00Z"}', "lies in the future"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"result": 1.0, "phenomenonTime": "yesterday"}', "not an ISO 8601 time"),
    # a ring PostGIS cannot read: the database refuses it, the rest of the batch goes on
    (
        b'{"result": 1.0, "phenomenonTime": "2026-01-01T00:00:00Z", "FeatureOfInterest": {"name":'
        b' "x", "description": "y", "encodingType": "application/geo+json", "feature": {"type":'
        b' "Polygon", "coordinates": [[[121.4, 31.2], [121.5, 31.3]]]}}}',
        "FeatureOfInterest",
    ),
]


def test_bad_payloads_store_nothing_are_logged_once_and_do_not_block(
    client: TestClient, admin: dict[str, str], broker: Broker, ingest: Ingest, database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    (ds,), (user, password) = _device(client, admin, broker, "mqtt gauge bad")
    (other_ds,), (other, other_password) = _device(client, admin, broker, "mqtt gauge nosy")
    # Each device listens on its own error topic; one tries to listen on the other's too.
    device = connect(broker.settings.device_port, user, password, subscribe=f"errors/{user}")
    nosy = connect(broker.settings.device_port, other, other_password, subscribe=f"errors/{user}")
    # The server's own account may publish anywhere: an unknown Datastream's reading.
    server = connect(broker.settings.port, broker.settings.username,
                     broker.settings.login_password())  # fmt: skip
    caplog.set_level(logging.WARNING, logger="onemap.mqtt")
    try:
        for payload, _ in BAD:
            device.publish(TOPIC.format(ds), payload).wait_for_publish(5)
        server.publish("devices/" + TOPIC.format(987654321),
                       {"result": 1.0, "phenomenonTime": _at(1)}).wait_for_publish(5)  # fmt: skip
        device.publish(
            TOPIC.format(ds), {"result": 4.5, "phenomenonTime": _at(1)}
        ).wait_for_publish(5)
        wait_until(lambda: len(stored(database_url, ds)) == 1, what="the good reading")
        told = device.take(len(BAD))
        with pytest.raises(queue.Empty):  # nothing about the server's reading, nothing more
            device.take(1, timeout=1)
        with pytest.raises(queue.Empty):  # another device hears nothing of it
            nosy.take(1, timeout=0.5)
    finally:
        device.close()
        nosy.close()
        server.close()
    assert [r[2] for r in stored(database_url, ds)] == [4.5]
    assert stored(database_url, other_ds) == []
    refused = [r for r in caplog.records if r.getMessage() == "MQTT observation refused"]
    errors = [r.__dict__["error"] for r in refused]
    assert len(refused) == len(BAD) + 1
    for (_, expected), error in zip(BAD, errors, strict=False):
        assert expected in error
    assert "no Datastream with @iot.id 987654321" in errors[-1]
    # What the device was told: on its own error topic, in order, each reason and payload.
    # Mosquitto 2.0 delivers it under the mounted name (its subscription is the short one).
    assert {topic for topic, _ in told} == {f"devices/errors/{user}"}
    for (payload, expected), (_, notice) in zip(BAD, told, strict=True):
        assert notice["topic"] == TOPIC.format(ds)
        assert expected in notice["error"]
        assert notice["payload"] == payload[:200].decode()


def test_cli_writes_files_mosquitto_accepts(
    broker: Broker, client: TestClient, admin: dict[str, str], database_url: str, tmp_path: Path,
    settings: Settings,
) -> None:  # fmt: skip
    from click.testing import CliRunner

    from server.cli import main

    thing = create(client, admin, "Things", station("mqtt cli gauge"))
    env = {"ONEMAP_DATABASE_URL": database_url, "ONEMAP_MQTT_PASSWORD": "server-pw",
           "ONEMAP_DATA_DIR": str(settings.data.dir)}  # fmt: skip
    made = CliRunner().invoke(main, ["mqtt", "device", str(thing)], env=env)
    assert made.exit_code == 0, made.output
    password = made.output.split("password: ")[1].strip()
    assert f"username: thing-{thing}" in made.output
    wrote = CliRunner().invoke(main, ["mqtt", "config", "--dir", str(tmp_path)], env=env)
    assert wrote.exit_code == 0, wrote.output
    acl = (tmp_path / "acl").read_text()
    (ds,) = datastreams_of(client, admin, thing)
    assert f"user thing-{thing}\ntopic write devices/v1.1/Datastreams({ds})/Observations\n" in acl
    line = next(li for li in (tmp_path / "passwords").read_text().splitlines()
                if li.startswith(f"thing-{thing}:"))  # fmt: skip
    assert line.split(":", 1)[1].startswith("$7$") and password not in line
    help_text = CliRunner().invoke(main, ["mqtt", "config", "--help"], env=env).output
    assert "acl_file" in help_text
    broker.refresh()  # the same registry through the fixture's broker: the password works
    connect(broker.settings.device_port, f"thing-{thing}", password).close()


def test_a_public_reader_hears_no_critical_device(
    client: TestClient, admin: dict[str, str], broker: Broker, ingest: Ingest
) -> None:
    critical = create(client, admin, "Things", station("mqtt substation probe", critical=True))
    (hidden,) = datastreams_of(client, admin, critical)
    (shown,), _ = _device(client, admin, broker, "mqtt public gauge")
    public = connect(broker.settings.port, *broker.reader("public-watcher", "public"),
                     subscribe="v1.1/#")  # fmt: skip
    try:
        for ds in (hidden, shown):
            body = {"result": 1.0, "phenomenonTime": _at(2)}
            posted = client.post(f"{STA}/Datastreams({ds})/Observations", json=body, headers=admin)
            assert posted.status_code == 201, posted.text
        ((topic, _),) = public.take(1)
        assert topic == TOPIC.format(shown)
        with pytest.raises(queue.Empty):
            public.take(1, timeout=1)
    finally:
        public.close()


def test_mqtt_readings_raise_alarms_once(
    client: TestClient, admin: dict[str, str], broker: Broker, ingest: Ingest, database_url: str,
    tokens: TokenService,
) -> None:  # fmt: skip
    """The rules see MQTT readings as they see REST's (one writer), and a reading sent twice
    is evaluated once."""
    from tests.mobile_helpers import a_point
    from tests.sensor_alarm_helpers import alarms_of, gauge, times

    thing, ds = gauge(client, admin, a_point(database_url, 7))
    device = connect(broker.settings.device_port, *broker.device(thing))
    at = times(5)
    try:
        for when, level in [(at[0], 1.8), (at[1], 2.3), (at[2], 2.35), (at[2], 2.35),
                            (at[3], 2.4)]:  # fmt: skip
            payload = {"result": level, "phenomenonTime": when}
            device.publish(TOPIC.format(ds), payload).wait_for_publish(5)
        wait_until(lambda: len(stored(database_url, ds)) == 4 or ingest.error is not None,
                   what="four readings")  # fmt: skip
        assert ingest.error is None, repr(ingest.error)
    finally:
        device.close()
    dispatcher = staff(tokens, database_url, "dispatcher")
    (alarm,) = alarms_of(client, dispatcher, thing)
    assert (alarm["level"], alarm["active"]) == ("ALARM", True)
    assert alarm["lastValue"] == pytest.approx(0.4)
