"""The demo city's sensor devices (seed/sensors.py): where a city would have them, with 24
hours of readings, as the SensorThings writers would have left them — seen through the API,
checked in PostGIS, judged by the alarm rules (nothing to raise), and seeded once."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo import migrate
from geo.enums import SensorRuleKind
from geo.services.sensor_alarms import Machine
from seed.load import seed
from seed.sensor_kinds import KINDS
from server.kernel.auth.tokens import TokenService
from tests.conftest import TEST_SCALE, sqlalchemy_url
from tests.sta_helpers import MEASUREMENT, STA, staff

Conn = psycopg.Connection[Any]
SEEDED = "t.properties->>'synthetic' = 'true'"
#: Facility category → the kind every seeded facility of it has (the others have a share).
EVERY = {"elderly_care": "smoke_detector", "hazard_source": "gas_detector",
         "waterlogging_point": "water_level_gauge",
         "metro_station": "cable_temperature_sensor"}  # fmt: skip
SOME = {"school": "smoke_detector", "kindergarten": "smoke_detector",
        "community_center": "smoke_detector", "venue": "gas_detector"}  # fmt: skip
CRITICAL_KINDS = {"hazard_source", "metro_station"}


def _rows(db: Conn, query: str, *args: Any) -> list[tuple[Any, ...]]:
    return db.execute(query, args).fetchall()  # type: ignore[arg-type]


def _one(db: Conn, query: str, *args: Any) -> Any:
    return _rows(db, query, *args)[0][0]


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


def _get(client: TestClient, headers: dict[str, str], path: str) -> Any:
    response = client.get(f"{STA}/{path}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _count(client: TestClient, headers: dict[str, str], where: str) -> int:
    page = _get(client, headers, f"Things?$filter=properties/synthetic eq true{where}"
                f"&$count=true&$top=1")  # fmt: skip
    return int(page["@iot.count"])


def test_every_facility_that_needs_one_has_its_device(
    client: TestClient, admin: dict[str, str], db: Conn
) -> None:
    facilities = dict(_rows(db, "SELECT category, count(*) FROM facilities "
                            "WHERE code ~ '^F[0-9]{7}$' GROUP BY category"))  # fmt: skip
    devices = dict(_rows(db, "SELECT f.category || '/' || (t.properties->>'kind'), count(*) "
                         f"FROM sta_things t JOIN facilities f ON f.id = t.facility_id "
                         f"WHERE {SEEDED} GROUP BY 1"))  # fmt: skip
    for category, kind in EVERY.items():
        assert facilities[category] > 0
        assert devices[f"{category}/{kind}"] == facilities[category], category
    for category, kind in SOME.items():
        assert 0 < devices[f"{category}/{kind}"] < facilities[category], category
    assert set(devices) == {f"{c}/{k}" for c, k in (EVERY | SOME).items()}
    # boarding schools' dormitories, and no other school, have a smoke detector
    assert _one(db, f"SELECT count(*) FROM facilities f LEFT JOIN sta_things t ON "
                f"t.facility_id = f.id AND {SEEDED} WHERE f.category = 'school' AND "
                f"(f.attributes->>'boarding' = 'yes') <> (t.id IS NOT NULL)") == 0  # fmt: skip
    # one device a facility, its Thing flagged as the writer does from its properties
    assert _one(db, f"SELECT count(*) FROM sta_things t WHERE {SEEDED} AND (t.facility_id "
                f"IS DISTINCT FROM (t.properties->>'facilityId')::bigint OR t.critical "
                f"IS DISTINCT FROM (t.properties->>'critical')::boolean)") == 0  # fmt: skip
    assert _one(db, f"SELECT count(*) - count(DISTINCT t.facility_id) FROM sta_things t "
                f"WHERE {SEEDED}") == 0  # fmt: skip
    # the API counts the same, per kind
    for kind in {k.code for k in KINDS}:
        want = sum(n for key, n in devices.items() if key.endswith(f"/{kind}"))
        assert _count(client, admin, f" and properties/kind eq '{kind}'") == want, kind


def test_a_device_of_each_kind_through_the_api(
    client: TestClient, admin: dict[str, str], db: Conn
) -> None:
    seeded_at = _one(db, "SELECT updated_at FROM seed_progress WHERE layer = 'sensors'")
    for kind in KINDS:
        thing_id = _one(db, f"SELECT min(t.id) FROM sta_things t WHERE {SEEDED} "
                        f"AND t.properties->>'kind' = %s", kind.code)  # fmt: skip
        newest = "Observations($orderby=phenomenonTime desc;$top=100;$count=true)"
        thing = _get(client, admin, f"Things({thing_id})?$expand=Locations,HistoricalLocations,"
                     f"Datastreams($expand=Sensor,ObservedProperty,{newest})")  # fmt: skip
        props = thing["properties"]
        assert props["kind"] == kind.code and props["synthetic"] is True
        assert props["period"] == kind.period and isinstance(props["facilityId"], int)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in thing["name"])  # a Chinese name
        assert thing["description"].isascii() and "(synthetic)" in thing["description"]
        if kind.code == "water_level_gauge":
            assert 0.3 <= props["warningLine"] <= 0.5
        [location] = thing["Locations"]
        assert location["encodingType"] == "application/geo+json"
        assert location["location"]["type"] == "Point"
        [history] = thing["HistoricalLocations"]
        installed = datetime.fromisoformat(history["time"].replace("Z", "+00:00"))
        [stream] = thing["Datastreams"]
        assert stream["observationType"] == MEASUREMENT
        assert stream["unitOfMeasurement"] == kind.unit
        assert stream["ObservedProperty"]["name"] == kind.observed_property["name"]
        assert stream["ObservedProperty"]["definition"].startswith("http")
        assert stream["Sensor"]["name"] == kind.sensor["name"]
        readings = stream["Observations"]
        assert stream["Observations@iot.count"] == len(readings) == 86_400 // kind.period
        times = [datetime.fromisoformat(o["phenomenonTime"].replace("Z", "+00:00"))
                 for o in readings]  # fmt: skip
        assert all(a - b == timedelta(seconds=kind.period) for a, b in pairwise(times))
        assert installed < times[-1] and times[0] <= seeded_at
        assert seeded_at - times[-1] < timedelta(days=1, seconds=kind.period)
        assert all(o["resultTime"] == o["phenomenonTime"] for o in readings)
        first, last = stream["phenomenonTime"].split("/")
        assert (last, first) == (readings[0]["phenomenonTime"], readings[-1]["phenomenonTime"])
        assert stream["resultTime"] == stream["phenomenonTime"]


def test_latest_readings_are_the_newest_observations(db: Conn) -> None:
    wrong = _rows(db, f"""
        SELECT d.id FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
        CROSS JOIN LATERAL (SELECT o.id, o.phenomenon_time, o.result FROM sta_observations o
          WHERE o.datastream_id = d.id ORDER BY o.phenomenon_time DESC, o.id DESC LIMIT 1) o
        WHERE {SEEDED} AND (d.latest_observation_id, d.latest_phenomenon_time, d.latest_result)
          IS DISTINCT FROM (o.id, o.phenomenon_time, o.result)""")  # fmt: skip
    assert wrong == []
    assert _one(db, f"SELECT count(*) FROM sta_datastreams d JOIN sta_things t ON "
                f"t.id = d.thing_id WHERE {SEEDED}") == _one(
        db, f"SELECT count(*) FROM sta_things t WHERE {SEEDED}")  # fmt: skip


def test_each_thing_lies_in_its_grid_cell_and_observes_its_location(db: Conn) -> None:
    misplaced = _one(db, f"""
        SELECT count(*) FROM sta_things t JOIN sta_thing_locations tl ON tl.thing_id = t.id
        JOIN sta_locations l ON l.id = tl.location_id
        LEFT JOIN grid_cells g ON g.id = t.grid_cell_id
        WHERE {SEEDED} AND (g.id IS NULL OR NOT ST_Contains(g.geom, l.geom))""")  # fmt: skip
    assert misplaced == 0
    far = _one(db, f"SELECT max(ST_Distance(l.geom::geography, f.geom::geography)) FROM "
               f"sta_things t JOIN facilities f ON f.id = t.facility_id JOIN sta_thing_locations "
               f"tl ON tl.thing_id = t.id JOIN sta_locations l ON l.id = tl.location_id "
               f"WHERE {SEEDED}")  # fmt: skip
    assert far < 10  # a few metres off the facility at most
    # every reading's FeatureOfInterest is its Thing's Location, internal for critical Things
    wrong = _one(db, f"""
        SELECT count(*) FROM sta_observations o JOIN sta_datastreams d ON d.id = o.datastream_id
        JOIN sta_things t ON t.id = d.thing_id JOIN sta_thing_locations tl ON tl.thing_id = t.id
        JOIN sta_locations l ON l.id = tl.location_id
        JOIN sta_features_of_interest f ON f.id = o.feature_of_interest_id
        WHERE {SEEDED} AND NOT (f.geom ~= l.geom AND f.name = l.name
          AND f.internal = t.critical)""")  # fmt: skip
    assert wrong == 0


def test_the_public_sees_no_critical_device(
    client: TestClient, admin: dict[str, str], db: Conn
) -> None:
    critical = _rows(db, f"SELECT t.id, f.category FROM sta_things t JOIN facilities f "
                     f"ON f.id = t.facility_id WHERE {SEEDED} AND t.critical "
                     f"ORDER BY t.id")  # fmt: skip
    assert {c for _, c in critical} == CRITICAL_KINDS
    public = _one(db, f"SELECT count(*) FROM sta_things t WHERE {SEEDED} AND NOT t.critical")
    assert _count(client, {}, "") == public > 0
    assert _count(client, admin, "") == public + len(critical)
    kinds = {t["properties"]["kind"] for t in _get(
        client, {}, "Things?$filter=properties/synthetic eq true&$top=1000")["value"]}  # fmt: skip
    assert "cable_temperature_sensor" not in kinds and "smoke_detector" in kinds
    thing = critical[0][0]
    assert client.get(f"{STA}/Things({thing})").status_code == 404
    assert client.get(f"{STA}/Things({thing})", headers=admin).status_code == 200
    readings = f"Observations?$filter=Datastream/Thing/id eq {thing}&$count=true&$top=1"
    assert _get(client, {}, readings)["@iot.count"] == 0
    assert _get(client, admin, readings)["@iot.count"] > 0


def test_the_readings_raise_no_alarm(db: Conn) -> None:
    """Judged by the city's rules as the writer would judge them, no reading leaves normal;
    nothing was raised, no case made; the rules' states are where a day of posting leaves
    them (normal, the newest reading last)."""
    rules = _rows(db, "SELECT id, observed_property, kind, reference, warning_level, "
                  "alarm_level, hysteresis, min_duration_s, min_readings FROM sensor_rules "
                  "WHERE enabled")  # fmt: skip
    series: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    meta: dict[int, tuple[int, str, dict[str, Any]]] = {}
    for ds, thing, prop, props, at, value in _rows(db, f"""
            SELECT d.id, t.id, lower(op.name), t.properties, o.phenomenon_time,
              (o.result #>> '{{}}')::float8 FROM sta_observations o
            JOIN sta_datastreams d ON d.id = o.datastream_id JOIN sta_things t ON t.id = d.thing_id
            JOIN sta_observed_properties op ON op.id = d.observed_property_id
            WHERE {SEEDED} ORDER BY o.phenomenon_time"""):  # fmt: skip
        series[ds].append((at, value))
        meta[ds] = (thing, prop, props)
    judged = 0
    for ds, readings in series.items():
        thing, prop, props = meta[ds]
        for rid, observed, kind, reference, warning, alarm, hyst, min_s, min_n in rules:
            if observed != prop:
                continue
            machine = Machine(ds, thing, rid, SensorRuleKind(kind), warning, alarm, hyst, min_s,
                              min_n, float(props[reference]) if reference else 0.0)  # fmt: skip
            for at, value in readings:
                machine.step(at, value)
            assert machine.changes == [] and machine.raised == [], (ds, readings)
            judged += 1
    assert judged > len(series)  # every stream, and the cables twice (level and rise)
    assert _one(db, f"SELECT count(*) FROM sensor_alarms a JOIN sta_things t ON "
                f"t.id = a.thing_id WHERE {SEEDED}") == 0  # fmt: skip
    assert _one(db, f"SELECT count(*) FROM sensor_datastream_states s JOIN sta_datastreams d "
                f"ON d.id = s.datastream_id JOIN sta_things t ON t.id = d.thing_id "
                f"WHERE {SEEDED}") == 0  # fmt: skip
    states = _rows(db, f"""
        SELECT count(*), count(*) FILTER (WHERE s.level = 'normal'
          AND s.last_time = d.latest_phenomenon_time
          AND s.last_value = (d.latest_result #>> '{{}}')::float8)
        FROM sensor_rule_states s JOIN sta_datastreams d ON d.id = s.datastream_id
        JOIN sta_things t ON t.id = d.thing_id WHERE {SEEDED}""")[0]  # fmt: skip
    assert states == (judged, judged)


def test_cable_temperature_follows_the_metro_load(db: Conn) -> None:
    """Warmer at the rush hours than in the small hours (China Standard Time)."""
    night, rush = _rows(db, f"""
        SELECT avg((o.result #>> '{{}}')::float8) FILTER (WHERE h BETWEEN 2 AND 4),
               avg((o.result #>> '{{}}')::float8) FILTER (WHERE h BETWEEN 8 AND 10)
        FROM sta_observations o JOIN sta_datastreams d ON d.id = o.datastream_id
        JOIN sta_things t ON t.id = d.thing_id,
        LATERAL extract(hour FROM o.phenomenon_time AT TIME ZONE 'Asia/Shanghai') h
        WHERE {SEEDED} AND t.properties->>'kind' = 'cable_temperature_sensor'""")[0]  # fmt: skip
    assert rush > night + 8


def test_a_second_seed_adds_nothing(database_url: str) -> None:
    count = (f"SELECT (SELECT count(*) FROM sta_things t WHERE {SEEDED}), "
             f"(SELECT count(*) FROM sta_observations), (SELECT count(*) FROM sta_sensors), "
             f"(SELECT count(*) FROM sta_observed_properties)")  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = _rows(conn, count)[0]
        report = seed(conn, TEST_SCALE)
        after = _rows(conn, count)[0]
    assert report.added["sensors"] == report.added["readings"] == 0
    assert before == after


def test_an_older_city_gets_the_same_devices_on_its_next_seed(empty_database_url: str) -> None:
    """A city seeded before the devices existed (no ``sensors`` step, no SensorThings rows)
    gets them on its next ``onemap seed``: the same facilities, kinds and parameters as a
    fresh seed (they come from the facilities' own chunks), and only once."""
    devices = ("SELECT t.facility_id, t.properties, d.properties "
               "FROM sta_things t JOIN sta_datastreams d ON d.thing_id = t.id "
               "ORDER BY t.facility_id")  # fmt: skip
    migrate.upgrade(sqlalchemy_url(empty_database_url))
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        fresh = seed(conn, 0.01)
        before = _rows(conn, devices)
        conn.execute("TRUNCATE sta_things, sta_locations, sta_features_of_interest, "
                     "sta_sensors, sta_observed_properties CASCADE")  # fmt: skip
        conn.execute("DELETE FROM seed_progress WHERE layer = 'sensors'")
        older = seed(conn, 0.01)
        after = _rows(conn, devices)
        again = seed(conn, 0.01)
    assert {k: n for k, n in older.added.items() if n} == {
        "sensors": fresh.added["sensors"], "readings": fresh.added["readings"]}  # fmt: skip
    assert after == before and len(before) == fresh.added["sensors"] > 0
    assert again.total_added == 0
