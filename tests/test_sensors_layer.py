"""The sensors layer of the one map (issue 15, item 5): devices created through the
SensorThings API stand where their Location is, with the state their readings give, in the
OGC collection and the vector tiles — as a GIS client and the map read them; the public never
sees a device of critical infrastructure."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import a_point
from tests.sensor_alarm_helpers import gauge, post_batch, times
from tests.sta_helpers import STA, staff
from tests.tile_helpers import features, tile_at, url


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


@pytest.fixture(scope="module")
def analyst(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "analyst")


def item(client: TestClient, headers: dict[str, str], thing: int) -> Any:
    response = client.get(f"/ogc/collections/sensors/items/{thing}?f=json", headers=headers)
    return response.json() if response.status_code == 200 else response.status_code


def tile_states(client: TestClient, headers: dict[str, str], point: tuple[float, float]) -> dict:
    z, x, y = tile_at(15, *point)
    response = client.get(url("sensors", z, x, y), headers=headers)
    assert response.status_code in (200, 204), response.text
    return {f["id"]: f["properties"]["state"] for f in features(response.content, "sensors")}


def test_a_device_is_on_the_map_where_it_stands_with_the_state_of_its_readings(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    point = a_point(database_url, 11)
    thing, ds = gauge(client, admin, point)
    found = item(client, {}, thing)
    assert found["geometry"]["coordinates"] == pytest.approx(list(point))
    props = found["properties"]
    assert (props["state"], props["kind"]) == ("normal", "water_level")
    assert props["name"].startswith("gauge ")
    assert tile_states(client, {}, point)[thing] == "normal"

    # water 0.4 m over the warning line for the rule's minimum: an alarm, red on the map
    at = times(6)
    post_batch(client, admin, ds, [(at[0], 2.3), (at[1], 2.35), (at[2], 2.4), (at[3], 2.4)])
    assert item(client, {}, thing)["properties"]["state"] == "alarm"
    assert tile_states(client, {}, point)[thing] == "alarm"
    # the water falls below the line less the hysteresis: normal again
    post_batch(client, admin, ds, [(at[4], 1.5), (at[5], 1.4)])
    assert item(client, {}, thing)["properties"]["state"] == "normal"


def test_moving_a_location_moves_the_device(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    thing, _ = gauge(client, admin, a_point(database_url, 12))
    (location,) = client.get(f"{STA}/Things({thing})/Locations", headers=admin).json()["value"]
    there = a_point(database_url, 13)
    response = client.patch(f"{STA}/Locations({location['@iot.id']})", headers=admin, json={
        "location": {"type": "Point", "coordinates": list(there)}})  # fmt: skip
    assert response.status_code == 200, response.text
    assert item(client, {}, thing)["geometry"]["coordinates"] == pytest.approx(list(there))
    assert thing in tile_states(client, {}, there)


def test_critical_devices_are_on_the_staff_map_only(
    client: TestClient, admin: dict[str, str], analyst: dict[str, str], database_url: str
) -> None:
    point = a_point(database_url, 14)
    thing, _ = gauge(client, admin, point, critical=True)
    assert item(client, {}, thing) == 404
    assert thing not in tile_states(client, {}, point)
    public = client.get("/ogc/collections/sensors/items?f=json&limit=1000").json()
    assert thing not in {f["id"] for f in public["features"]}
    assert item(client, analyst, thing)["properties"]["state"] == "normal"
    assert tile_states(client, analyst, point)[thing] == "normal"


def test_the_queryables_offer_the_states(client: TestClient) -> None:
    body = client.get("/ogc/collections/sensors/queryables?f=json").json()
    assert body["properties"]["state"]["enum"] == ["normal", "warning", "alarm", "offline"]
    response = client.get("/ogc/collections/sensors/items?f=json&state=alarm&limit=1000")
    assert response.status_code == 200
    assert {f["properties"]["state"] for f in response.json()["features"]} <= {"alarm"}
