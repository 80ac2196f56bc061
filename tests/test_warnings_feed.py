"""Warnings (预警发布) as CAP 1.2 (issue 16 item 5): a warning officer issues, updates and cancels
through the citizen API; the Atom index is read with feedparser and every alert with the
third-party CAP parser capparselib (which validates it against the CAP 1.2 schema it ships)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import feedparser
import psycopg
import pytest
from capparselib.parsers import CAPParser
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, key
from tests.warning_helpers import inside_facility, new_user, square, warning_body

pytestmark = pytest.mark.usefixtures("client")


@pytest.fixture(scope="module")
def officer(database_url: str, tokens: TokenService) -> dict[str, str]:
    return auth(tokens, new_user(database_url, "warning_officer"), "warning_officer")


@pytest.fixture(scope="module")
def ring(database_url: str) -> list[list[float]]:
    _, lon, lat = inside_facility(database_url)
    return square(lon, lat)


def issue(
    client: TestClient,
    officer: dict[str, str],
    body: dict[str, Any],
    path: str = "/api/v1/warnings",
) -> dict[str, Any]:
    r = client.post(path, json=body, headers={**officer, "Idempotency-Key": key()})
    assert r.status_code == 201, r.text
    return dict(r.json())


def cap_alert(client: TestClient, identifier: str) -> dict[str, Any]:
    r = client.get(f"/cap/alerts/{identifier}.xml")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/cap+xml")
    assert b'xmlns="urn:oasis:names:tc:emergency:cap:1.2"' in r.content
    alerts = CAPParser(r.text).as_dict()
    assert len(alerts) == 1
    return dict(alerts[0])


def atom(client: TestClient) -> Any:
    r = client.get("/cap/alerts.atom")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    return feed


def entry_for(feed: Any, identifier: str) -> Any:
    found = [e for e in feed.entries if e.id.endswith(f"/cap/alerts/{identifier}.xml")]
    return found[0] if found else None


def _pairs(polygon: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in pair.split(",")) for pair in polygon.split()]  # type: ignore[misc]


def test_an_issued_warning_is_in_the_atom_index_and_parses_as_cap(
    client: TestClient, officer: dict[str, str], ring: list[list[float]]
) -> None:
    body = warning_body(ring)
    made = issue(client, officer, body)
    assert made["msg_type"] == "Alert" and made["identifier"].startswith("onemap-city-")

    entry = entry_for(atom(client), made["identifier"])
    assert entry is not None
    assert body["texts"]["zh-CN"]["headline"] in entry.title
    assert body["texts"]["en-US"]["headline"] in entry.title
    link = next(li for li in entry.links if li.rel == "alternate")
    assert link.type == "application/cap+xml"
    assert link.href.endswith(f"/cap/alerts/{made['identifier']}.xml")

    alert = cap_alert(client, made["identifier"])
    assert str(alert["cap_id"]) == made["identifier"]
    assert str(alert["cap_status"]) == "Actual" and str(alert["cap_message_type"]) == "Alert"
    assert str(alert["cap_scope"]) == "Public"
    infos = {str(i["cap_language"]): i for i in alert["cap_info"]}
    assert set(infos) == {"zh-CN", "en-US"}
    for language, info in infos.items():
        texts = body["texts"][language]
        assert str(info["cap_headline"]) == texts["headline"]
        assert str(info["cap_description"]) == texts["description"]
        assert str(info["cap_instruction"]) == texts["instruction"]
        assert str(info["cap_event"]) == texts["event"]
        assert str(info["cap_severity"]) == "Severe"
        assert str(info["cap_urgency"]) == "Expected"
        assert str(info["cap_certainty"]) == "Likely"
        assert str(info["cap_category"]) == "Met"
        (area,) = info["cap_area"]
        assert str(area["area_description"]) == body["area_desc"]
        (polygon,) = area["polygons"]
        points = _pairs(str(polygon))
        assert points[0] == points[-1]  # closed
        assert points == [pytest.approx((lat, lon), abs=1e-6) for lon, lat in ring]


def test_update_and_cancel_reference_the_original_and_the_feed_follows(
    client: TestClient, officer: dict[str, str], ring: list[list[float]], database_url: str
) -> None:
    first = issue(client, officer, warning_body(ring))
    ident = first["identifier"]

    changed = warning_body(ring, severity="Extreme", urgency="Immediate")
    second = issue(client, officer, changed, f"/api/v1/warnings/{ident}/update")
    assert second["msg_type"] == "Update" and second["references"] == ident
    update = cap_alert(client, second["identifier"])
    assert str(update["cap_message_type"]) == "Update"
    sender, referenced, sent = str(update["cap_references"]).split(",")
    assert (sender, referenced) == (first["sender"], ident)
    assert datetime.fromisoformat(sent) == datetime.fromisoformat(first["sent"])
    assert {str(i["cap_severity"]) for i in update["cap_info"]} == {"Extreme"}

    feed = atom(client)
    assert entry_for(feed, ident) is None  # replaced: no longer current
    assert entry_for(feed, second["identifier"]) is not None

    # a replaced message cannot be replaced again: the current one can
    again = client.post(
        f"/api/v1/warnings/{ident}/cancel", json={}, headers={**officer, "Idempotency-Key": key()}
    )
    assert again.status_code == 409 and second["identifier"] in again.json()["detail"]

    third = issue(
        client,
        officer,
        {"note": "雨势减弱，预警解除。"},
        f"/api/v1/warnings/{second['identifier']}/cancel",
    )
    assert third["msg_type"] == "Cancel" and third["references"] == second["identifier"]
    cancel = cap_alert(client, third["identifier"])
    assert str(cancel["cap_message_type"]) == "Cancel"
    assert str(cancel["cap_references"]).split(",")[1] == second["identifier"]
    headlines = {str(i["cap_language"]): str(i["cap_headline"]) for i in cancel["cap_info"]}
    assert headlines["en-US"].startswith("Cancelled: ")
    assert headlines["zh-CN"].startswith("解除：")

    feed = atom(client)
    assert entry_for(feed, second["identifier"]) is None
    assert entry_for(feed, third["identifier"]) is not None  # readers learn of the Cancel
    # the replaced messages stay readable as CAP
    assert cap_alert(client, ident)["cap_id"] == ident
    # each message is on the audit trail, with who wrote it
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT a.action, a.actor_role FROM audit_log a JOIN warnings w "
            "ON a.object_type = 'warning' AND a.object_id = w.id::text "
            "WHERE w.identifier = ANY(%s) ORDER BY a.id",
            ([ident, second["identifier"], third["identifier"]],),
        ).fetchall()
    assert rows == [
        ("warning.alert", "warning_officer"),
        ("warning.update", "warning_officer"),
        ("warning.cancel", "warning_officer"),
    ]


def test_an_unknown_alert_is_a_clear_404(client: TestClient) -> None:
    r = client.get("/cap/alerts/onemap-city-20260101-999999.xml")
    assert r.status_code == 404
    assert "onemap-city-20260101-999999" in r.json()["detail"]


def test_exercises_are_not_in_the_public_feed(
    client: TestClient, officer: dict[str, str], ring: list[list[float]]
) -> None:
    made = issue(client, officer, warning_body(ring, status="Exercise"))
    assert entry_for(atom(client), made["identifier"]) is None
    assert client.get(f"/cap/alerts/{made['identifier']}.xml").status_code == 404
