"""Open311 GeoReport v2 (JSON) as a partner city system uses it: discovery, services and their
definitions, posting a request with an api_key (a routed case), the poster reading it back in
full while everyone else reads the public record of ``cases_public``, statuses following the
case workflow, the key's rights (401/403), filters, paging and Open311's error format.

XML is checked element by element in ``test_open311_xml.py``; third-party Open311 clients
against a running server in ``test_open311_clients.py``."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from seed.catalogue import DEMO_OPEN311_KEY
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import a_point, auth, public_case, seeded, user_with_role

BASE = "/open311/v2"


def open311_error(r: Any, status: int) -> str:
    """The response is GeoReport's JSON error document with ``status``; its description."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    (body,) = r.json()
    assert body["code"] == status and body["description"]
    return str(body["description"])


def partner_key(database_url: str, partner: str, *rights: str) -> str:
    """A new live api_key for ``partner`` granted ``rights`` (as the operators issue one)."""
    key = f"test-{uuid.uuid4().hex}"
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO open311_api_keys (partner, key_hash, capabilities) VALUES (%s, %s, %s)",
            (partner, hashlib.sha256(key.encode()).hexdigest(), list(rights)),
        )
    return key


def post_request(client: TestClient, database_url: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    """A posted request's id and the form that made it (a unique description)."""
    lon, lat = a_point(database_url, 11)
    form = {
        "api_key": DEMO_OPEN311_KEY,
        "service_code": "road_damage",
        "lat": lat,
        "long": lon,
        "description": f"路面塌陷 {uuid.uuid4().hex[:8]}",
        **extra,
    }
    r = client.post(f"{BASE}/requests.json", data=form)
    assert r.status_code == 201, r.text
    (created,) = r.json()
    return created["service_request_id"], form


def test_discovery_services_and_definitions(client: TestClient, database_url: str) -> None:
    disco = client.get(f"{BASE}/discovery.json").json()
    assert disco["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(disco["endpoints"][0]["formats"]) == {"text/xml", "application/json"}
    services = client.get(f"{BASE}/services.json", params={"jurisdiction_id": "onemap.demo"})
    codes = {s["service_code"] for s in services.json()}
    reportable = seeded(
        database_url, "SELECT array_agg(code) FROM case_categories WHERE citizen_reportable"
    )
    assert codes == set(reportable) and "road_damage" in codes
    road = next(s for s in services.json() if s["service_code"] == "road_damage")
    assert road["service_name"] == "道路破损 / Road Damage" and road["metadata"] is True
    assert road["type"] == "realtime" and "交通" in road["group"]
    definition = client.get(f"{BASE}/services/road_damage.json").json()
    assert definition["service_code"] == "road_damage"
    by_code = {a["code"]: a for a in definition["attributes"]}
    assert [a["order"] for a in definition["attributes"]] == [1, 2, 3, 4]
    # How the service is handled is information derived from its category (48 hours).
    handling = by_code["handling"]
    assert handling["variable"] is False and "48" in handling["description"]
    urgency = by_code["urgency"]
    assert urgency["datatype"] == "singlevaluelist" and urgency["required"] is False
    assert [v["key"] for v in urgency["values"]] == ["low", "normal", "high", "urgent"]
    assert by_code["observed_at"]["datatype"] == "datetime"
    assert by_code["impact"]["datatype"] == "multivaluelist"
    assert all(
        {
            "variable",
            "code",
            "datatype",
            "required",
            "datatype_description",
            "order",
            "description",
            "values",
        }
        <= set(a)
        for a in definition["attributes"]
    )
    assert (
        "no service 'dragons'"
        in open311_error(client.get(f"{BASE}/services/dragons.json"), 404).lower()
    )
    open311_error(client.get(f"{BASE}/services.csv"), 404)
    open311_error(client.get(f"{BASE}/tokens/123.json"), 404)
    wrong = client.get(f"{BASE}/services.json", params={"jurisdiction_id": "elsewhere.gov"})
    assert "onemap.demo" in open311_error(wrong, 404)


def test_the_poster_reads_back_what_it_sent_and_the_public_reads_the_record(
    client: TestClient, database_url: str
) -> None:
    seen = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    sid, form = post_request(
        client,
        database_url,
        address_string="黄浦区南京东路100号",
        media_url="https://x.org/a.jpg",
        email="someone@example.org",
        phone="13912345678",
        first_name="小明",
        last_name="王",
        device_id="dev-42",
        account_id="acct-42",
        **{
            "attribute[urgency]": "urgent",
            "attribute[observed_at]": seen.isoformat(),
            "attribute[impact][]": ["safety", "traffic"],
        },
    )
    source, priority, dept = seeded(
        database_url,
        "SELECT c.source, c.priority, d.name_zh || ' / ' || d.name_en FROM cases c "
        "JOIN departments d ON d.id = c.department_id WHERE c.public_id = %s",
        sid,
    )
    assert (source, priority) == ("hotline", "urgent")
    # Personal fields a partner sent are not kept anywhere.
    kept = seeded(
        database_url,
        "SELECT count(*) FROM cases c JOIN open311_requests o ON "
        "o.case_id = c.id WHERE concat(c.description, c.address, o.attributes::text, "
        "o.media_url) ~ '(example\\.org|13912345678|小明|dev-42|acct-42)'",
    )
    assert kept == 0

    mine = client.get(f"{BASE}/requests/{sid}.json", params={"api_key": DEMO_OPEN311_KEY})
    (record,) = mine.json()
    assert record["description"] == form["description"]
    assert (
        record["address"] == "黄浦区南京东路100号" and record["media_url"] == "https://x.org/a.jpg"
    )
    assert (record["long"], record["lat"]) == (form["long"], form["lat"])
    assert record["attributes"] == [
        {"code": "impact", "value": "traffic"},
        {"code": "impact", "value": "safety"},
        {"code": "observed_at", "value": seen.isoformat()},
        {"code": "urgency", "value": "urgent"},
    ]
    assert record["status"] == "open" and "Received" in record["status_notes"]
    assert record["agency_responsible"] == dept and "48 hours" in record["service_notice"]
    assert record["expected_datetime"] is None  # due once dispatched
    assert not {"email", "phone", "first_name", "device_id", "account_id"} & set(record)

    public = client.get(f"{BASE}/requests/{sid}.json").json()[0]
    assert public["description"] is None and public["address"] is None
    assert public["media_url"] is None and "attributes" not in public
    assert public["expected_datetime"] is None and public["updated_datetime"] is None
    assert public["status"] == "open" and public["agency_responsible"] == dept
    is_the_public_record(database_url, public)
    # Another partner's key opens nothing more: only the poster reads its request in full.
    other = partner_key(database_url, "other partner", "create_cases")
    assert client.get(f"{BASE}/requests/{sid}.json", params={"api_key": other}).json() == [public]


def is_the_public_record(database_url: str, request: dict[str, Any]) -> None:
    """Position and hour exactly as ``cases_public`` has them (no other rounding)."""
    status, at, lon, lat = public_case(database_url, str(request["service_request_id"]))
    assert (request["long"], request["lat"]) == (lon, lat)
    assert datetime.fromisoformat(str(request["requested_datetime"])) == at
    assert request["status"] == ("closed" if status in ("closed", "rejected") else "open")


FLOW = """
mutation Dispatch($id: ID!) { dispatchCase(id: $id) { __typename ... on CaseError { message } } }
mutation Start($id: ID!) { startCase(id: $id) { __typename ... on CaseError { message } } }
mutation Resolve($id: ID!) { resolveCase(id: $id, note: "已修复") {
  __typename ... on CaseError { message } } }
mutation Close($id: ID!) { closeCase(id: $id) { __typename ... on CaseError { message } } }
mutation Duplicate($id: ID!, $original: ID!) { markDuplicate(id: $id, originalId: $original) {
  __typename ... on CaseError { message } } }
"""


def test_statuses_follow_the_case_workflow(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    """The command centre moves the case through GraphQL; Open311 readers see each step."""
    sid, _ = post_request(client, database_url)
    case_id = seeded(database_url, "SELECT id FROM cases WHERE public_id = %s", sid)
    dispatcher = auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")

    def step(name: str, **variables: Any) -> None:
        r = client.post(
            "/graphql",
            headers=dispatcher,
            json={
                "query": FLOW,
                "operationName": name,
                "variables": {"id": str(case_id), **variables},
            },
        )
        assert next(iter(r.json()["data"].values()))["__typename"] == "CasePayload", r.text

    def read(**params: str) -> dict[str, Any]:
        return dict(client.get(f"{BASE}/requests/{sid}.json", params=params).json()[0])

    step("Dispatch")
    due, dept = seeded(
        database_url,
        "SELECT c.due_at, d.name_zh || ' / ' || d.name_en FROM cases "
        "c JOIN departments d ON d.id = c.department_id WHERE c.id = %s",
        case_id,
    )
    mine = read(api_key=DEMO_OPEN311_KEY)
    assert mine["status"] == "open" and "Dispatched" in mine["status_notes"]
    assert datetime.fromisoformat(mine["expected_datetime"]) == due.replace(microsecond=0)
    assert mine["agency_responsible"] == dept
    assert read()["expected_datetime"] is None and "Dispatched" in read()["status_notes"]
    step("Start")
    assert "Being handled" in read()["status_notes"]
    step("Resolve")
    assert (
        read()["status"] == "open" and "awaiting the dispatcher's check" in read()["status_notes"]
    )
    step("Close")
    closed_at = seeded(database_url, "SELECT closed_at FROM cases WHERE id = %s", case_id)
    mine, public = read(api_key=DEMO_OPEN311_KEY), read()
    assert mine["status"] == public["status"] == "closed" and "Closed" in mine["status_notes"]
    assert datetime.fromisoformat(mine["updated_datetime"]) == closed_at.replace(microsecond=0)
    # The public record closes to the hour, like everything it shows.
    assert datetime.fromisoformat(public["updated_datetime"]) == closed_at.replace(
        minute=0, second=0, microsecond=0
    )

    again, _ = post_request(client, database_url)
    again_id = seeded(database_url, "SELECT id FROM cases WHERE public_id = %s", again)
    step("Duplicate", id=str(again_id), original=str(case_id))
    duplicate = client.get(f"{BASE}/requests/{again}.json", params={"api_key": DEMO_OPEN311_KEY})
    assert duplicate.json()[0]["status"] == "closed"
    assert "Duplicate" in duplicate.json()[0]["status_notes"]
    open311_error(client.get(f"{BASE}/requests/{again}.json"), 404)  # duplicates are not public


def test_a_rejected_case_reads_as_closed_and_not_accepted(
    client: TestClient, database_url: str
) -> None:
    rejected = seeded(
        database_url,
        "SELECT public_id FROM cases_public WHERE status = 'rejected' "
        "ORDER BY reported_at DESC LIMIT 1",
    )
    (record,) = client.get(f"{BASE}/requests/{rejected}.json").json()
    assert record["status"] == "closed" and "Not accepted" in record["status_notes"]


def test_a_key_without_the_right_is_refused_with_403(client: TestClient, database_url: str) -> None:
    """A live key not granted posting (here: a partner whose right was withdrawn) gets 403; no
    key or an unknown one 401. The key still reads back the requests it posted before."""
    key = partner_key(database_url, "withdrawn partner", "create_cases")
    sid, form = post_request(client, database_url, api_key=key)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE open311_api_keys SET capabilities = '{}' WHERE key_hash = %s",
            (hashlib.sha256(key.encode()).hexdigest(),),
        )
    refused = client.post(f"{BASE}/requests.json", data=form)
    assert "not been granted 'create_cases'" in open311_error(refused, 403)
    mine = client.get(f"{BASE}/requests/{sid}.json", params={"api_key": key}).json()[0]
    assert mine["description"] == form["description"]
    no_key = client.post(f"{BASE}/requests.json", data={**form, "api_key": ""})
    assert "api_key" in open311_error(no_key, 401)
    unknown = client.post(f"{BASE}/requests.json", data={**form, "api_key": "nope"})
    assert "Unknown or revoked" in open311_error(unknown, 401)
    open311_error(client.get(f"{BASE}/requests.json", params={"api_key": "nope"}), 401)


def test_sensitive_cases_are_not_requests(client: TestClient, database_url: str) -> None:
    sensitive = seeded(
        database_url,
        "SELECT public_id FROM cases WHERE category = "
        "'elderly_help' ORDER BY reported_at DESC LIMIT 1",
    )
    open311_error(client.get(f"{BASE}/requests/{sensitive}.json"), 404)
    listed = client.get(f"{BASE}/requests.json", params={"service_code": "elderly_help"})
    assert listed.status_code == 200 and listed.json() == []
    everything = client.get(f"{BASE}/requests.json").json()
    assert "elderly_help" not in {r["service_code"] for r in everything}
    assert sensitive not in {r["service_request_id"] for r in everything}


NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"service_code": ""}, 400, "service_code is required"),
        ({"service_code": "dragons"}, 404, "Unknown service_code 'dragons'"),
        ({"jurisdiction_id": "elsewhere.gov"}, 404, "jurisdiction_id"),
        ({"lat": "", "long": "", "address_string": "某路1号"}, 400, "surely enough"),
        ({"lat": "", "long": ""}, 400, "lat and long are required"),
        ({"lat": "NaN", "long": "inf"}, 400, "finite"),
        ({"lat": 39.9, "long": 116.4}, 400, "outside the city"),
        ({"attribute[urgency]": "panic"}, 400, "attribute[urgency] must be one of low"),
        ({"attribute[urgency][]": ["high", "urgent"]}, 400, "takes one value"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour] is not an input"),
        ({"attribute[handling]": "fast"}, 400, "attribute[handling] is not an input"),
        ({"attribute[impact][]": ["traffic", "noise"]}, 400, "got 'noise'"),
        ({"attribute[observed_at]": "yesterday"}, 400, "W3C date-time"),
        ({"attribute[observed_at]": (NOW + timedelta(days=1)).isoformat()}, 400, "future"),
        ({"description": "x" * 4001}, 400, "at most 4000"),
        ({"media_url": "ftp://x.org/a.jpg"}, 400, "media_url must be an http(s) URL"),
    ],
)
def test_bad_posts_get_open311_errors(
    client: TestClient, database_url: str, form: dict[str, Any], status: int, says: str
) -> None:
    lon, lat = a_point(database_url, 3)
    full = {
        "api_key": DEMO_OPEN311_KEY,
        "service_code": "road_damage",
        "lat": lat,
        "long": lon,
        **form,
    }
    assert says in open311_error(client.post(f"{BASE}/requests.json", data=full), status)


def test_a_post_must_be_a_form(client: TestClient, database_url: str) -> None:
    lon, lat = a_point(database_url, 3)
    body = {"api_key": DEMO_OPEN311_KEY, "service_code": "road_damage", "lat": lat, "long": lon}
    as_json = client.post(f"{BASE}/requests.json", json=body)
    assert "application/x-www-form-urlencoded" in open311_error(as_json, 400)
    elsewhere = client.post(f"{BASE}/requests.json?jurisdiction_id=elsewhere.gov", data=body)
    assert "elsewhere.gov" in open311_error(elsewhere, 404)


def test_listing_filters_and_windows(client: TestClient, database_url: str) -> None:
    everything = client.get(f"{BASE}/requests.json").json()
    assert 0 < len(everything) <= 1000
    newest_first = [r["requested_datetime"] for r in everything]
    assert newest_first == sorted(newest_first, reverse=True)
    public = [r for r in everything if "attributes" not in r]
    assert public and all(r["description"] is None and r["address"] is None for r in public)
    for request in public[:20]:
        is_the_public_record(database_url, request)
    road = client.get(f"{BASE}/requests.json", params={"service_code": "road_damage"}).json()
    assert road and {r["service_code"] for r in road} == {"road_damage"}
    closed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    opened = client.get(f"{BASE}/requests.json", params={"status": "open"}).json()
    assert closed and {r["status"] for r in closed} == {"closed"}
    assert opened and {r["status"] for r in opened} == {"open"}
    both = client.get(f"{BASE}/requests.json", params={"status": "open,closed"}).json()
    assert len(both) == len(everything)
    ids = [r["service_request_id"] for r in everything[:2]]
    picked = client.get(
        f"{BASE}/requests.json",
        params={"service_request_id": ",".join(ids), "service_code": "nothing"},
    )
    assert sorted(r["service_request_id"] for r in picked.json()) == sorted(ids)  # ids override
    too_long = {"start_date": (NOW - timedelta(days=120)).isoformat(), "end_date": NOW.isoformat()}
    assert "0 to 90 days" in open311_error(
        client.get(f"{BASE}/requests.json", params=too_long), 400
    )
    assert "W3C" in open311_error(
        client.get(f"{BASE}/requests.json", params={"start_date": "soon"}), 400
    )
    open311_error(client.get(f"{BASE}/requests.json", params={"end_date": "0001-01-02"}), 400)
    open311_error(client.get(f"{BASE}/requests.json", params={"status": "pending"}), 400)
    old = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00Z"}
    assert client.get(f"{BASE}/requests.json", params=old).json() == []
    # One date given: the window runs 90 days from it.
    since = (NOW - timedelta(days=3)).isoformat()
    recent = client.get(f"{BASE}/requests.json", params={"start_date": since}).json()
    assert recent and all(r["requested_datetime"] >= since[:13] for r in recent)
    open311_error(client.get(f"{BASE}/requests/nope.json"), 404)


def test_paging_visits_every_request_once(client: TestClient) -> None:
    everything = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json").json()]
    size = max(1, len(everything) // 3 + 1)
    seen: list[str] = []
    url: str | None = f"{BASE}/requests.json?page_size={size}"
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        seen += [x["service_request_id"] for x in r.json()]
        pages += 1
        nxt = [p for p in r.headers.get("link", "").split(", ") if p.endswith('rel="next"')]
        url = nxt[0][1 : nxt[0].index(">")] if nxt else None
    assert seen == everything and pages == 3
    assert (
        'rel="prev"' in client.get(f"{BASE}/requests.json?page=2&page_size={size}").headers["link"]
    )
    for bad in ({"page": "0"}, {"page_size": "1001"}, {"page": "x"}, {"page": "²"}):
        assert "whole number" in open311_error(client.get(f"{BASE}/requests.json", params=bad), 400)
