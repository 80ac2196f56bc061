"""A SensorThings client nobody here wrote — Fraunhofer's ``frost-sta-client`` from PyPI —
against a real ``onemap serve``: it creates a station (Thing with Location, Sensor,
ObservedProperty, Datastream), posts Observations one by one and as a dataArray, and reads
them back through its query API (filter, orderby, top, expand, count, paging).

The client authenticates with HTTP Basic only; its documented hook (an ``AuthHandler``
returning a ``requests`` auth) carries our Bearer token instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import frost_sta_client as fsc
import geojson  # type: ignore[import-untyped]
import pytest
import requests
from frost_sta_client.model.ext.data_array_value import DataArrayValue

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import user_with_role
from tests.running_server import running_server
from tests.sta_helpers import IN_CITY, MEASUREMENT

pytestmark = [
    pytest.mark.slow,
    # the client's own use of a deprecated furl property (frost-sta-client 1.1.53)
    pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning"),
]


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class BearerHandler(fsc.AuthHandler):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        super().__init__(None, None)
        self.token = token

    def add_auth_header(self) -> requests.auth.AuthBase:
        return _Bearer(self.token)


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield f"{url}/sta/v1.1"


@pytest.fixture(scope="module")
def service(base: str, tokens: TokenService, database_url: str) -> Any:
    token = tokens.issue_access(user_with_role(database_url, "admin"), ["admin"])
    return fsc.SensorThingsService(base, auth_handler=BearerHandler(token))


def test_the_client_creates_a_station_and_reads_its_observations_back(service: Any) -> None:
    name = f"frost-{uuid.uuid4().hex[:8]}"
    location = fsc.Location(
        name=f"{name} site",
        description="a waterlogging point",
        encoding_type="application/geo+json",
        location=geojson.Point(IN_CITY),
    )
    thing = fsc.Thing(
        name=name,
        description="water-level gauge",
        properties={"kind": "gauge"},
        locations=[location],
    )
    datastream = fsc.Datastream(
        name=f"{name} level",
        description="water level",
        observation_type=MEASUREMENT,
        unit_of_measurement=fsc.UnitOfMeasurement(
            name="metre", symbol="m", definition="http://qudt.org/vocab/unit/M"
        ),
        sensor=fsc.Sensor(
            name="radar gauge",
            description="radar",
            encoding_type="text/html",
            metadata="https://example.org/gauge",
        ),
        observed_property=fsc.ObservedProperty(
            name="water level", description="level", definition="http://example.org/water-level"
        ),
    )
    thing.datastreams = [datastream]
    service.create(thing)
    assert isinstance(thing.id, int)

    found = service.datastreams().query().filter(f"name eq '{name} level'").list()
    assert [d.name for d in found] == [f"{name} level"]
    stream = found.entities[0]

    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    for i in range(3):  # one by one
        service.create(
            fsc.Observation(
                phenomenon_time=(start + timedelta(minutes=i)).isoformat(),
                result=0.5 + i,
                datastream=stream,
            )
        )
    batch = DataArrayValue()  # the dataArray extension, as the client builds it
    batch.datastream = stream
    batch.components = {DataArrayValue.Property.PHENOMENON_TIME, DataArrayValue.Property.RESULT}
    for i in range(3, 10):
        batch.add_observation(
            fsc.Observation(
                phenomenon_time=(start + timedelta(minutes=i)).isoformat(),
                result=0.5 + i,
                datastream=stream,
            )
        )
    made = service.observations().create(fsc.DataArrayDocument(value=[batch]))
    assert len(made) == 7

    newest = (
        service.observations()
        .query()
        .filter(f"Datastream/id eq {stream.id} and result ge 2")
        .orderby("phenomenonTime", "DESC")
        .top(3)
        .list()
    )
    assert [o.result for o in newest.entities] == [9.5, 8.5, 7.5]  # the first page
    assert newest.next_link is not None and "%24skip=3" in newest.next_link
    # The client's iterator follows @iot.nextLink: every observation once, in order.
    assert [o.result for o in newest] == [9.5, 8.5, 7.5, 6.5, 5.5, 4.5, 3.5, 2.5]

    counted = service.observations().query().filter(f"Datastream/id eq {stream.id}").count()
    assert counted.top(2).list().count == 10

    nested = "Locations,Datastreams($expand=Sensor,ObservedProperty)"
    expanded = service.things().query().filter(f"name eq '{name}'").expand(nested).list()
    station = expanded.entities[0]
    assert station.locations.entities[0].location["coordinates"] == list(IN_CITY)
    ds = station.datastreams.entities[0]
    assert (ds.sensor.name, ds.observed_property.name) == ("radar gauge", "water level")
    assert ds.unit_of_measurement.symbol == "m"

    single = service.things().find(thing.id)
    assert single.name == name and single.properties == {"kind": "gauge"}
