"""Open311 GeoReport v2 (JSON) as a partner city system uses it: discovery, services and their
attributes, posting a request with an api_key (a routed case), reading requests back (the
public record of ``cases_public`` for everyone, never a sensitive case), filters, the 90-day
window, and Open311's error format."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from seed.catalogue import DEMO_OPEN311_KEY
from tests.mobile_helpers import a_point, public_case, seeded

BASE = "/open311/v2"


def _is_open311_error(r: object, status: int) -> None:
    assert r.status_code == status  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert isinstance(body, list) and body[0]["code"] == status and body[0]["description"]


def test_discovery_and_services(client: TestClient) -> None:
    disco = client.get(f"{BASE}/discovery.json").json()
    assert disco["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    services = client.get(f"{BASE}/services.json").json()
    codes = {s["service_code"] for s in services}
    assert "road_damage" in codes and len(codes) >= 10
    assert all({"service_code", "service_name", "metadata", "type", "group"} <= set(s)
               for s in services)  # fmt: skip
    attrs = client.get(f"{BASE}/services/road_damage.json").json()
    assert attrs["service_code"] == "road_damage"
    assert attrs["attributes"][0]["code"] == "urgency"
    assert {v["key"] for v in attrs["attributes"][0]["values"]} == {"normal", "high", "urgent"}
    _is_open311_error(client.get(f"{BASE}/services/dragons.json"), 404)
    _is_open311_error(client.get(f"{BASE}/services.xml"), 404)
    _is_open311_error(client.get(f"{BASE}/services.json", params={"jurisdiction_id": "x"}), 404)


def test_posting_a_request_creates_a_routed_case(client: TestClient, database_url: str) -> None:
    lon, lat = a_point(database_url, 11)
    text = f"井盖缺失 {uuid.uuid4().hex[:8]}"
    form = {"api_key": DEMO_OPEN311_KEY, "service_code": "manhole_cover", "lat": lat,
            "long": lon, "description": text, "attribute[urgency]": "urgent",
            "email": "someone@example.org", "phone": "13912345678",
            "media_url": "https://example.org/p.jpg"}  # fmt: skip
    r = client.post(f"{BASE}/requests.json", data=form)
    assert r.status_code == 201, r.text
    (created,) = r.json()
    sid = created["service_request_id"]
    source, priority, dept = seeded(
        database_url, "SELECT c.source, c.priority, d.code FROM cases c JOIN departments d "
        "ON d.id = c.department_id WHERE c.public_id = %s", sid,
    )  # fmt: skip
    routed = seeded(database_url, "SELECT d.code FROM case_categories c JOIN departments d ON "
                    "d.id = c.department_id WHERE c.code = 'manhole_cover'")  # fmt: skip
    assert (source, priority, dept) == ("hotline", "urgent", routed)
    # Personal fields a partner sent are not kept anywhere.
    kept = seeded(database_url, "SELECT count(*) FROM open311_requests WHERE attributes::text "
                  "LIKE '%%example.org%%' OR attributes::text LIKE '%%13912345678%%'")  # fmt: skip
    assert kept == 0
    public = client.get(f"{BASE}/requests/{sid}.json").json()[0]
    assert public["status"] == "open" and public["service_code"] == "manhole_cover"
    assert public["description"] is None and public["address"] is None
    assert public["media_url"] is None
    _is_the_public_record(database_url, public)
    # An api_key opens nothing more: GET is the public record for everyone.
    partner = client.get(f"{BASE}/requests/{sid}.json", params={"api_key": DEMO_OPEN311_KEY})
    assert partner.json() == [public]


def _is_the_public_record(database_url: str, request: dict[str, object]) -> None:
    """Position and hour exactly as ``cases_public`` has them (no other rounding)."""
    status, at, lon, lat = public_case(database_url, str(request["service_request_id"]))
    assert (request["long"], request["lat"]) == (lon, lat)
    assert datetime.fromisoformat(str(request["requested_datetime"])) == at
    assert request["status"] == ("closed" if status in ("closed", "rejected") else "open")


def test_sensitive_cases_are_not_requests(client: TestClient, database_url: str) -> None:
    sensitive = seeded(database_url, "SELECT public_id FROM cases WHERE category = "
                       "'elderly_help' ORDER BY reported_at DESC LIMIT 1")  # fmt: skip
    _is_open311_error(client.get(f"{BASE}/requests/{sensitive}.json"), 404)
    listed = client.get(f"{BASE}/requests.json", params={"service_code": "elderly_help"})
    assert listed.status_code == 200 and listed.json() == []
    everything = client.get(f"{BASE}/requests.json").json()
    assert "elderly_help" not in {r["service_code"] for r in everything}
    assert sensitive not in {r["service_request_id"] for r in everything}


@pytest.mark.parametrize(
    ("form", "status"),
    [({"service_code": "road_damage", "lat": 31.2, "long": 121.47}, 401),
     ({"api_key": "wrong", "service_code": "road_damage", "lat": 31.2, "long": 121.47}, 401),
     ({"api_key": DEMO_OPEN311_KEY, "service_code": "road_damage",
       "address_string": "某路1号"}, 400),
     ({"api_key": DEMO_OPEN311_KEY, "service_code": "dragons", "lat": 31.2, "long": 121.47}, 400),
     ({"api_key": DEMO_OPEN311_KEY, "service_code": "road_damage", "lat": 39.9,
       "long": 116.4}, 422),
     ({"api_key": DEMO_OPEN311_KEY, "service_code": "road_damage", "lat": 31.2, "long": 121.47,
       "attribute[urgency]": "panic"}, 400),
     ({"api_key": DEMO_OPEN311_KEY, "service_code": "road_damage", "lat": 31.2, "long": 121.47,
       "description": "x" * 4001}, 400)],
)  # fmt: skip
def test_bad_posts_get_open311_errors(client: TestClient, form: dict[str, object],
                                      status: int) -> None:  # fmt: skip
    _is_open311_error(client.post(f"{BASE}/requests.json", data=form), status)


def test_listing_requests_filters_and_windows(client: TestClient, database_url: str) -> None:
    everything = client.get(f"{BASE}/requests.json").json()
    assert 0 < len(everything) <= 1000
    newest_first = [r["requested_datetime"] for r in everything]
    assert newest_first == sorted(newest_first, reverse=True)
    assert all(r["description"] is None and r["address"] is None for r in everything)
    for request in everything[:20]:
        _is_the_public_record(database_url, request)
    road = client.get(f"{BASE}/requests.json", params={"service_code": "road_damage"}).json()
    assert road and {r["service_code"] for r in road} == {"road_damage"}
    closed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert all(r["status"] == "closed" for r in closed)
    ids = [r["service_request_id"] for r in everything[:2]]
    picked = client.get(f"{BASE}/requests.json", params={"service_request_id": ",".join(ids)})
    assert sorted(r["service_request_id"] for r in picked.json()) == sorted(ids)
    now = datetime.now(UTC)
    too_long = {"start_date": (now - timedelta(days=120)).isoformat(), "end_date": now.isoformat()}
    _is_open311_error(client.get(f"{BASE}/requests.json", params=too_long), 400)
    _is_open311_error(client.get(f"{BASE}/requests.json", params={"start_date": "soon"}), 400)
    old = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00Z"}
    assert client.get(f"{BASE}/requests.json", params=old).json() == []
    _is_open311_error(client.get(f"{BASE}/requests/nope.json"), 404)
