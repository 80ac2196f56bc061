"""Shared helpers of the sensor-alarm tests: a gauge with a warning line, readings posted
through the SensorThings API, and the GraphQL operations of graphql/operations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from tests.gql_helpers import operation
from tests.sta_helpers import STA, create, datastreams_of, station

OPS = operation("sensor_alarms")


def name(what: str) -> str:
    return f"{what} {uuid.uuid4().hex[:8]}"


def gauge(
    client: TestClient, admin: dict[str, str], point: tuple[float, float], *,
    critical: bool = False, observed: str = "water level", properties: dict[str, Any] | None = None,
) -> tuple[int, int]:  # fmt: skip
    """A Thing at ``point`` with one Datastream of ``observed`` (its ObservedProperty's name);
    by default a waterlogging gauge whose warning line is 2.0 m, read every 30 s."""
    body = station(name("gauge"), lon=point[0], lat=point[1], critical=critical)
    stream = body["Datastreams"][0]
    stream["properties"] = properties or {"warningLine": 2.0, "period": 30}
    stream["ObservedProperty"]["name"] = observed
    thing = create(client, admin, "Things", body)
    return thing, datastreams_of(client, admin, thing)[0]


def times(count: int, *, start_minutes_ago: float = 30, step_s: float = 30) -> list[str]:
    start = datetime.now(UTC) - timedelta(minutes=start_minutes_ago)
    return [(start + timedelta(seconds=step_s * i)).isoformat() for i in range(count)]


def post_batch(
    client: TestClient, admin: dict[str, str], ds: int, readings: list[tuple[str, float]]
) -> None:
    """Readings as one CreateObservations set (the dataArray extension)."""
    body = [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
             "dataArray": [[t, v] for t, v in readings]}]  # fmt: skip
    response = client.post(f"{STA}/CreateObservations", headers=admin, json=body)
    assert response.status_code == 201, response.text


def post_one(client: TestClient, admin: dict[str, str], ds: int, at: str, value: float) -> None:
    create(client, admin, f"Datastreams({ds})/Observations",
           {"phenomenonTime": at, "result": value})  # fmt: skip


def gql(
    client: TestClient, headers: dict[str, str] | None, name: str, **variables: Any
) -> dict[str, Any]:
    response = client.post("/graphql", headers=headers or {}, json={
        "query": OPS, "operationName": name, "variables": variables})  # fmt: skip
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def data(client: TestClient, headers: dict[str, str] | None, name: str, **variables: Any) -> Any:
    payload = gql(client, headers, name, **variables)
    assert not payload.get("errors"), payload
    return payload["data"]


def alarms_of(client: TestClient, headers: dict[str, str] | None, thing: int) -> list[Any]:
    """Every alarm of the Thing (open and cleared), as the caller sees them."""
    return list(data(client, headers, "SensorAlarms", active=None, thingId=str(thing))[
        "sensorAlarms"])  # fmt: skip
