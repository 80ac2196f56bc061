"""SensorThings writes: deep insert linked to the one map (grid cell, facility), observations
in their month's partition with the latest value kept, PATCH (merge and JSON Patch), DELETE
with the standard's cascades, and bad input refused with a reason and nothing stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import a_point, seeded
from tests.sta_helpers import MEASUREMENT, STA, create, datastreams_of, staff, station


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


def _name() -> str:
    return f"w{uuid.uuid4().hex[:8]}"


def _count(database_url: str, sql: str, *args: Any) -> int:
    return int(seeded(database_url, sql, *args))


def _cell_at(database_url: str, lon: float, lat: float) -> int:
    return int(
        seeded(
            database_url,
            "SELECT id FROM grid_cells WHERE ST_Intersects(geom, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY id LIMIT 1",
            lon,
            lat,
        )
    )


def _observe(client: TestClient, headers: dict[str, str], ds: int, when: str, value: Any) -> Any:
    return client.post(
        f"{STA}/Datastreams({ds})/Observations",
        headers=headers,
        json={"phenomenonTime": when, "result": value},
    )


def test_deep_insert_places_the_thing_on_the_map(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    lon, lat = a_point(database_url, 3)
    facility = int(seeded(database_url, "SELECT id FROM facilities ORDER BY id OFFSET 3 LIMIT 1"))
    body = station(_name(), lon=lon, lat=lat, streams=2)
    body["properties"]["facilityId"] = facility
    thing = create(client, admin, "Things", body)
    cell, linked = seeded(
        database_url, "SELECT grid_cell_id, facility_id FROM sta_things WHERE id = %s", thing
    )
    expected = _cell_at(database_url, lon, lat)
    assert (cell, linked) == (expected, facility)
    expand = "Locations,HistoricalLocations,Datastreams($expand=Sensor,ObservedProperty)"
    full = client.get(f"{STA}/Things({thing})?$expand={expand}", headers=admin).json()
    assert full["Locations"][0]["location"] == {"type": "Point", "coordinates": [lon, lat]}
    assert len(full["HistoricalLocations"]) == 1
    assert {d["Sensor"]["name"] for d in full["Datastreams"]} == {"gauge 0", "gauge 1"}


def test_a_new_location_moves_the_thing_and_records_history(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    thing = create(client, admin, "Things", station(_name()))
    lon, lat = a_point(database_url, 40)
    moved = {
        "name": "new site",
        "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [lon, lat]},
    }
    create(client, admin, f"Things({thing})/Locations", moved)
    history = client.get(f"{STA}/Things({thing})/HistoricalLocations", headers=admin).json()
    assert len(history["value"]) == 2
    located = client.get(f"{STA}/Things({thing})/Locations", headers=admin).json()
    assert len(located["value"]) == 2
    # PATCH a Thing's Locations to the new one alone: its grid cell follows.
    new_id = next(x["@iot.id"] for x in located["value"] if x["name"] == "new site")
    response = client.patch(
        f"{STA}/Things({thing})", headers=admin, json={"Locations": [{"@iot.id": new_id}]}
    )
    assert response.status_code == 200, response.text
    cell = seeded(database_url, "SELECT grid_cell_id FROM sta_things WHERE id = %s", thing)
    assert cell == _cell_at(database_url, lon, lat)


def test_observations_land_in_their_month_and_keep_the_latest_value(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    ds = datastreams_of(client, admin, create(client, admin, "Things", station(_name())))[0]
    now = datetime.now(UTC).replace(microsecond=0)
    for minutes, value in ((30, 1.0), (10, 3.0), (20, 2.0)):
        assert (
            _observe(
                client, admin, ds, (now - timedelta(minutes=minutes)).isoformat(), value
            ).status_code
            == 201
        )
    old = _observe(client, admin, ds, "2019-05-01T00:00:00Z", 9.0)
    assert old.status_code == 201
    with psycopg.connect(database_url) as conn:
        partitions = dict(
            conn.execute(
                "SELECT result::float, tableoid::regclass::text FROM sta_observations "
                "WHERE datastream_id = %s",
                (ds,),
            ).fetchall()
        )
    assert partitions[3.0] == f"sta_observations_p{now:%Y%m}"
    assert partitions[9.0] == "sta_observations_default"
    latest = seeded(
        database_url,
        "SELECT latest_result::float, phenomenon_time_start FROM sta_datastreams WHERE id = %s",
        ds,
    )
    assert latest == (3.0, datetime(2019, 5, 1, tzinfo=UTC))
    newest = client.get(
        f"{STA}/Datastreams({ds})/Observations?$orderby=phenomenonTime desc&$top=1", headers=admin
    ).json()["value"][0]
    assert (
        client.delete(f"{STA}/Observations({newest['@iot.id']})", headers=admin).status_code == 200
    )
    assert (
        seeded(database_url, "SELECT latest_result::float FROM sta_datastreams WHERE id = %s", ds)
        == 2.0
    )


def test_patch_merges_and_json_patch_applies(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    thing = create(client, admin, "Things", station(_name()))
    response = client.patch(
        f"{STA}/Things({thing})", headers=admin, json={"description": "moved to the underpass"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["description"] == "moved to the underpass"
    assert response.json()["properties"]["kind"] == "water_level"  # untouched
    ops = [
        {"op": "replace", "path": "/properties/kind", "value": "smoke"},
        {"op": "add", "path": "/properties/floor", "value": 12},
    ]
    response = client.patch(
        f"{STA}/Things({thing})",
        headers={**admin, "Content-Type": "application/json-patch+json"},
        content=_json(ops),
    )
    assert response.status_code == 200, response.text
    assert response.json()["properties"] == {"critical": False, "kind": "smoke", "floor": 12}
    ds = datastreams_of(client, admin, thing)[0]
    obs = _observe(client, admin, ds, "2026-11-20T12:00:00Z", 1.0).json()["@iot.id"]
    changed = client.patch(f"{STA}/Observations({obs})", headers=admin, json={"result": 2.5})
    assert changed.status_code == 200 and changed.json()["result"] == 2.5
    refused = client.patch(f"{STA}/Observations({obs})", headers=admin, json={"result": "high"})
    assert refused.status_code == 400 and "needs a number" in refused.json()["detail"]
    assert (
        seeded(database_url, "SELECT result::float FROM sta_observations WHERE id = %s", obs) == 2.5
    )
    unknown = client.patch(f"{STA}/Things({thing})", headers=admin, json={"colour": "red"})
    assert unknown.status_code == 400 and "cannot change colour" in unknown.json()["detail"]


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def test_delete_cascades_as_the_standard_says(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    thing = create(client, admin, "Things", station(_name(), streams=2))
    first, second = datastreams_of(client, admin, thing)
    _observe(client, admin, first, "2026-11-20T12:00:00Z", 1.0)
    _observe(client, admin, second, "2026-11-20T12:00:00Z", 1.0)
    location = client.get(f"{STA}/Things({thing})/Locations", headers=admin).json()["value"][0]
    # A Datastream takes its Observations with it; the Thing stays.
    assert client.delete(f"{STA}/Datastreams({first})", headers=admin).status_code == 200
    assert client.get(f"{STA}/Datastreams({first})", headers=admin).status_code == 404
    assert (
        _count(
            database_url, "SELECT count(*) FROM sta_observations WHERE datastream_id = %s", first
        )
        == 0
    )
    assert client.get(f"{STA}/Things({thing})", headers=admin).status_code == 200
    # A Thing takes its Datastreams (and their Observations) and HistoricalLocations; its
    # Location stays.
    assert client.delete(f"{STA}/Things({thing})", headers=admin).status_code == 200
    assert client.get(f"{STA}/Datastreams({second})", headers=admin).status_code == 404
    assert (
        _count(
            database_url, "SELECT count(*) FROM sta_historical_locations WHERE thing_id = %s", thing
        )
        == 0
    )
    assert client.get(f"{STA}/Locations({location['@iot.id']})", headers=admin).status_code == 200
    # A Sensor takes its Datastreams.
    other = create(client, admin, "Things", station(_name()))
    ds = client.get(f"{STA}/Things({other})/Datastreams?$expand=Sensor", headers=admin).json()
    sensor = ds["value"][0]["Sensor"]["@iot.id"]
    assert client.delete(f"{STA}/Sensors({sensor})", headers=admin).status_code == 200
    assert client.get(f"{STA}/Things({other})/Datastreams", headers=admin).json()["value"] == []
    # A Location takes the HistoricalLocations left with no Location.
    loc = client.get(f"{STA}/Things({other})/Locations", headers=admin).json()["value"][0]
    assert client.delete(f"{STA}/Locations({loc['@iot.id']})", headers=admin).status_code == 200
    assert (
        client.get(f"{STA}/Things({other})/HistoricalLocations", headers=admin).json()["value"]
        == []
    )
    assert client.delete(f"{STA}/Things(999999999)", headers=admin).status_code == 404


def _totals(database_url: str) -> tuple[int, ...]:
    return tuple(
        seeded(
            database_url,
            "SELECT (SELECT count(*) FROM sta_things), "
            "(SELECT count(*) FROM sta_observations), "
            "(SELECT count(*) FROM sta_locations), "
            "(SELECT count(*) FROM sta_sensors)",
        )
    )


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("Things", b"{not json", "not valid JSON"),
        ("Observations", b'{"result": NaN, "Datastream": {"@iot.id": 1}}', "NaN is not a JSON"),
        ("Things", [1, 2], "must be a JSON object"),
        ("Things", {"description": "no name"}, "needs 'name'"),
        ("Things", {"name": "x", "properties": {"critical": "yes"}}, "critical must be true"),
        ("Things", {"name": "x", "properties": {"facilityId": 999999999}}, "no facility"),
        (
            "Things",
            {
                **station("bad-location"),
                "Locations": [
                    {
                        "name": "l",
                        "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": [1000, 2]},
                    }
                ],
            },
            "not valid lon/lat",
        ),
        (
            "Things",
            {
                **station("bad-geojson"),
                "Locations": [
                    {
                        "name": "l",
                        "encodingType": "application/geo+json",
                        "location": {"type": "Blob", "coordinates": [1]},
                    }
                ],
            },
            "geometry could not be read",
        ),
        (
            "Things",
            {
                **station("bad-stream"),
                "Datastreams": [{**station("x")["Datastreams"][0], "observationType": "loud"}],
            },
            "observationType must be one of",
        ),
        (
            "Things",
            {
                **station("bad-unit"),
                "Datastreams": [{**station("x")["Datastreams"][0], "unitOfMeasurement": "m"}],
            },
            "unitOfMeasurement' must be a JSON object",
        ),
        (
            "Observations",
            {"result": 1, "Datastream": {"@iot.id": 999999999}},
            "no Datastream with @iot.id 999999999",
        ),
        ("Observations", {"result": 1}, "needs a Datastream"),
        ("Things(999999999)/Locations", {"name": "x"}, "No Things(999999999)"),
        ("Things(1)", {"name": "x"}, "POST creates an entity in a collection"),
        ("HistoricalLocations", {"time": "2026-11-20T00:00:00Z"}, "cannot be created"),
    ],
)
def test_bad_creates_store_nothing(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    path: str,
    body: Any,
    words: str,
) -> None:
    before = _totals(database_url)
    if isinstance(body, bytes):
        json_headers = {**admin, "Content-Type": "application/json"}
        response = client.post(f"{STA}/{path}", headers=json_headers, content=body)
    else:
        response = client.post(f"{STA}/{path}", headers=admin, json=body)
    assert response.status_code in (400, 404), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    assert _totals(database_url) == before


@pytest.mark.parametrize(
    ("observation", "words"),
    [
        ({"result": "high"}, "OM_Measurement needs a number as result"),
        ({"result": True}, "needs a number"),
        ({}, "needs a 'result'"),
        ({"result": 1, "phenomenonTime": "2999-01-01T00:00:00Z"}, "lies in the future"),
        ({"result": 1, "phenomenonTime": "yesterday"}, "not an ISO 8601 time"),
        (
            {"result": 1, "phenomenonTime": "2026-11-20T10:00:00Z/2026-11-20T09:00:00Z"},
            "ends before it starts",
        ),
        ({"result": 1, "resultTime": "2999-01-01T00:00:00Z"}, "lies in the future"),
        (
            {"result": 1, "FeatureOfInterest": {"@iot.id": 999999999}},
            "no FeatureOfInterest with @iot.id",
        ),
    ],
)
def test_bad_observations_store_nothing(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    observation: dict[str, Any],
    words: str,
) -> None:
    ds = datastreams_of(client, admin, create(client, admin, "Things", station(_name())))[0]
    before = _totals(database_url)
    response = client.post(f"{STA}/Datastreams({ds})/Observations", headers=admin, json=observation)
    assert response.status_code == 400, response.text
    assert words in response.json()["detail"]
    assert _totals(database_url) == before


def test_a_data_array_with_one_bad_row_stores_nothing(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    ds = datastreams_of(client, admin, create(client, admin, "Things", station(_name())))[0]
    before = _totals(database_url)
    rows = [["2026-11-20T10:00:00Z", 1], ["2026-11-20T10:01:00Z", "high"]]
    response = client.post(
        f"{STA}/CreateObservations",
        headers=admin,
        json=[
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": rows,
            }
        ],
    )
    assert response.status_code == 400
    assert "row 1" in response.json()["detail"] and "needs a number" in response.json()["detail"]
    assert _totals(database_url) == before
    for body, words in (
        (
            [{"Datastream": {"@iot.id": ds}, "components": ["colour"], "dataArray": [[1]]}],
            "components must name 'result'",
        ),
        (
            [{"Datastream": {"@iot.id": ds}, "components": ["result"], "dataArray": [[1, 2]]}],
            "needs 1 values",
        ),
        ({"not": "a list"}, "non-empty JSON array"),
    ):
        response = client.post(f"{STA}/CreateObservations", headers=admin, json=body)
        assert response.status_code == 400 and words in response.json()["detail"]
    assert _totals(database_url) == before
    ok = client.post(
        f"{STA}/CreateObservations",
        headers=admin,
        json=[
            {
                "Datastream": {"@iot.id": ds},
                "components": ["result", "phenomenonTime", "resultTime"],
                "dataArray": [[5, "2026-11-20T10:00:00Z", "2026-11-20T10:00:05Z"]],
            }
        ],
    )
    assert ok.status_code == 201 and ok.json()[0].startswith("http://testserver/sta/v1.1/Obs")
    assert MEASUREMENT.endswith("OM_Measurement")


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("Datastreams", {"observationType": "loud"}, "observationType must be one of"),
        ("Datastreams", {"unitOfMeasurement": "m"}, "must be a JSON object"),
        ("Datastreams", {"name": None}, "needs 'name'"),
        ("Datastreams", {"Sensor": {"@iot.id": 999999999}}, "no Sensor with @iot.id"),
        ("Locations", {"encodingType": "text/plain"}, "encodingType must be one of"),
        ("Locations", {"location": {"type": "Point", "coordinates": [500, 0]}},
         "not valid lon/lat"),
        ("Things", {"properties": {"facilityId": "f1"}}, "facilityId must be"),
    ],
)  # fmt: skip
def test_bad_updates_change_nothing(
    client: TestClient, admin: dict[str, str], path: str, body: dict[str, Any], words: str
) -> None:
    thing = create(client, admin, "Things", station(_name()))
    ids = {
        "Things": thing,
        "Datastreams": datastreams_of(client, admin, thing)[0],
        "Locations": client.get(f"{STA}/Things({thing})/Locations", headers=admin).json()["value"][
            0
        ]["@iot.id"],
    }
    url = f"{STA}/{path}({ids[path]})"
    before = client.get(url, headers=admin).json()
    response = client.patch(url, headers=admin, json=body)
    assert response.status_code == 400, response.text
    assert words in response.json()["detail"]
    assert client.get(url, headers=admin).json() == before
