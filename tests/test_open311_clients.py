"""Third-party Open311 clients from PyPI against a running ``onemap serve``, in JSON and XML.

- ``georeport`` (0.3, Python 3.9–3.13) reads: the service list, a service definition, the
  requests and one request, as JSON or as XML (it parses XML with xmltodict).
- ``civicbot`` (0.4) posts: its ``Open311Client`` checks a request against our live service
  list and definition, then sends the form GeoReport v2 describes (``attribute[code]``,
  ``attribute[code][]``). Its transport reads JSON only; for ``requests.xml`` the test gives it
  a transport that parses the answer as XML (the same HTTP call, xmltodict's parser).
- ``open311`` (1.1) and ``three`` (0.8), the older Code for America clients, are Python 2 only
  (implicit relative imports, ``itertools.ifilter``): they do not import on Python 3.

The poster's full read-back needs its api_key on GET, which neither client sends: that part is
read with httpx and checked element by element.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
import xmltodict
from civicbot import Endpoint, HttpError, HttpTransport, Open311Client, ValidationError
from civicbot.http import RateLimiter
from georeport import GeoReport

from seed.catalogue import DEMO_OPEN311_KEY
from tests.mobile_helpers import a_point, seeded
from tests.running_server import running_server
from tests.test_open311 import partner_key

pytestmark = pytest.mark.slow
JURISDICTION = "onemap.demo"


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield f"{url}/open311/v2"


class XmlTransport(HttpTransport):
    """civicbot's transport for an endpoint asked in XML: the same form POST, the answer
    parsed as XML."""

    def post_form(
        self, url: str, data: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Any:
        body = urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(  # noqa: S310 - the test server's http URL
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", **dict(headers or {})},
        )
        return xmltodict.parse(self._open(request))


def civicbot(base: str, fmt: str = "json") -> Open311Client:
    endpoint = Endpoint(id="onemap", name="OneMap demo city", base_url=base, write=True)
    transport = (XmlTransport if fmt == "xml" else HttpTransport)(
        rate_limiter=RateLimiter(min_interval=0)
    )
    return Open311Client(endpoint, transport, jurisdiction_id=JURISDICTION, fmt=fmt)


def as_list(value: Any) -> list[Any]:
    """xmltodict gives one repeated element as a dict, several as a list."""
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_services_definitions_and_requests(
    base: str, database_url: str, fmt: str
) -> None:
    client = GeoReport(base, jurisdiction=JURISDICTION, output_format=fmt)
    services = client.get_service_list()
    reportable = seeded(
        database_url,
        "SELECT array_agg(code ORDER BY code) FROM case_categories WHERE citizen_reportable",
    )
    assert [s["service_code"] for s in services] == reportable
    road = next(s for s in services if s["service_code"] == "road_damage")
    assert road["service_name"] == "道路破损 / Road Damage"
    assert str(road["metadata"]).lower() == "true"

    definition = client.get_service_definition("road_damage")
    attributes = definition["attributes"]
    attributes = as_list(attributes["attribute"]) if fmt == "xml" else attributes
    assert [a["code"] for a in attributes] == ["handling", "urgency", "observed_at", "impact"]
    urgency = attributes[1]
    keys = [
        v["key"]
        for v in (as_list(urgency["values"]["value"]) if fmt == "xml" else urgency["values"])
    ]
    assert keys == ["low", "normal", "high", "urgent"]

    listed = client.get_service_requests(service_code="road_damage", status="open")
    assert listed and {r["service_code"] for r in listed} == {"road_damage"}
    assert {r["status"] for r in listed} == {"open"}
    first = listed[0]
    one = client.get_service_request(first["service_request_id"])
    assert one["service_request_id"] == first["service_request_id"]
    assert str(one["lat"]) == str(first["lat"]) and one["description"] in (None, "")
    with pytest.raises(Exception, match="404"):
        client.get_service_request("no-such-request")


def test_georeport_json_and_xml_agree(base: str) -> None:
    as_json = GeoReport(base, output_format="json").get_service_requests(status="closed")
    as_xml = GeoReport(base, output_format="xml").get_service_requests(status="closed")
    assert len(as_json) == len(as_xml) > 0
    for j, x in zip(as_json, as_xml, strict=True):
        assert set(x) >= {"service_request_id", "status", "requested_datetime", "lat", "long"}
        for key, value in x.items():
            assert (value or None) == (None if j[key] is None else str(j[key])), key


def test_civicbot_posts_in_json_and_the_poster_reads_it_back(base: str, database_url: str) -> None:
    lon, lat = a_point(database_url, 7)
    client = civicbot(base)
    text = f"井盖松动 {uuid.uuid4().hex[:8]}"
    sent = client.create_request(
        "manhole_cover",
        dry_run=False,
        confirm="SEND",
        api_key=DEMO_OPEN311_KEY,
        validate_remote=True,
        lat=lat,
        lng=lon,
        description=text,
        address_string="静安区某路8号",
        media_url="https://example.org/m.jpg",
        email="citizen@example.org",
        attributes={"urgency": "high", "impact": ["traffic"]},
    )
    (created,) = sent.response
    sid = created["service_request_id"]
    assert "manhole" not in sid and created["service_notice"]
    priority = seeded(database_url, "SELECT priority FROM cases WHERE public_id = %s", sid)
    assert priority == "high"
    # The client checks against our live definition before sending anything.
    with pytest.raises(ValidationError, match="urgency"):
        client.create_request(
            "manhole_cover",
            dry_run=False,
            confirm="SEND",
            api_key=DEMO_OPEN311_KEY,
            validate_remote=True,
            lat=lat,
            lng=lon,
            attributes={"urgency": "panic"},
        )

    public = client.get_request(sid)
    assert public is not None and public["description"] is None and public["address"] is None
    mine = httpx.get(f"{base}/requests/{sid}.json", params={"api_key": DEMO_OPEN311_KEY}).json()
    assert mine[0]["description"] == text and mine[0]["address"] == "静安区某路8号"
    assert mine[0]["media_url"] == "https://example.org/m.jpg"
    assert (mine[0]["long"], mine[0]["lat"]) == (lon, lat)
    assert mine[0]["attributes"] == [
        {"code": "impact", "value": "traffic"},
        {"code": "urgency", "value": "high"},
    ]
    paged = client.list_requests(service_code="manhole_cover", page_size=2)
    assert 0 < len(paged) <= 2


def test_civicbot_posts_in_xml_and_the_poster_reads_it_back(base: str, database_url: str) -> None:
    lon, lat = a_point(database_url, 8)
    checker = civicbot(base)
    services = checker.list_services()
    definition = checker.get_service_definition("garbage_overflow")
    client = civicbot(base, "xml")
    text = f"垃圾满溢 <{uuid.uuid4().hex[:8]}> & more"
    sent = client.create_request(
        "garbage_overflow",
        dry_run=False,
        confirm="SEND",
        api_key=DEMO_OPEN311_KEY,
        known_services=services,
        definition=definition,
        lat=lat,
        lng=lon,
        description=text,
        attributes={"impact": ["safety", "recurring"]},
    )
    assert sent.url.endswith("/requests.xml")
    created = sent.response["service_requests"]["request"]
    sid = created["service_request_id"]
    assert created["service_notice"] and created["account_id"] is None

    public = GeoReport(base, output_format="xml").get_service_request(sid)
    assert public["service_code"] == "garbage_overflow" and public["description"] is None
    raw = httpx.get(f"{base}/requests/{sid}.xml", params={"api_key": DEMO_OPEN311_KEY})
    assert raw.headers["content-type"] == "text/xml; charset=utf-8"
    record = ET.fromstring(raw.content).find("request")  # noqa: S314 - our server's answer
    assert record is not None and record.findtext("description") == text
    assert [(a.findtext("code"), a.findtext("value")) for a in record.iter("attribute")] == [
        ("impact", "safety"),
        ("impact", "recurring"),
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_civicbot_sees_401_and_403_in_the_specs_error_format(
    base: str, database_url: str, fmt: str
) -> None:
    lon, lat = a_point(database_url, 9)
    client = civicbot(base, fmt)
    rightless = partner_key(database_url, f"read-only {fmt}")
    for key, status in ((rightless, 403), ("not-a-key", 401)):
        with pytest.raises(HttpError) as refused:
            client.create_request(
                "road_damage",
                dry_run=False,
                confirm="SEND",
                api_key=key,
                lat=lat,
                lng=lon,
                description="x",
            )
        assert refused.value.status == status
        if fmt == "json":
            (error,) = httpx.Response(status, text=refused.value.body).json()
        else:
            error = xmltodict.parse(refused.value.body)["errors"]["error"]
        assert int(error["code"]) == status and error["description"]
