"""Who reads and writes SensorThings entities (geo.access, docs/sensors.md): the public reads
devices of no critical infrastructure; a critical Thing, its Locations, HistoricalLocations,
Datastreams, Observations and FeaturesOfInterest are internal (``read_sensors``); writes need
``manage_sensors`` (posting Observations: ``ingest_observations``)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from geo.access import Capability, sensor_writer, system
from geo.errors import Forbidden
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import seeded
from tests.sta_helpers import STA, create, datastreams_of, staff, station


class Devices:
    def __init__(self, client: TestClient, admin: dict[str, str]) -> None:
        self.prefix = f"a{uuid.uuid4().hex[:8]}"
        self.open = create(client, admin, "Things", station(f"{self.prefix}-open"))
        self.critical = create(
            client, admin, "Things", station(f"{self.prefix}-substation", critical=True)
        )
        self.open_ds = datastreams_of(client, admin, self.open)[0]
        self.critical_ds = datastreams_of(client, admin, self.critical)[0]
        for ds in (self.open_ds, self.critical_ds):
            response = client.post(
                f"{STA}/Datastreams({ds})/Observations",
                headers=admin,
                json={"phenomenonTime": "2026-11-20T10:00:00Z", "result": 21.5},
            )
            assert response.status_code == 201, response.text
        expanded = client.get(
            f"{STA}/Things({self.critical})?$expand=Locations,HistoricalLocations,"
            "Datastreams($expand=Sensor,Observations($expand=FeatureOfInterest))",
            headers=admin,
        ).json()
        stream = expanded["Datastreams"][0]
        self.critical_paths = [
            f"Things({self.critical})",
            f"Locations({expanded['Locations'][0]['@iot.id']})",
            f"HistoricalLocations({expanded['HistoricalLocations'][0]['@iot.id']})",
            f"Datastreams({self.critical_ds})",
            f"Observations({stream['Observations'][0]['@iot.id']})",
            f"FeaturesOfInterest({stream['Observations'][0]['FeatureOfInterest']['@iot.id']})",
        ]
        self.critical_sensor = stream["Sensor"]["@iot.id"]


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


@pytest.fixture(scope="module")
def devices(client: TestClient, admin: dict[str, str]) -> Devices:
    return Devices(client, admin)


def _names(client: TestClient, headers: dict[str, str], path: str) -> list[str]:
    response = client.get(f"{STA}/{path}", headers=headers)
    assert response.status_code == 200, response.text
    return sorted(e.get("name", str(e.get("@iot.id"))) for e in response.json()["value"])


@pytest.mark.parametrize("who", ["anonymous", "citizen"])
def test_the_public_does_not_see_critical_devices(
    client: TestClient, tokens: TokenService, database_url: str, devices: Devices, who: str
) -> None:
    headers = {} if who == "anonymous" else staff(tokens, database_url, who)
    for path in devices.critical_paths:
        response = client.get(f"{STA}/{path}", headers=headers)
        assert response.status_code == 404, (path, response.text)
    mine = f"$filter=startswith(name,'{devices.prefix}')"
    assert _names(client, headers, f"Things?{mine}") == [f"{devices.prefix}-open"]
    assert _names(client, headers, f"Locations?{mine}") == [f"{devices.prefix}-open site"]
    assert _names(client, headers, f"Datastreams?{mine}") == [f"{devices.prefix}-open level 0"]
    # No way round: through a Sensor (public), a filter, an expansion, a count.
    through = client.get(
        f"{STA}/Sensors({devices.critical_sensor})?$expand=Datastreams($count=true)",
        headers=headers,
    ).json()
    assert through["Datastreams"] == [] and through["Datastreams@iot.count"] == 0
    readings = client.get(
        f"{STA}/Observations?$filter=Datastream/Thing/name eq '{devices.prefix}-substation'"
        "&$count=true",
        headers=headers,
    ).json()
    assert readings["@iot.count"] == 0
    assert (
        client.get(
            f"{STA}/Datastreams({devices.critical_ds})/Observations", headers=headers
        ).status_code
        == 404
    )
    # The open device's readings are public.
    public = client.get(f"{STA}/Datastreams({devices.open_ds})/Observations", headers=headers)
    assert [o["result"] for o in public.json()["value"]] == [21.5]


@pytest.mark.parametrize("role", ["dispatcher", "grid_worker", "analyst", "admin"])
def test_staff_with_read_sensors_see_them(
    client: TestClient, tokens: TokenService, database_url: str, devices: Devices, role: str
) -> None:
    headers = staff(tokens, database_url, role)
    for path in devices.critical_paths:
        assert client.get(f"{STA}/{path}", headers=headers).status_code == 200, path
    mine = f"$filter=startswith(name,'{devices.prefix}')"
    assert len(_names(client, headers, f"Things?{mine}")) == 2


def _totals(database_url: str) -> tuple[int, ...]:
    return tuple(
        seeded(
            database_url,
            "SELECT (SELECT count(*) FROM sta_things), (SELECT count(*) FROM sta_observations)",
        )
    )


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 401), ("citizen", 403), ("dispatcher", 403)]
)
def test_writes_need_the_capability(
    client: TestClient,
    tokens: TokenService,
    database_url: str,
    devices: Devices,
    who: str,
    status: int,
) -> None:
    headers = {} if who == "anonymous" else staff(tokens, database_url, who)
    before = _totals(database_url)
    attempts: list[tuple[str, str, Any]] = [
        ("POST", "Things", station("intruder")),
        ("POST", f"Datastreams({devices.open_ds})/Observations", {"result": 1}),
        (
            "POST",
            "CreateObservations",
            [
                {
                    "Datastream": {"@iot.id": devices.open_ds},
                    "components": ["result"],
                    "dataArray": [[1]],
                }
            ],
        ),
        ("PATCH", f"Things({devices.open})", {"name": "renamed"}),
        ("DELETE", f"Things({devices.open})", None),
    ]
    for method, path, body in attempts:
        response = client.request(method, f"{STA}/{path}", headers=headers, json=body)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if status == 403:
            assert (
                "sensors" in response.json()["detail"]
                or "observations" in (response.json()["detail"])
            )
    assert _totals(database_url) == before
    assert client.get(f"{STA}/Things({devices.open})").json()["name"] == f"{devices.prefix}-open"


def test_ingest_alone_posts_observations_and_nothing_else() -> None:
    """What a device's principal (the MQTT ingest, later) holds: posting Observations only."""
    device = system(Capability.INGEST_OBSERVATIONS)
    assert sensor_writer(device, "Observations", creating=True) is device
    for entity_set, creating in (("Things", True), ("Observations", False)):
        with pytest.raises(Forbidden, match="manage_sensors"):
            sensor_writer(device, entity_set, creating=creating)


def test_a_device_made_critical_disappears_from_the_public(
    client: TestClient, admin: dict[str, str]
) -> None:
    thing = create(client, admin, "Things", station(f"m{uuid.uuid4().hex[:8]}"))
    ds = datastreams_of(client, admin, thing)[0]
    obs = client.post(
        f"{STA}/Datastreams({ds})/Observations?$expand=FeatureOfInterest",
        headers=admin,
        json={"phenomenonTime": "2026-11-20T10:00:00Z", "result": 1.0},
    ).json()["@iot.id"]
    feature = client.get(f"{STA}/Observations({obs})/FeatureOfInterest").json()["@iot.id"]
    assert client.get(f"{STA}/Things({thing})").status_code == 200
    response = client.patch(
        f"{STA}/Things({thing})", headers=admin, json={"properties": {"critical": True}}
    )
    assert response.status_code == 200, response.text
    for path in (
        f"Things({thing})",
        f"Datastreams({ds})",
        f"Observations({obs})",
        f"FeaturesOfInterest({feature})",
    ):
        assert client.get(f"{STA}/{path}").status_code == 404, path
        assert client.get(f"{STA}/{path}", headers=admin).status_code == 200, path


def test_changes_and_internal_reads_are_audited(
    client: TestClient, tokens: TokenService, database_url: str, admin: dict[str, str]
) -> None:
    thing = create(client, admin, "Things", station(f"au{uuid.uuid4().hex[:8]}"))
    assert (
        client.patch(
            f"{STA}/Things({thing})", headers=admin, json={"description": "audited"}
        ).status_code
        == 200
    )
    rows = (
        "SELECT count(*) FROM audit_log WHERE action = %s AND object_type = %s AND object_id = %s"
    )
    for action in ("sta.create", "sta.update"):
        assert seeded(database_url, rows, action, "Things", str(thing)) == 1
    path = f"Things({thing})"
    client.get(f"{STA}/{path}")  # public: not audited
    assert seeded(database_url, rows, "sta.read", "sta", path) == 0
    client.get(f"{STA}/{path}", headers=staff(tokens, database_url, "dispatcher"))
    assert seeded(database_url, rows, "sta.read", "sta", path) == 1
    assert client.delete(f"{STA}/{path}", headers=admin).status_code == 200
    assert seeded(database_url, rows, "sta.delete", "Things", str(thing)) == 1
