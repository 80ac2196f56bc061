"""Sensor rules kept by an admin (a rate-of-change rule), offline detection by the sweep, and
the live feed: the ``sensorAlarms`` subscription over graphql-transport-ws."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.conftest import ROOT
from tests.mobile_helpers import a_point
from tests.sensor_alarm_helpers import (
    OPS,
    alarms_of,
    data,
    gauge,
    gql,
    name,
    post_batch,
    post_one,
    times,
)
from tests.sta_helpers import staff

ONEMAP = str(Path(sys.executable).with_name("onemap"))


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


@pytest.fixture(scope="module")
def dispatcher(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "dispatcher")


def _rule(**fields: Any) -> dict[str, Any]:
    return {"name": name("rise"), "kind": "rate", "warningLevel": 1.0, "alarmLevel": 2.0,
            "hysteresis": 0.5, "minReadings": 2, "updateStep": 1.0,
            "category": "power_outage", **fields}  # fmt: skip


def test_only_an_admin_keeps_rules_and_bad_ones_are_refused(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str]
) -> None:
    refused = gql(client, dispatcher, "CreateSensorRule",
                  input=_rule(observedProperty="anything"))  # fmt: skip
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = gql(client, admin, "CreateSensorRule",
              input=_rule(observedProperty="x", warningLevel=5.0))  # fmt: skip
    assert "warning_level must not be above alarm_level" in bad["errors"][0]["message"]
    unknown = gql(client, admin, "CreateSensorRule",
                  input=_rule(observedProperty="x", category="volcano"))  # fmt: skip
    assert "Unknown case category 'volcano'" in unknown["errors"][0]["message"]
    rules = data(client, admin, "SensorRules")["sensorRules"]
    defaults = {r["name"]: r for r in rules}
    assert defaults["water level over the warning line"]["reference"] == "warningLine"
    routed = {name: rule["category"] for name, rule in defaults.items()}
    assert {"smoke obscuration": "fire_hazard", "gas concentration (% LEL)": "gas_leak",
            "cable temperature": "cable_overheat", "cable temperature rise (°C/min)":
            "cable_overheat"}.items() <= routed.items()  # fmt: skip
    assert "x" not in {r["observedProperty"] for r in rules}  # nothing half-written


def test_a_rate_of_change_rule_raises_on_a_fast_rise(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    observed = name("feeder temperature")
    rule = data(client, admin, "CreateSensorRule", input=_rule(observedProperty=observed))
    rule_id = rule["createSensorRule"]["id"]
    try:
        thing, ds = gauge(client, admin, a_point(database_url, 11), observed=observed,
                          properties={"period": 60})  # fmt: skip
        at = times(6, step_s=60)
        # +0.5 °C/min is normal; +1.5 then +2.5 °C/min: two readings over → an alarm.
        post_batch(client, admin, ds, [(at[0], 40.0), (at[1], 40.5), (at[2], 42.0)])
        assert alarms_of(client, dispatcher, thing) == []
        post_one(client, admin, ds, at[3], 44.5)
        (alarm,) = alarms_of(client, dispatcher, thing)
        assert (alarm["level"], alarm["lastValue"]) == ("ALARM", pytest.approx(2.5))
        case = data(client, dispatcher, "AlarmCase", id=alarm["caseId"])["case"]
        assert (case["source"], case["category"], case["department"]["code"]) == (
            "SENSOR", "power_outage", "power_grid")  # fmt: skip
        post_one(client, admin, ds, at[4], 44.6)  # the rise stops: cleared at once
        assert alarms_of(client, dispatcher, thing)[0]["active"] is False
    finally:
        off = data(client, admin, "UpdateSensorRule", id=rule_id, input={"enabled": False})
        assert off["updateSensorRule"]["enabled"] is False


def test_switching_a_rule_off_clears_its_open_alarms(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    observed = name("vault humidity")
    fields = _rule(observedProperty=observed, kind="threshold", warningLevel=80.0,
                   alarmLevel=90.0, minReadings=1)  # fmt: skip
    rule_id = data(client, admin, "CreateSensorRule", input=fields)["createSensorRule"]["id"]
    thing, ds = gauge(client, admin, a_point(database_url, 15), observed=observed,
                      properties={"period": 60})  # fmt: skip
    post_one(client, admin, ds, times(1)[0], 95.0)
    (alarm,) = alarms_of(client, dispatcher, thing)
    assert (alarm["level"], alarm["state"]) == ("ALARM", "ALARM")
    data(client, admin, "UpdateSensorRule", id=rule_id, input={"enabled": False})
    (alarm,) = alarms_of(client, dispatcher, thing)
    assert (alarm["active"], alarm["state"]) == (False, "NORMAL")
    case = data(client, dispatcher, "AlarmCase", id=alarm["caseId"])["case"]
    assert "规则停用" in case["events"][-1]["note"]


def _sweep(database_url: str) -> None:
    env = {**os.environ, "ONEMAP_LOG_LEVEL": "WARNING", "ONEMAP_DATABASE_URL": database_url}
    done = subprocess.run([ONEMAP, "sweep", "--once"], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_device_that_misses_its_periods_goes_offline_and_back_online(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    _, quiet = gauge(client, admin, a_point(database_url, 12))  # period 30 s, 3 missed: 90 s
    _, chatty = gauge(client, admin, a_point(database_url, 13))
    post_one(client, admin, quiet, times(1, start_minutes_ago=2)[0], 1.0)  # 120 s ago
    post_one(client, admin, chatty, times(1, start_minutes_ago=0.5)[0], 1.0)  # 30 s ago
    _sweep(database_url)

    def state(ds: int) -> str:
        found = data(client, dispatcher, "SensorStates", datastreamId=str(ds))["sensorStates"]
        return str(found[0]["state"])

    assert (state(quiet), state(chatty)) == ("OFFLINE", "NORMAL")
    offline = data(client, dispatcher, "SensorStates", states=["OFFLINE"])["sensorStates"]
    assert str(quiet) in {s["datastreamId"] for s in offline}
    post_one(client, admin, quiet, times(1, start_minutes_ago=0)[0], 1.1)
    assert state(quiet) == "NORMAL"


def _receive_until(ws: Any, change: str, ds: int) -> dict[str, Any]:
    for _ in range(20):
        message = ws.receive_json()
        assert message["type"] == "next", message
        notice: dict[str, Any] = message["payload"]["data"]["sensorAlarms"]
        if notice["change"] == change and notice["datastreamId"] == str(ds):
            return notice
    raise AssertionError(f"no {change} notice for Datastream {ds}")


def test_a_subscriber_receives_the_alarm_as_it_is_raised_and_cleared(
    client: TestClient, tokens: TokenService, admin: dict[str, str], database_url: str
) -> None:
    thing, ds = gauge(client, admin, a_point(database_url, 14))
    token = admin["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": OPS, "operationName": "SensorAlarmFeed"}})  # fmt: skip
        time.sleep(0.3)
        at = times(5)
        post_batch(client, admin, ds, [(t, 2.6) for t in at[:4]])
        raised = _receive_until(ws, "raised", ds)
        assert raised["state"] == "ALARM"
        assert (raised["alarm"]["thingId"], raised["alarm"]["level"]) == (str(thing), "ALARM")
        assert raised["alarm"]["caseId"] is not None
        post_one(client, admin, ds, at[4], 1.0)
        cleared = _receive_until(ws, "cleared", ds)
        assert cleared["alarm"]["active"] is False and cleared["state"] == "NORMAL"
        ws.send_json({"id": "1", "type": "complete"})


def test_a_subscriber_without_read_sensors_hears_nothing_of_a_critical_device(
    client: TestClient, tokens: TokenService, admin: dict[str, str], database_url: str
) -> None:
    """A citizen's feed: the critical gauge's alarm (raised first) never arrives; the public
    gauge's (raised after it) does."""
    _, hidden = gauge(client, admin, a_point(database_url, 16), critical=True)
    _, public = gauge(client, admin, a_point(database_url, 17))
    citizen = staff(tokens, database_url, "citizen")["Authorization"]
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": citizen}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": OPS, "operationName": "SensorAlarmFeed"}})  # fmt: skip
        time.sleep(0.3)
        at = times(5)
        post_batch(client, admin, hidden, [(t, 2.6) for t in at[:4]])
        post_batch(client, admin, public, [(t, 2.6) for t in at[:4]])
        message = ws.receive_json()
        assert message["payload"]["data"]["sensorAlarms"]["datastreamId"] == str(public)
        assert (
            message["payload"]["data"]["sensorAlarms"]["alarm"]["caseId"] is None
        )  # no read_cases
        ws.send_json({"id": "1", "type": "complete"})
    post_one(client, admin, hidden, at[4], 1.0)
    post_one(client, admin, public, at[4], 1.0)
