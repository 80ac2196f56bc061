"""Open311 GeoReport v2 in XML, checked with an XML parser element by element: the spec's
shapes (``services/service``, ``service_definition/attributes/attribute/values/value``,
``service_requests/request``, ``errors/error``), the same values as the JSON documents, errors
with the right HTTP status, and text a posted request carries (markup characters, a control
character) rendered as well-formed XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from starlette.testclient import TestClient

from seed.catalogue import DEMO_OPEN311_KEY
from tests.mobile_helpers import a_point
from tests.test_open311 import BASE, partner_key

SERVICE = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
ATTRIBUTE = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]
#: A request's elements in the spec's order (GET Service Requests).
REQUEST = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


def xml_of(r: Any, status: int, root: str) -> ET.Element:
    """The response parsed as XML: status, the spec's media type and declaration, root tag."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    # Our own server's answer in a test; ElementTree refuses external entities anyway.
    element = ET.fromstring(r.content)  # noqa: S314
    assert element.tag == root
    return element


def tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def text(value: Any) -> str | None:
    """A JSON value as the XML element's text: null (or "") is an empty element."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def xml_error(r: Any, status: int) -> str:
    (error,) = xml_of(r, status, "errors")
    assert error.tag == "error" and tags(error) == ["code", "description"]
    assert error.findtext("code") == str(status)
    return error.findtext("description") or ""


def test_services_and_a_definition_in_the_specs_shape(client: TestClient) -> None:
    services = xml_of(client.get(f"{BASE}/services.xml"), 200, "services")
    as_json = client.get(f"{BASE}/services.json").json()
    assert len(services) == len(as_json) > 0
    for element, service in zip(services, as_json, strict=True):
        assert element.tag == "service" and tags(element) == SERVICE
        assert [e.text for e in element] == [text(service[k]) for k in SERVICE]
    definition = xml_of(client.get(f"{BASE}/services/road_damage.xml"), 200, "service_definition")
    assert tags(definition) == ["service_code", "attributes"]
    attributes = definition.find("attributes")
    assert attributes is not None and set(tags(attributes)) == {"attribute"}
    wanted = client.get(f"{BASE}/services/road_damage.json").json()["attributes"]
    for element, attribute in zip(attributes, wanted, strict=True):
        assert tags(element) == ATTRIBUTE
        assert [e.text for e in element][:-1] == [text(attribute[k]) for k in ATTRIBUTE[:-1]]
        values = element.find("values")
        assert values is not None
        assert [(v.findtext("key"), v.findtext("name")) for v in values] == [
            (v["key"], v["name"]) for v in attribute["values"]
        ]
        assert all(tags(v) == ["key", "name"] for v in values)
    urgency = next(a for a in attributes if a.findtext("code") == "urgency")
    assert [v.findtext("key") for v in urgency.iter("value")] == ["low", "normal", "high", "urgent"]
    discovery = xml_of(client.get(f"{BASE}/discovery.xml"), 200, "discovery")
    formats = discovery.find("endpoints/endpoint/formats")
    assert formats is not None and [f.text for f in formats] == ["text/xml", "application/json"]


def test_requests_list_in_the_specs_shape(client: TestClient) -> None:
    listed = xml_of(
        client.get(f"{BASE}/requests.xml", params={"page_size": 50}), 200, "service_requests"
    )
    as_json = client.get(f"{BASE}/requests.json", params={"page_size": 50}).json()
    assert len(listed) == len(as_json) == 50
    for element, request in zip(listed, as_json, strict=True):
        assert element.tag == "request" and tags(element) == REQUEST
        assert [e.text for e in element] == [text(request[k]) for k in REQUEST]
    # Public records: the description, address and media are empty elements.
    assert all(
        r.find("description") is not None and r.findtext("description") == "" for r in listed
    )


def test_posting_and_reading_back_in_xml(client: TestClient, database_url: str) -> None:
    lon, lat = a_point(database_url, 5)
    description = 'Kerb <b>"broken"</b> & \x01loose'
    form = {
        "api_key": DEMO_OPEN311_KEY,
        "service_code": "street_light",
        "lat": lat,
        "long": lon,
        "description": description,
        "attribute[impact][]": ["safety"],
        "address_string": "A & B 路口",
    }
    created = xml_of(client.post(f"{BASE}/requests.xml", data=form), 201, "service_requests")
    (request,) = created
    assert tags(request) == ["service_request_id", "service_notice", "account_id"]
    sid = request.findtext("service_request_id")
    assert sid and "72 hours" in (request.findtext("service_notice") or "")
    assert request.find("account_id") is not None and request.findtext("account_id") == ""

    mine = xml_of(
        client.get(f"{BASE}/requests/{sid}.xml", params={"api_key": DEMO_OPEN311_KEY}),
        200,
        "service_requests",
    )
    (record,) = mine
    assert tags(record) == [*REQUEST, "attributes"]
    # Markup arrives as text; a character XML cannot carry arrives as U+FFFD.
    assert record.findtext("description") == description.replace("\x01", "\ufffd")
    assert record.findtext("address") == "A & B 路口"
    assert (float(record.findtext("long") or 0), float(record.findtext("lat") or 0)) == (lon, lat)
    attributes = record.find("attributes")
    assert attributes is not None
    assert [(a.findtext("code"), a.findtext("value")) for a in attributes] == [("impact", "safety")]
    public = xml_of(client.get(f"{BASE}/requests/{sid}.xml"), 200, "service_requests")
    assert tags(public[0]) == REQUEST and public[0].findtext("description") == ""


@pytest.mark.parametrize(
    ("method", "path", "form", "status", "says"),
    [
        ("GET", "/services/dragons.xml", None, 404, "No service 'dragons'"),
        ("GET", "/services.xml?jurisdiction_id=elsewhere.gov", None, 404, "jurisdiction_id"),
        ("GET", "/requests/nope.xml", None, 404, "No service request"),
        ("GET", "/requests.xml?start_date=soon", None, 400, "W3C"),
        ("GET", "/tokens/abc.xml", None, 404, "realtime"),
        ("DELETE", "/requests.xml", None, 405, "Method Not Allowed"),
        ("POST", "/requests.xml", {"service_code": "road_damage"}, 401, "api_key"),
        ("POST", "/requests.xml", {"api_key": "nope"}, 401, "Unknown or revoked"),
        ("POST", "/requests.xml", {"api_key": "rightless"}, 403, "not been granted"),
        ("POST", "/requests.xml", {"api_key": DEMO_OPEN311_KEY}, 400, "service_code is required"),
        (
            "POST",
            "/requests.xml",
            {"api_key": DEMO_OPEN311_KEY, "service_code": "road_damage", "lat": "x"},
            400,
            "lat and long",
        ),
    ],
)
def test_errors_in_xml(
    client: TestClient,
    database_url: str,
    method: str,
    path: str,
    form: dict[str, str] | None,
    status: int,
    says: str,
) -> None:
    if form and form.get("api_key") == "rightless":
        form = {**form, "api_key": partner_key(database_url, "rightless partner")}
    r = client.request(method, f"{BASE}{path}", data=form)
    assert says in xml_error(r, status)
