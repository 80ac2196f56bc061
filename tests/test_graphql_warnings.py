"""Warnings in GraphQL (issue 16 item 5): officers issue, update and cancel; everyone else gets
a typed error and nothing is written; ``warnings(active:)`` follows the chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, key, user_with_role
from tests.warning_helpers import count_warnings, inside_facility, new_user, square

FIELDS = (
    "identifier msgType status references replacedBy active severity urgency info "
    "{ language headline } area capUrl"
)
ISSUE = f"""mutation ($input: WarningInput!) {{ issueWarning(input: $input) {{ {FIELDS} }} }}"""
UPDATE = f"""mutation ($id: String!, $input: WarningInput!) {{
  updateWarning(identifier: $id, input: $input) {{ {FIELDS} }} }}"""
CANCEL = f"""mutation ($id: String!) {{
  cancelWarning(identifier: $id, note: "Eased. 雨势减弱。") {{ {FIELDS} }} }}"""
LIST = (
    "query ($active: Boolean) { warnings(active: $active, first: 100) { identifier replacedBy } }"
)


def warning_input(ring: list[list[float]], **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    tag = key()[:6]
    given: dict[str, Any] = {
        "category": "MET",
        "urgency": "EXPECTED",
        "severity": "SEVERE",
        "certainty": "LIKELY",
        "expires": (now + timedelta(hours=3)).isoformat(),
        "info": [
            {
                "language": "zh-CN",
                "event": "大风",
                "headline": f"大风蓝色预警 {tag}",
                "description": "阵风可达8级。",
                "instruction": "加固临时搭建物。",
            },
            {
                "language": "en-US",
                "event": "Gale",
                "headline": f"Blue gale warning {tag}",
                "description": "Gusts up to force 8.",
                "instruction": "Secure loose structures.",
            },
        ],
        "areaDesc": "测试区域 / Test area",
        "area": {"type": "Polygon", "coordinates": [ring]},
    }
    given.update(changes)
    return given


def gql(client: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    r = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def listed(client: TestClient, headers: dict[str, str], active: bool) -> dict[str, Any]:
    answer = gql(client, headers, LIST, active=active)
    assert "errors" not in answer, answer
    return {w["identifier"]: w for w in answer["data"]["warnings"]}


@pytest.fixture(scope="module")
def ring(database_url: str) -> list[list[float]]:
    _, lon, lat = inside_facility(database_url, offset=11)
    return square(lon, lat)


@pytest.fixture(scope="module")
def officer(database_url: str, tokens: TokenService) -> dict[str, str]:
    return auth(tokens, new_user(database_url, "warning_officer"), "warning_officer")


def test_an_officer_issues_updates_and_cancels(
    client: TestClient, officer: dict[str, str], ring: list[list[float]]
) -> None:
    given = warning_input(ring)
    answer = gql(client, officer, ISSUE, input=given)
    assert answer.get("data"), answer
    first = answer["data"]["issueWarning"]
    assert first["msgType"] == "Alert" and first["active"] is True
    assert [i["headline"] for i in first["info"]] == [b["headline"] for b in given["info"]]
    assert first["area"]["type"] == "MultiPolygon"
    assert first["area"]["coordinates"][0][0] == [pytest.approx(p) for p in ring]

    second = gql(
        client,
        officer,
        UPDATE,
        id=first["identifier"],
        input=warning_input(ring, severity="EXTREME"),
    )["data"]["updateWarning"]
    assert second["references"] == first["identifier"] and second["severity"] == "EXTREME"

    active = listed(client, {}, True)
    assert second["identifier"] in active and first["identifier"] not in active
    old = listed(client, {}, False)
    assert old[first["identifier"]]["replacedBy"] == second["identifier"]

    third = gql(client, officer, CANCEL, id=second["identifier"])["data"]["cancelWarning"]
    assert third["msgType"] == "Cancel" and third["references"] == second["identifier"]
    assert third["active"] is False
    active = listed(client, {}, True)
    assert not set(active) & {first["identifier"], second["identifier"], third["identifier"]}

    again = gql(client, officer, CANCEL, id=second["identifier"])
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"


@pytest.mark.parametrize("role", ["citizen", "dispatcher"])
def test_others_get_a_typed_error_and_nothing_is_written(
    client: TestClient,
    database_url: str,
    tokens: TokenService,
    ring: list[list[float]],
    role: str,
) -> None:
    before = count_warnings(database_url)
    headers = auth(tokens, user_with_role(database_url, role), role)
    answer = gql(client, headers, ISSUE, input=warning_input(ring))
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "issue_warnings" in answer["errors"][0]["message"]
    anonymous = gql(client, {}, ISSUE, input=warning_input(ring))
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert count_warnings(database_url) == before


def test_bad_input_is_a_typed_error_and_nothing_is_written(
    client: TestClient, database_url: str, officer: dict[str, str], ring: list[list[float]]
) -> None:
    no_english = warning_input(ring)
    no_english["info"] = no_english["info"][:1]
    late = warning_input(ring, effective=(datetime.now(UTC) + timedelta(hours=5)).isoformat())
    cases = [
        (warning_input(ring[:-1]), "closed"),
        (no_english, "en-US event is missing"),
        (late, "must be after effective"),
    ]
    before = count_warnings(database_url)
    for given, message in cases:
        answer = gql(client, officer, ISSUE, input=given)
        assert answer["data"] is None, message
        error = answer["errors"][0]
        # a ring left open is refused by the GeoJSON scalar, while the variables are read
        assert error["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
        assert message in error["message"], error
    assert count_warnings(database_url) == before


def test_the_public_sees_actual_warnings_only(
    client: TestClient, officer: dict[str, str], ring: list[list[float]]
) -> None:
    drill = gql(client, officer, ISSUE, input=warning_input(ring, status="EXERCISE"))
    made = drill["data"]["issueWarning"]["identifier"]
    assert made not in listed(client, {}, True)
    assert made in listed(client, officer, True)


DELIVERY = (
    "query { warnings(active: null, first: 100) { identifier incidentId "
    "delivery { recipients inboxDelivered pushDelivered pushGone pushFailed pending } } }"
)


def test_delivery_is_for_the_desk_and_for_an_incidents_readers(
    client: TestClient,
    database_url: str,
    tokens: TokenService,
    officer: dict[str, str],
    ring: list[list[float]],
) -> None:
    made = gql(client, officer, ISSUE, input=warning_input(ring))["data"]["issueWarning"]
    mine = {w["identifier"]: w for w in gql(client, officer, DELIVERY)["data"]["warnings"]}
    delivery = mine[made["identifier"]]["delivery"]
    assert set(delivery) == {"recipients", "inboxDelivered", "pushDelivered", "pushGone",
                             "pushFailed", "pending"}  # fmt: skip
    assert delivery["inboxDelivered"] == delivery["recipients"] >= 0  # in force
    # an analyst reads incidents (read_plans), not the desk's other warnings; nor does the public
    analyst = auth(tokens, user_with_role(database_url, "analyst"), "analyst")
    for headers, code in ((analyst, "FORBIDDEN"), ({}, "UNAUTHENTICATED")):
        answer = gql(client, headers, DELIVERY)
        assert answer["data"]["warnings"] and {
            e["extensions"]["code"] for e in answer["errors"]
        } == {code}, answer

    # an incidentId naming no incident is refused, nothing written
    before = count_warnings(database_url)
    answer = gql(client, officer, ISSUE, input=warning_input(ring, incidentId=999999999))
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "999999999" in answer["errors"][0]["message"]
    assert count_warnings(database_url) == before
