"""SensorThings reads against known data: entity addressing, the query options ($filter,
$expand nested with its own options, $select, $orderby, $top, $skip, $count), navigation and
next links, the dataArray result format, and malformed requests answered 400/404."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.sta_helpers import STA, create, datastreams_of, staff, station

#: Readings of the first datastream: 09:00 … 09:11 on 2026-11-20, results 0 … 11.
READINGS = 12


class City:
    """Three stations named ``<prefix>-a``, ``-b``, ``-c``; ``-a`` has two datastreams; the
    first datastream of ``-a`` has READINGS observations, ``-b``'s one."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.prefix = f"q{uuid.uuid4().hex[:8]}"
        self.things = {
            "a": create(client, headers, "Things", station(f"{self.prefix}-a", streams=2)),
            "b": create(
                client, headers, "Things", station(f"{self.prefix}-b", lon=121.50, lat=31.25)
            ),
            "c": create(
                client, headers, "Things", station(f"{self.prefix}-c", lon=121.55, lat=31.28)
            ),
        }
        self.streams = datastreams_of(client, headers, self.things["a"])
        self.other = datastreams_of(client, headers, self.things["b"])[0]
        rows = [[f"2026-11-20T09:{i:02d}:00Z", i] for i in range(READINGS)]
        response = client.post(
            f"{STA}/CreateObservations",
            headers=headers,
            json=[
                {
                    "Datastream": {"@iot.id": self.streams[0]},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": rows,
                },
                {
                    "Datastream": {"@iot.id": self.other},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [["2026-11-21T10:30:00Z", 42.5]],
                },
            ],
        )
        assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def admin(tokens: TokenService, database_url: str) -> dict[str, str]:
    return staff(tokens, database_url, "admin")


@pytest.fixture(scope="module")
def city(client: TestClient, admin: dict[str, str]) -> City:
    return City(client, admin)


def _get(client: TestClient, headers: dict[str, str], path: str) -> Any:
    response = client.get(path if path.startswith("http") else f"{STA}/{path}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_count_top_and_skip(client: TestClient, admin: dict[str, str], city: City) -> None:
    mine = f"$filter=startswith(name,'{city.prefix}')"
    page = _get(client, admin, f"Things?{mine}&$count=true&$top=2&$orderby=name")
    assert page["@iot.count"] == 3
    assert [t["name"] for t in page["value"]] == [f"{city.prefix}-a", f"{city.prefix}-b"]
    assert "@iot.nextLink" in page
    last = _get(client, admin, f"Things?{mine}&$top=2&$skip=2&$orderby=name")
    assert [t["name"] for t in last["value"]] == [f"{city.prefix}-c"]
    assert "@iot.nextLink" not in last and "@iot.count" not in last


def test_next_links_visit_every_observation_once(
    client: TestClient, admin: dict[str, str], city: City
) -> None:
    url = f"Datastreams({city.streams[0]})/Observations?$top=5&$orderby=result desc"
    seen: list[float] = []
    pages = 0
    while url:
        page = _get(client, admin, url)
        seen += [o["result"] for o in page["value"]]
        url = page.get("@iot.nextLink")
        pages += 1
    assert seen == list(range(READINGS - 1, -1, -1))
    assert pages == 3


def test_an_entity_has_its_id_self_link_and_navigation_links(
    client: TestClient, admin: dict[str, str], city: City
) -> None:
    thing = _get(client, admin, f"Things({city.things['a']})")
    assert thing["@iot.id"] == city.things["a"]
    assert thing["@iot.selfLink"].endswith(f"/sta/v1.1/Things({city.things['a']})")
    for nav in ("Locations", "HistoricalLocations", "Datastreams"):
        assert thing[f"{nav}@iot.navigationLink"] == f"{thing['@iot.selfLink']}/{nav}"
    assert thing["properties"] == {"critical": False, "kind": "water_level"}


def test_addressing_along_navigation(client: TestClient, admin: dict[str, str], city: City) -> None:
    ds = city.streams[0]
    assert _get(client, admin, f"Datastreams({ds})/Thing")["name"] == f"{city.prefix}-a"
    assert _get(client, admin, f"Things({city.things['a']})/Datastreams({ds})")["@iot.id"] == ds
    obs = _get(client, admin, f"Datastreams({ds})/Observations?$top=1&$orderby=result")
    first = obs["value"][0]["@iot.id"]
    owner = _get(client, admin, f"Observations({first})/Datastream/Thing")
    assert owner["@iot.id"] == city.things["a"]
    history = _get(
        client, admin, f"Things({city.things['a']})/HistoricalLocations?$expand=Locations"
    )
    assert len(history["value"]) == 1
    assert history["value"][0]["Locations"][0]["name"] == f"{city.prefix}-a site"
    assert _get(client, admin, f"Things({city.things['a']})/name") == {"name": f"{city.prefix}-a"}
    value = client.get(f"{STA}/Things({city.things['a']})/name/$value", headers=admin)
    assert value.status_code == 200 and value.text == f"{city.prefix}-a"
    refs = _get(client, admin, f"Things({city.things['a']})/Datastreams/$ref")
    assert sorted(r["@iot.selfLink"].rsplit("(", 1)[1] for r in refs["value"]) == sorted(
        f"{i})" for i in city.streams
    )
    assert _get(client, admin, f"Datastreams({ds})/Thing/$ref")["@iot.selfLink"].endswith(
        f"Things({city.things['a']})"
    )


def test_expand_nests_with_its_own_options(
    client: TestClient, admin: dict[str, str], city: City
) -> None:
    newest = "Observations($orderby=phenomenonTime desc;$top=2;$select=result)"
    expand = f"Datastreams($orderby=name desc;$top=1;$count=true;$expand={newest})"
    thing = _get(client, admin, f"Things({city.things['a']})?$expand={expand}")
    assert thing["Datastreams@iot.count"] == 2
    assert "Datastreams@iot.nextLink" in thing
    assert [d["name"] for d in thing["Datastreams"]] == [f"{city.prefix}-a level 1"]
    assert thing["Datastreams"][0]["Observations"] == []  # the second stream has none
    path = _get(
        client,
        admin,
        f"Things({city.things['a']})?$expand=Datastreams/Observations"
        "($top=3;$orderby=result desc;$select=result)",
    )
    readings = {d["name"]: d["Observations"] for d in path["Datastreams"]}
    assert readings[f"{city.prefix}-a level 0"] == [{"result": 11}, {"result": 10}, {"result": 9}]
    assert (
        "Observations@iot.nextLink" in path["Datastreams"][0]
        or "Observations@iot.nextLink" in path["Datastreams"][1]
    )
    up = "Datastream($select=name;$expand=Thing($select=name))"
    upward = _get(client, admin, f"Observations?$filter=Datastream/id eq {city.other}&$expand={up}")
    assert upward["value"][0]["Datastream"] == {
        "name": f"{city.prefix}-b level 0",
        "Thing": {"name": f"{city.prefix}-b"},
    }


def test_select_serves_only_what_was_named(
    client: TestClient, admin: dict[str, str], city: City
) -> None:
    thing = _get(client, admin, f"Things({city.things['b']})?$select=id,name")
    assert set(thing) == {"@iot.id", "@iot.selfLink", "name"}
    only = _get(client, admin, f"Things({city.things['b']})?$select=description,Datastreams")
    assert set(only) == {"description", "Datastreams@iot.navigationLink"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("result gt 9", [10, 11]),
        ("result ge 3 and result lt 5", [3, 4]),
        ("result lt 1 or result eq 11", [0, 11]),
        ("not (result lt 10)", [10, 11]),
        ("result mul 2 add 1 eq 7", [3]),
        ("result div 2 eq 5", [10]),
        ("result mod 5 eq 0", [0, 5, 10]),
        ("result sub 1 eq -1", [0]),
        ("phenomenonTime ge 2026-11-20T09:10:00Z", [10, 11]),
        ("minute(phenomenonTime) eq 4 and hour(phenomenonTime) eq 9", [4]),
        (
            "year(phenomenonTime) eq 2026 and month(phenomenonTime) eq 11 and "
            "day(phenomenonTime) eq 20 and result eq 1",
            [1],
        ),
        ("round(result div 4) eq 3 and floor(result div 4) eq 2", [10, 11]),
        ("ceiling(result div 5) eq 1", [1, 2, 3, 4, 5]),
    ],
)
def test_filter_on_observations(
    client: TestClient, admin: dict[str, str], city: City, expression: str, expected: list[int]
) -> None:
    page = _get(
        client,
        admin,
        f"Datastreams({city.streams[0]})/Observations?$filter={expression}&$orderby=result",
    )
    assert [o["result"] for o in page["value"]] == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("substringof('-b', name)", ["b"]),
        ("endswith(name, '-c')", ["c"]),
        ("startswith(tolower(toupper(name)), '{p}-a')", ["a"]),
        ("length(name) eq {n}", ["a", "b", "c"]),
        ("indexof(name, '-') eq {i}", ["a", "b", "c"]),
        ("substring(name, {i}) eq '-a'", ["a"]),
        ("concat(name, '!') eq '{p}-b!'", ["b"]),
        ("trim(description) eq '{p}-c (test station)'", ["c"]),
        ("properties/kind eq 'water_level' and properties/critical eq false", ["a", "b", "c"]),
        ("Datastreams/name eq 'x'", None),
    ],
)
def test_filter_on_things(
    client: TestClient,
    admin: dict[str, str],
    city: City,
    expression: str,
    expected: list[str] | None,
) -> None:
    p = city.prefix
    text = expression.format(p=p, n=len(p) + 2, i=len(p))
    response = client.get(
        f"{STA}/Things?$filter=startswith(name,'{p}') and ({text})&$orderby=name", headers=admin
    )
    if expected is None:  # a path through a collection: refused with a reason
        assert response.status_code == 400
        assert "collection" in response.json()["detail"]
        return
    assert response.status_code == 200, response.text
    assert [t["name"][-1] for t in response.json()["value"]] == expected


def test_filter_through_navigation_paths(
    client: TestClient, admin: dict[str, str], city: City
) -> None:
    page = _get(
        client,
        admin,
        f"Observations?$filter=Datastream/Thing/name eq '{city.prefix}-b'&$count=true",
    )
    assert page["@iot.count"] == 1 and page["value"][0]["result"] == 42.5
    streams = _get(
        client,
        admin,
        f"Datastreams?$filter=Thing/name eq '{city.prefix}-a' and Sensor/name eq 'gauge 1'",
    )
    assert [d["name"] for d in streams["value"]] == [f"{city.prefix}-a level 1"]


def test_spatial_filters(client: TestClient, admin: dict[str, str], city: City) -> None:
    ring = "121.49 31.24, 121.51 31.24, 121.51 31.26, 121.49 31.26, 121.49 31.24"
    box = f"geography'POLYGON(({ring}))'"
    mine = f"startswith(name,'{city.prefix}')"
    within = _get(client, admin, f"Locations?$filter={mine} and st_within(location, {box})")
    assert [loc["name"] for loc in within["value"]] == [f"{city.prefix}-b site"]
    near = _get(
        client,
        admin,
        f"Locations?$filter={mine} and geo.distance(location, "
        "geography'POINT(121.55 31.28)') lt 0.001",
    )
    assert [loc["name"] for loc in near["value"]] == [f"{city.prefix}-c site"]
    crossing = _get(
        client,
        admin,
        f"FeaturesOfInterest?$filter=geo.intersects(feature, {box})"
        f" and startswith(name, '{city.prefix}')",
    )
    assert [f["name"] for f in crossing["value"]] == [f"{city.prefix}-b site"]


def test_observations_as_a_data_array(
    client: TestClient, admin: dict[str, str], city: City
) -> None:
    options = "$resultFormat=dataArray&$select=result,phenomenonTime&$orderby=result&$top=3"
    page = _get(client, admin, f"Datastreams({city.streams[0]})/Observations?{options}")
    [group] = page["value"]
    assert group["Datastream@iot.navigationLink"].endswith(f"Datastreams({city.streams[0]})")
    assert group["components"] == ["result", "phenomenonTime"]
    assert group["dataArray@iot.count"] == 3
    assert group["dataArray"][1] == [1, "2026-11-20T09:01:00+00:00"]
    assert "@iot.nextLink" in page


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("Things?$filter=name eq", 400, "ends too early"),
        ("Things?$filter=name eq 'x' foo", 400, "unexpected 'foo'"),
        ("Things?$filter=colour eq 'red'", 400, "no property or navigation 'colour'"),
        ("Things?$filter=frobnicate(name)", 400, "unknown function 'frobnicate'"),
        ("Things?$filter=name gt 3", 400, "cannot be compared"),
        ("Things?$filter=length(name, name) eq 1", 400, "takes 1 arguments"),
        ("Observations?$filter=result div 0 eq 1", 400, "could not be evaluated"),
        (
            "Locations?$filter=st_within(location, geography'POLYGON((1 2, 3')",
            400,
            "could not be evaluated",
        ),
        ("Things?$top=-1", 400, "$top must be a whole number"),
        ("Things?$top=100000", 400, "at most 1000"),
        ("Things?$skip=x", 400, "$skip"),
        ("Things?$count=yes", 400, "$count must be true or false"),
        ("Things?$orderby=name sideways", 400, "$orderby"),
        ("Things?$select=colour", 400, "no property 'colour'"),
        ("Things?$expand=Sensors", 400, "no navigation 'Sensors'"),
        ("Things?$expand=Datastreams($top=x)", 400, "$top must be a whole number"),
        ("Things?$expand=Datastreams($top=1", 400, "nbalanced"),
        ("Things?$frobnicate=1", 400, "Unknown query option"),
        ("Things?$resultFormat=dataArray", 400, "resultFormat"),
        ("Things(999999999)", 404, "No Things(999999999)"),
        ("Things(999999999)/Datastreams", 404, "No Things(999999999)"),
        ("Gadgets", 404, "No entity set 'Gadgets'"),
        ("Things(1)/colour", 404, "no property or navigation 'colour'"),
        ("Things/Datastreams", 404, "addressed by id"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(
    client: TestClient, admin: dict[str, str], city: City, path: str, status: int, words: str
) -> None:
    response = client.get(f"{STA}/{path}", headers=admin)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_filter_values_are_bound_never_pasted(
    client: TestClient, admin: dict[str, str], city: City
) -> None:
    from geo.access import ANONYMOUS
    from geo.queries.sensors import Step, collection
    from geo.queries.sensors_options import parse_options
    from geo.queries.sensors_schema import ENTITY_SETS

    hostile = "x' OR 1=1 --"
    escaped = hostile.replace("'", "''")
    options = parse_options(ENTITY_SETS["Things"], {"$filter": f"name eq '{escaped}'"})
    query = collection(ANONYMOUS, [Step(ENTITY_SETS["Things"])], options)
    assert hostile in query.params.values()
    assert "OR 1=1" not in query.statement.as_string(None)
    page = _get(client, admin, f"Things?$filter=name eq '{escaped}'")
    assert page["value"] == []


@pytest.mark.anyio
async def test_expansions_take_one_statement_per_level(
    client: TestClient, city: City, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No statement per row: a page of Things with their Datastreams, each with its Sensor and
    newest Observations, is the page, its count and one statement per expansion."""
    from geo.access import ANONYMOUS
    from geo.queries.sensors import Step
    from geo.queries.sensors_options import parse_options
    from geo.queries.sensors_schema import ENTITY_SETS
    from geo.services import sensor_reads

    calls: list[str] = []
    real = sensor_reads.fetch

    async def counting(conn: Any, query: Any) -> Any:
        calls.append(query.statement.as_string(None)[:40])
        return await real(conn, query)

    monkeypatch.setattr(sensor_reads, "fetch", counting)
    things = ENTITY_SETS["Things"]
    options = parse_options(
        things,
        {
            "$filter": f"startswith(name, '{city.prefix}')",
            "$count": "true",
            "$expand": "Locations,Datastreams($expand=Sensor,Observations($top=2))",
        },
    )
    async with pool.connection() as conn:
        page = await sensor_reads.read_page(conn, ANONYMOUS, [Step(things)], options)
    assert page.total == 3 and len(page.rows) == 3
    assert sum(len(t["Datastreams"]) for t in page.rows) == 4
    assert len(calls) == 6  # page, count, Locations, Datastreams, Sensor, Observations


def test_page_sizes_come_from_the_settings() -> None:
    from geo.errors import InvalidInput
    from geo.queries.sensors_options import Limits, parse_options
    from geo.queries.sensors_schema import ENTITY_SETS

    things, limits = ENTITY_SETS["Things"], Limits(default_top=7, max_top=20)
    options = parse_options(things, {"$expand": "Datastreams"}, limits=limits)
    assert options.top == 7 and options.expand[0].options.top == 7
    with pytest.raises(InvalidInput, match="at most 20"):
        parse_options(things, {"$expand": "Datastreams($top=21)"}, limits=limits)
