"""An incident's warnings in the map view's incident panel (issue 16), in real headless Chromium
against a running server and a real push service on 127.0.0.1: the demo warning officer drafts
a warning from the panel — prefilled from the incident — and issues it; it is in the /cap feed,
tied to the incident and drawn on the map; a dispatcher, who may not issue (no button), reads
in the panel how far it got: the citizens whose inbox shows it (each checked through their own
inbox) and the push services' answers (one delivered, one gone, one failed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page

from server.kernel.auth.tokens import TokenService
from tests.mapview_helpers import chromium, element, graphql, readable, signed_in, token_of
from tests.running_server import free_port, running_server
from tests.test_mapview_browser import DISPATCHER, shot
from tests.test_warnings_push import Browser as PushBrowser
from tests.test_warnings_push import PushService

OFFICER = ("13800000017", "onemap-demo")  # the demo warning officer (seed/load.py)
ANALYST = ("13800000002", "onemap-demo")
#: A waterlogging point whose 600 m surroundings lie inside the city's districts.
SITE = """
WITH city AS (SELECT ST_Union(geom) g FROM admin_areas WHERE level = 'district')
SELECT f.id, ST_X(f.geom), ST_Y(f.geom) FROM facilities f, city
WHERE f.category = 'waterlogging_point'
AND ST_CoveredBy(ST_Buffer(f.geom::geography, 600)::geometry, city.g)
ORDER BY f.id LIMIT 1
"""
#: Citizens with any place (report, check-in, device) within 1 km: those the warning may reach.
CANDIDATES = """
SELECT DISTINCT u.id FROM users u WHERE 'citizen' = ANY(u.roles) AND (
  EXISTS (SELECT 1 FROM cases c WHERE c.reporter_id = u.id
          AND ST_DWithin(c.geom::geography, %(p)s, 1000))
  OR EXISTS (SELECT 1 FROM health_checkins h JOIN facilities f ON f.id = h.facility_id
             WHERE h.user_id = u.id AND ST_DWithin(f.geom::geography, %(p)s, 1000))
  OR EXISTS (SELECT 1 FROM push_subscriptions s WHERE s.user_id = u.id AND s.geom IS NOT NULL
             AND ST_DWithin(s.geom::geography, %(p)s, 1000)))
"""
POINT = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService()
    service.thread.start()
    try:
        yield service
    finally:
        service.server.shutdown()
        service.server.server_close()


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url, ONEMAP_WARNINGS_ALLOW_LOOPBACK_PUSH="true") as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def one(database_url: str, query: str, params: Any = None) -> Any:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchone()


def new_citizen(database_url: str, tag: str) -> int:
    row = one(
        database_url,
        "INSERT INTO users (phone, display_name, roles) VALUES "
        "('137' || lpad((floor(random() * 1e8))::bigint::text, 8, '0'), %s, '{citizen}') "
        "RETURNING id",
        (f"预警送达 {tag}",),
    )
    return int(row[0])


def subscribe(
    site: str, token: str, endpoint: str, keys: dict[str, str], lon: float, lat: float
) -> None:
    r = httpx.post(
        f"{site}/api/v1/push-subscriptions",
        headers={"Authorization": f"Bearer {token}"},
        json={"endpoint": endpoint, "keys": keys, "lon": lon, "lat": lat},
    )
    assert r.status_code == 201, r.text


def open_incident(page: Page, incident_id: str) -> None:
    page.click("[data-tab=emergency]")
    element(page, "#tab-emergency:not([hidden])")
    page.locator(f"#em-list li[data-id='{incident_id}'] button").click()  # the list reloads
    element(page, f"#em-incident[data-incident='{incident_id}'] .em-head")
    element(page, "#em-incident [data-section=em_warnings]")


def counts(page: Page) -> dict[str, str]:
    return dict(
        page.evaluate(
            "[...document.querySelectorAll('#em-incident .em-delivery dd[data-count]')]"
            ".map(d => [d.dataset.count, d.innerText])"
        )
    )


def test_an_officer_issues_from_the_panel_and_a_dispatcher_reads_how_far_it_got(
    site: str,
    chrome: Browser,
    database_url: str,
    tokens: TokenService,
    push_service: PushService,
) -> None:
    _, lon, lat = one(database_url, SITE)
    dispatcher = token_of(tokens, database_url, DISPATCHER[0])
    plans = graphql(site, dispatcher, "plans", "Plans", {})["data"]["plans"]
    flood = next(p for p in plans if p["hazardType"] == "FLOOD")
    activated = graphql(site, dispatcher, "incidents", "ActivatePlan", {
        "planId": flood["id"], "level": "IV", "point": {"lon": lon, "lat": lat}})  # fmt: skip
    incident = activated["data"]["activatePlan"]["incident"]
    incident_id = incident["id"]

    # three citizens' browsers in the area: a push service that takes it, one whose
    # subscription is gone (410), one that cannot be reached (nothing listens on its port)
    ok, gone = PushBrowser(push_service, "/ok/a"), PushBrowser(push_service, "/gone/b")
    dead = PushBrowser(push_service, "/x")
    dead.endpoint = f"http://127.0.0.1:{free_port()}/dead"
    for n, browser in enumerate((ok, gone, dead)):
        citizen = new_citizen(database_url, str(n))
        token = str(tokens.issue_access(citizen, ["citizen"]))
        subscribe(site, token, browser.endpoint, browser.keys, lon + 0.001 * n, lat + 0.0005)

    # the dispatcher follows the incident: no warning yet, and no way to issue one
    page, console = signed_in(chrome, site, *DISPATCHER)
    open_incident(page, incident_id)
    assert page.locator("#ew-form, #ew-issue").count() == 0
    assert "预警发布" in page.inner_text("#em-incident [data-section=em_warnings]")

    # the warning officer drafts it from the panel, prefilled from the incident
    officer, officer_console = signed_in(chrome, site, *OFFICER)
    open_incident(officer, incident_id)
    officer.click("#ew-open")
    assert "城市内涝" in officer.input_value("#ew-event-zh")
    assert officer.input_value("#ew-event-en") == "Urban flooding"
    assert incident["number"] in officer.input_value("#ew-headline-en")
    assert officer.input_value("#ew-severity") == "Minor"  # level IV
    assert "500 米" in officer.inner_text("#ew-form")
    officer.select_option("#ew-severity", "Moderate")
    officer.select_option("#ew-urgency", "Expected")
    officer.select_option("#ew-certainty", "Likely")
    officer.fill("#ew-instruction-en", "Keep away from the underpass.")
    officer.click("#ew-issue")
    deadline = time.monotonic() + 20
    while not officer.locator("#em-incident .em-warning-item").count():
        assert time.monotonic() < deadline, officer.inner_text("#em-state")
        time.sleep(0.2)
    identifier = one(
        database_url, "SELECT identifier FROM warnings WHERE incident_id = %s", (int(incident_id),)
    )[0]
    assert identifier in officer.inner_text("#em-state")
    item = readable(officer.inner_text(f".em-warning-item[data-identifier='{identifier}']"))
    assert "城市内涝预警" in item and "生效中" in item
    stored = one(
        database_url,
        "SELECT severity, urgency, certainty, texts->'en-US'->>'instruction', "
        "ST_DWithin(ST_Centroid(geom)::geography, " + POINT + ", 5) "
        "FROM warnings WHERE identifier = %(id)s",
        {"id": identifier, "lon": lon, "lat": lat},
    )
    assert stored == ("Moderate", "Expected", "Likely", "Keep away from the underpass.", True)

    # in the public feed, in the incident, and on the officer's map
    atom = httpx.get(f"{site}/cap/alerts.atom").text
    assert identifier in atom
    listed = graphql(site, dispatcher, "incident_warnings", "IncidentWarnings", {"id": incident_id})
    assert "errors" not in listed, listed
    (mine,) = listed["data"]["emergencyIncident"]["warnings"]
    assert mine["identifier"] == identifier and mine["incidentId"] == int(incident_id)
    drawn = (
        "window.onemap.map.querySourceFeatures('warnings')"
        f".some(f => f.properties.identifier === '{identifier}')"
    )
    deadline = time.monotonic() + 20
    while not officer.evaluate(drawn):
        assert time.monotonic() < deadline, "the warning is not on the map"
        time.sleep(0.2)

    # the push services answer; the citizens reached are those whose own inbox shows it
    deadline = time.monotonic() + 20
    while one(database_url, "SELECT count(*) FROM warning_deliveries d JOIN warnings w "
              "ON w.id = d.warning_id WHERE w.identifier = %s", (identifier,))[0] < 3:  # fmt: skip
        assert time.monotonic() < deadline, "the pushes were not all answered"
        time.sleep(0.2)
    with psycopg.connect(database_url) as conn:
        found = conn.execute(CANDIDATES.replace("%(p)s", POINT), {"lon": lon, "lat": lat})
        candidates = [int(r[0]) for r in found.fetchall()]
    reached = 0
    for citizen in candidates:
        token = str(tokens.issue_access(citizen, ["citizen"]))
        inbox = httpx.get(f"{site}/api/v1/warnings", headers={"Authorization": f"Bearer {token}"})
        assert inbox.status_code == 200, inbox.text
        reached += identifier in {w["identifier"] for w in inbox.json()["items"]}
    assert reached >= 2  # the reachable devices' citizens at least (the gone one was deleted)

    expected = {"recipients": str(reached), "inbox": str(reached), "push_delivered": "1",
                "push_gone": "1", "push_failed": "1", "pending": "0"}  # fmt: skip
    deadline = time.monotonic() + 20
    while counts(page) != expected:  # the panel refreshes the delivery every few seconds
        assert time.monotonic() < deadline, (counts(page), expected)
        time.sleep(0.3)
    panel = readable(page.inner_text("#em-incident [data-section=em_warnings]"))
    assert identifier in panel and "覆盖市民" in panel and "推送成功" in panel
    assert page.locator("#ew-form, #ew-issue").count() == 0
    assert push_service.received.keys() >= {"/ok/a", "/gone/b"}
    page.locator("#em-incident [data-section=em_warnings]").scroll_into_view_if_needed()
    shot(page, "incident-warnings")

    # an analyst reads the incident's warnings and their delivery, and issues nothing
    analyst, analyst_console = signed_in(chrome, site, *ANALYST)
    open_incident(analyst, incident_id)
    element(analyst, f".em-warning-item[data-identifier='{identifier}'] .em-delivery")
    assert analyst.locator("#ew-form, #ew-issue").count() == 0
    assert console.errors == [] and officer_console.errors == [] and analyst_console.errors == []
