"""Warnings reach the citizens whose places lie in the area (issue 16 item 5): the app inbox,
the public "in force here" list, who may issue, and input refused with a message and nothing
written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, key, user_with_role
from tests.warning_helpers import (
    check_in,
    count_warnings,
    far_facility,
    inside_facility,
    new_user,
    square,
    warning_body,
)


@pytest.fixture(scope="module")
def officer(database_url: str, tokens: TokenService) -> dict[str, str]:
    return auth(tokens, new_user(database_url, "warning_officer"), "warning_officer")


@pytest.fixture(scope="module")
def place(database_url: str) -> tuple[int, float, float]:
    return inside_facility(database_url, offset=3)


def post(client: TestClient, headers: dict[str, str], body: Any) -> Any:
    return client.post("/api/v1/warnings", json=body, headers={**headers, "Idempotency-Key": key()})


def identifiers(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {w["identifier"] for w in response.json()["items"]}


def test_a_citizen_in_the_area_sees_it_in_the_inbox_one_outside_does_not(
    client: TestClient,
    database_url: str,
    tokens: TokenService,
    officer: dict[str, str],
    place: tuple[int, float, float],
) -> None:
    facility, lon, lat = place
    far, far_lon, far_lat = far_facility(database_url, lon, lat)
    inside, outside = new_user(database_url, "citizen"), new_user(database_url, "citizen")
    check_in(database_url, inside, facility)  # their latest venue check-in is in the area
    check_in(database_url, outside, far)

    r = post(client, officer, warning_body(square(lon, lat)))
    assert r.status_code == 201, r.text
    made = r.json()

    mine = client.get("/api/v1/warnings", headers=auth(tokens, inside, "citizen"))
    assert made["identifier"] in identifiers(mine)
    (shown,) = [w for w in mine.json()["items"] if w["identifier"] == made["identifier"]]
    assert shown["texts"]["en-US"]["headline"] == made["texts"]["en-US"]["headline"]
    assert shown["cap_url"] == f"/cap/alerts/{made['identifier']}.xml"
    theirs = client.get("/api/v1/warnings", headers=auth(tokens, outside, "citizen"))
    assert made["identifier"] not in identifiers(theirs)

    here = client.get("/api/v1/warnings/active", params={"lon": lon, "lat": lat})
    assert made["identifier"] in identifiers(here)
    there = client.get("/api/v1/warnings/active", params={"lon": far_lon, "lat": far_lat})
    assert made["identifier"] not in identifiers(there)

    # cancelled: out of the inbox
    r = client.post(
        f"/api/v1/warnings/{made['identifier']}/cancel",
        json={},
        headers={**officer, "Idempotency-Key": key()},
    )
    assert r.status_code == 201, r.text
    mine = client.get("/api/v1/warnings", headers=auth(tokens, inside, "citizen"))
    assert not identifiers(mine) & {made["identifier"], r.json()["identifier"]}


@pytest.mark.parametrize("role", ["citizen", "dispatcher", "analyst"])
def test_only_warning_officers_and_admins_issue(
    client: TestClient,
    database_url: str,
    tokens: TokenService,
    role: str,
    place: tuple[int, float, float],
) -> None:
    _, lon, lat = place
    before = count_warnings(database_url)
    r = post(
        client,
        auth(tokens, user_with_role(database_url, role), role),
        warning_body(square(lon, lat)),
    )
    assert r.status_code == 403, r.text
    assert "issue_warnings" in r.json()["detail"]
    assert (
        client.post(
            "/api/v1/warnings",
            json=warning_body(square(lon, lat)),
            headers={"Idempotency-Key": key()},
        ).status_code
        == 401
    )
    assert count_warnings(database_url) == before

    admin = auth(tokens, user_with_role(database_url, "admin"), "admin")
    assert post(client, admin, warning_body(square(lon, lat))).status_code == 201


def _bad_inputs(lon: float, lat: float) -> list[tuple[dict[str, Any], str]]:
    ring = square(lon, lat)
    now = datetime.now(UTC)
    no_english = warning_body(ring)
    no_english["texts"]["en-US"]["headline"] = ""
    only_chinese = warning_body(ring)
    del only_chinese["texts"]["en-US"]
    bowtie = [
        [lon - 0.002, lat - 0.002],
        [lon + 0.002, lat + 0.002],
        [lon + 0.002, lat - 0.002],
        [lon - 0.002, lat + 0.002],
        [lon - 0.002, lat - 0.002],
    ]
    return [
        (warning_body(ring[:-1]), "not closed"),
        (warning_body([*ring[:-1], [lon, lat + 0.01]]), "not closed"),
        (warning_body(bowtie), "not a valid polygon"),
        (warning_body(square(lon + 5, lat)), "outside the city"),
        (
            warning_body(
                ring, effective=now.isoformat(), expires=(now - timedelta(hours=1)).isoformat()
            ),
            "must be after effective",
        ),
        (no_english, "en-US headline is missing"),
        (only_chinese, "en-US event is missing"),
        (warning_body(ring, severity="Catastrophic"), "severity"),
        (warning_body(ring, status="Draft"), "status"),
        (warning_body(ring, expires="2026-12-01T10:00:00"), "expires"),
    ]


def test_bad_input_is_refused_with_a_message_and_nothing_written(
    client: TestClient,
    database_url: str,
    officer: dict[str, str],
    place: tuple[int, float, float],
) -> None:
    _, lon, lat = place
    before = count_warnings(database_url)
    for body, message in _bad_inputs(lon, lat):
        r = post(client, officer, body)
        assert 400 <= r.status_code < 500, (message, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert message in r.json()["detail"], (message, r.json()["detail"])
    assert count_warnings(database_url) == before


def test_push_subscriptions_are_https_in_production_and_can_be_removed(
    client: TestClient,
    database_url: str,
    tokens: TokenService,
) -> None:
    citizen = auth(tokens, new_user(database_url, "citizen"), "citizen")
    keys = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}
    r = client.post(
        "/api/v1/push-subscriptions",
        headers=citizen,
        json={"endpoint": "http://127.0.0.1:9/push/x", "keys": keys},
    )
    assert r.status_code == 400 and "https" in r.json()["detail"]
    bad_keys = {"p256dh": "A" * 87, "auth": "A" * 22}  # not an uncompressed point
    endpoint = f"https://push.example.net/send/{key()}"
    r = client.post(
        "/api/v1/push-subscriptions", headers=citizen, json={"endpoint": endpoint, "keys": bad_keys}
    )
    assert r.status_code == 400 and "p256dh" in r.json()["detail"]
    r = client.post(
        "/api/v1/push-subscriptions",
        headers=citizen,
        json={"endpoint": endpoint, "keys": keys, "lon": 1.0, "lat": 2.0},
    )
    assert r.status_code == 201, r.text
    gone = client.delete(
        "/api/v1/push-subscriptions", params={"endpoint": endpoint}, headers=citizen
    )
    assert gone.status_code == 204
    again = client.delete(
        "/api/v1/push-subscriptions", params={"endpoint": endpoint}, headers=citizen
    )
    assert again.status_code == 404
    officer_like = auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")
    r = client.post(
        "/api/v1/push-subscriptions",
        headers=officer_like,
        json={"endpoint": endpoint, "keys": keys},
    )
    assert r.status_code == 403
