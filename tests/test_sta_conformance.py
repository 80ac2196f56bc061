"""The service root claims SensorThings conformance classes; each one claimed is walked here
(its requirements as OGC 18-088 states them, in the small), and a class without a walk —
claimed but not implemented — fails the first test."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.sta_helpers import STA, create, datastreams_of, staff, station

REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
ENTITY_SETS = (
    "Things",
    "Locations",
    "HistoricalLocations",
    "Datastreams",
    "Sensors",
    "ObservedProperties",
    "Observations",
    "FeaturesOfInterest",
)
#: The mandatory properties and navigation of each entity type (OGC 18-088, section 8.2).
MANDATORY = {
    "Things": ({"name", "description"}, {"Locations", "HistoricalLocations", "Datastreams"}),
    "Locations": (
        {"name", "description", "encodingType", "location"},
        {"Things", "HistoricalLocations"},
    ),
    "HistoricalLocations": ({"time"}, {"Thing", "Locations"}),
    "Datastreams": (
        {"name", "description", "unitOfMeasurement", "observationType"},
        {"Thing", "Sensor", "ObservedProperty", "Observations"},
    ),
    "Sensors": ({"name", "description", "encodingType", "metadata"}, {"Datastreams"}),
    "ObservedProperties": ({"name", "definition", "description"}, {"Datastreams"}),
    "Observations": (
        {"phenomenonTime", "result", "resultTime"},
        {"Datastream", "FeatureOfInterest"},
    ),
    "FeaturesOfInterest": ({"name", "description", "encodingType", "feature"}, {"Observations"}),
}

type Check = Callable[[TestClient, dict[str, str], "Station"], None]


class Station:
    def __init__(self, client: TestClient, admin: dict[str, str]) -> None:
        self.name = f"c{uuid.uuid4().hex[:8]}"
        self.thing = create(client, admin, "Things", station(self.name))
        self.ds = datastreams_of(client, admin, self.thing)[0]
        for minute in range(3):
            response = client.post(
                f"{STA}/Datastreams({self.ds})/Observations",
                headers=admin,
                json={"phenomenonTime": f"2026-11-20T08:0{minute}:00Z", "result": minute},
            )
            assert response.status_code == 201


def _get(client: TestClient, headers: dict[str, str], path: str) -> Any:
    url = path if path.startswith(("http", STA)) else f"{STA}/{path}"
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def _first(client: TestClient, headers: dict[str, str], entity_set: str, s: Station) -> Any:
    scoped = {
        "Things": f"Things({s.thing})",
        "Datastreams": f"Datastreams({s.ds})",
        "Observations": f"Datastreams({s.ds})/Observations?$top=1",
        "Locations": f"Things({s.thing})/Locations",
        "HistoricalLocations": f"Things({s.thing})/HistoricalLocations",
        "Sensors": f"Datastreams({s.ds})/Sensor",
        "ObservedProperties": f"Datastreams({s.ds})/ObservedProperty",
        "FeaturesOfInterest": f"Datastreams({s.ds})/Observations?$top=1&$expand=FeatureOfInterest",
    }[entity_set]
    found = _get(client, headers, scoped)
    if entity_set == "FeaturesOfInterest":
        return found["value"][0]["FeatureOfInterest"]
    return found["value"][0] if "value" in found else found


def datamodel(client: TestClient, h: dict[str, str], s: Station) -> None:
    for entity_set, (props, navs) in MANDATORY.items():
        entity = _first(client, h, entity_set, s)
        assert isinstance(entity["@iot.id"], int)
        assert entity["@iot.selfLink"].endswith(f"{entity_set}({entity['@iot.id']})")
        assert props <= set(entity), (entity_set, props - set(entity))
        links = {k.split("@")[0] for k in entity if k.endswith("@iot.navigationLink")}
        assert links == navs, entity_set
        again = _get(client, h, entity["@iot.selfLink"])
        assert again["@iot.id"] == entity["@iot.id"]


def resource_path(client: TestClient, h: dict[str, str], s: Station) -> None:
    root = _get(client, h, STA)
    assert [e["name"] for e in root["value"]] == list(ENTITY_SETS)
    for entry in root["value"]:
        assert isinstance(_get(client, h, entry["url"])["value"], list)
    assert _get(client, h, f"Things({s.thing})/name") == {"name": s.name}
    raw = client.get(f"{STA}/Things({s.thing})/name/$value", headers=h)
    assert raw.text == s.name
    assert _get(client, h, f"Datastreams({s.ds})/Thing")["@iot.id"] == s.thing
    nested = _get(client, h, f"Datastreams({s.ds})/Thing/Locations")
    assert nested["value"][0]["name"] == f"{s.name} site"
    assert _get(client, h, f"Things({s.thing})/Datastreams({s.ds})")["@iot.id"] == s.ds
    assert client.get(f"{STA}/Things(999999999)", headers=h).status_code == 404


def request_data(client: TestClient, h: dict[str, str], s: Station) -> None:
    base = f"Datastreams({s.ds})/Observations"
    assert len(_get(client, h, f"{base}?$top=2")["value"]) == 2
    assert [o["result"] for o in _get(client, h, f"{base}?$orderby=result desc")["value"]] == [
        2,
        1,
        0,
    ]
    assert [o["result"] for o in _get(client, h, f"{base}?$orderby=result&$skip=1")["value"]] == [
        1,
        2,
    ]
    assert _get(client, h, f"{base}?$count=true&$top=1")["@iot.count"] == 3
    assert [
        o["result"] for o in _get(client, h, f"{base}?$filter=result ge 1&$orderby=result")["value"]
    ] == [1, 2]
    selected = _get(client, h, f"{base}?$select=result&$orderby=result")["value"]
    assert selected == [{"result": 0}, {"result": 1}, {"result": 2}]
    expanded = _get(client, h, f"Things({s.thing})?$expand=Datastreams($select=name)")
    assert expanded["Datastreams"] == [{"name": f"{s.name} level 0"}]


def create_update_delete(client: TestClient, h: dict[str, str], s: Station) -> None:
    sensor = client.post(
        f"{STA}/Sensors",
        headers=h,
        json={"name": "spare", "description": "d", "encodingType": "text/html", "metadata": "m"},
    )
    assert sensor.status_code == 201 and sensor.headers["Location"].endswith(
        f"Sensors({sensor.json()['@iot.id']})"
    )
    sensor_id = sensor.json()["@iot.id"]
    linked = client.post(
        f"{STA}/Datastreams",
        headers=h,
        json={
            **station("x")["Datastreams"][0],
            "name": f"{s.name} spare",
            "Thing": {"@iot.id": s.thing},
            "Sensor": {"@iot.id": sensor_id},
        },
    )
    assert linked.status_code == 201
    patched = client.patch(f"{STA}/Sensors({sensor_id})", headers=h, json={"name": "renamed"})
    assert patched.status_code == 200 and patched.json()["name"] == "renamed"
    assert client.delete(f"{STA}/Sensors({sensor_id})", headers=h).status_code == 200
    assert client.get(f"{STA}/Sensors({sensor_id})", headers=h).status_code == 404
    assert (
        client.get(f"{STA}/Datastreams({linked.json()['@iot.id']})", headers=h).status_code == 404
    )


def data_array(client: TestClient, h: dict[str, str], s: Station) -> None:
    made = client.post(
        f"{STA}/CreateObservations",
        headers=h,
        json=[
            {
                "Datastream": {"@iot.id": s.ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-11-20T08:10:00Z", 10], ["2026-11-20T08:11:00Z", 11]],
            }
        ],
    )
    assert made.status_code == 201 and len(made.json()) == 2
    assert all(link.startswith("http://testserver/sta/v1.1/Observations(") for link in made.json())
    table = _get(
        client,
        h,
        f"Datastreams({s.ds})/Observations?$resultFormat=dataArray"
        "&$filter=result ge 10&$orderby=result",
    )
    assert table["value"][0]["components"] == ["id", "phenomenonTime", "result"]
    assert [row[2] for row in table["value"][0]["dataArray"]] == [10, 11]


WALKS: dict[str, Check] = {
    f"{REQ}datamodel": datamodel,
    f"{REQ}resource-path/resource-path-to-entities": resource_path,
    f"{REQ}request-data": request_data,
    f"{REQ}create-update-delete": create_update_delete,
    f"{REQ}data-array/data-array": data_array,
}


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


@pytest.fixture(scope="module")
def claimed(client: TestClient) -> list[str]:
    root = client.get(STA)
    assert root.status_code == 200
    return list(root.json()["serverSettings"]["conformance"])


def test_every_class_claimed_has_a_walk_and_none_is_left_out(claimed: list[str]) -> None:
    assert sorted(claimed) == sorted(WALKS)


@pytest.mark.parametrize("conformance_class", sorted(WALKS))
def test_walk_a_claimed_conformance_class(
    client: TestClient, admin: dict[str, str], claimed: list[str], conformance_class: str
) -> None:
    assert conformance_class in claimed
    WALKS[conformance_class](client, admin, Station(client, admin))
