"""Rules → alarms → cases, from the outside: readings posted through the SensorThings API,
alarms and cases read through GraphQL as the control room reads them."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import a_point
from tests.sensor_alarm_helpers import alarms_of, data, gauge, post_batch, post_one, times
from tests.sta_helpers import staff


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


@pytest.fixture(scope="module")
def dispatcher(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "dispatcher")


def _cell_of(database_url: str, thing: int) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT grid_cell_id FROM sta_things WHERE id = %s", (thing,)).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def _case(client: TestClient, headers: dict[str, str], case_id: str) -> dict[str, Any]:
    case: dict[str, Any] = data(client, headers, "AlarmCase", id=case_id)["case"]
    return case


def test_water_over_the_line_raises_one_alarm_and_one_routed_case_then_clears(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    thing, ds = gauge(client, admin, a_point(database_url, 3))
    at = times(10)
    # Below the line, then over it by 0.3–0.4 m for 60 s and three readings (the default
    # rule's minimum): the alarm is raised by the third reading over the line.
    post_batch(client, admin, ds, [(at[0], 1.8), (at[1], 2.3), (at[2], 2.35)])
    assert alarms_of(client, dispatcher, thing) == []
    post_one(client, admin, ds, at[3], 2.4)
    (alarm,) = alarms_of(client, dispatcher, thing)
    assert (alarm["level"], alarm["state"], alarm["active"]) == ("ALARM", "ALARM", True)
    assert alarm["ruleName"] == "water level over the warning line"
    assert alarm["lastValue"] == pytest.approx(0.4)  # metres over the warning line
    case = _case(client, dispatcher, alarm["caseId"])
    assert (case["source"], case["category"], case["status"]) == ("SENSOR", "waterlogging",
                                                                  "REPORTED")  # fmt: skip
    assert case["gridCell"]["id"] == str(_cell_of(database_url, thing))
    assert case["department"]["code"] == "water_authority"
    assert "2.4" not in case["description"] and "0.4" in case["description"]

    # More readings: the same alarm and case; the peak rising 0.2 m (over update_step) is told
    # on the case once, small changes are not.
    post_batch(client, admin, ds, [(at[4], 2.45), (at[5], 2.6), (at[6], 2.62)])
    (alarm,) = alarms_of(client, dispatcher, thing)
    assert alarm["peakValue"] == pytest.approx(0.62)
    case = _case(client, dispatcher, alarm["caseId"])
    notes = [e["note"] for e in case["events"] if e["eventType"] == "COMMENTED"]
    assert len(notes) == 1 and "0.62" in notes[0]

    # Falling: 0.12 over the line stays an alarm (hysteresis 0.05 under 0.15), 0.08 eases to a
    # warning, 0.1 under the line clears it; the timeline tells both.
    post_one(client, admin, ds, at[7], 2.12)
    assert alarms_of(client, dispatcher, thing)[0]["level"] == "ALARM"
    post_one(client, admin, ds, at[8], 2.08)
    assert alarms_of(client, dispatcher, thing)[0]["level"] == "WARNING"
    post_one(client, admin, ds, at[9], 1.9)
    (alarm,) = alarms_of(client, dispatcher, thing)
    assert (alarm["active"], alarm["state"], alarm["peakLevel"]) == (False, "NORMAL", "ALARM")
    assert alarm["clearedAt"] is not None
    events = _case(client, dispatcher, alarm["caseId"])["events"]
    assert [e["eventType"] for e in events].count("REPORTED") == 1
    assert "已解除" in events[-1]["note"] and events[-1]["eventType"] == "COMMENTED"
    assert any("告警→预警" in (e["note"] or "") for e in events)


def test_a_raise_soon_after_the_clear_reopens_the_alarm_and_its_case(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    thing, ds = gauge(client, admin, a_point(database_url, 5))
    at = times(11, start_minutes_ago=20)
    post_batch(client, admin, ds, [(at[i], 2.5) for i in range(4)] + [(at[4], 1.5)])
    (first,) = alarms_of(client, dispatcher, thing)
    assert first["active"] is False
    post_batch(client, admin, ds, [(at[i], 2.5) for i in range(5, 9)])
    (again,) = alarms_of(client, dispatcher, thing)
    assert (again["id"], again["caseId"], again["active"]) == (first["id"], first["caseId"], True)
    events = _case(client, dispatcher, again["caseId"])["events"]
    assert [e["eventType"] for e in events].count("REPORTED") == 1
    assert any("告警：读数" in (e["note"] or "") for e in events)
    post_one(client, admin, ds, at[9], 1.0)  # leave it cleared


def test_a_spike_shorter_than_the_minimum_duration_raises_nothing(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    thing, ds = gauge(client, admin, a_point(database_url, 7))
    at = times(5)
    post_batch(client, admin, ds, [(at[0], 1.8), (at[1], 3.5), (at[2], 3.6), (at[3], 1.7)])
    post_one(client, admin, ds, at[4], 1.75)
    assert alarms_of(client, dispatcher, thing) == []
    states = data(client, dispatcher, "SensorStates", datastreamId=str(ds))["sensorStates"]
    assert [s["state"] for s in states] == ["NORMAL"]


def test_a_device_without_a_warning_line_is_not_judged_by_the_water_rule(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    thing, ds = gauge(client, admin, a_point(database_url, 8), properties={"period": 30})
    post_batch(client, admin, ds, [(t, 9.0) for t in times(5)])
    assert alarms_of(client, dispatcher, thing) == []


def test_the_public_does_not_see_alarms_of_a_critical_device(
    client: TestClient, admin: dict[str, str], dispatcher: dict[str, str], database_url: str
) -> None:
    thing, ds = gauge(client, admin, a_point(database_url, 9), critical=True)
    at = times(5)
    post_batch(client, admin, ds, [(t, 2.5) for t in at[:4]])
    (alarm,) = alarms_of(client, dispatcher, thing)
    assert alarm["level"] == "ALARM"
    assert alarms_of(client, None, thing) == []
    everyone = data(client, None, "SensorAlarms", active=True)["sensorAlarms"]
    assert str(thing) not in {a["thingId"] for a in everyone}
    assert data(client, None, "SensorStates", datastreamId=str(ds))["sensorStates"] == []
    post_one(client, admin, ds, at[4], 1.0)
    assert alarms_of(client, dispatcher, thing)[0]["active"] is False
