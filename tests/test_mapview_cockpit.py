"""The map view's cockpit (驾驶舱) in real headless Chromium against a running server, read as a
person reads it: a dispatcher opens it and every number shown is what GraphQL answers for the
same principal (cockpit.graphql, asked over HTTP with the dispatcher's token), an overdue case
picked from its list flies the map there and opens its popup, a case event refreshes it live;
the public and a staff member without the capabilities get no figures (the server's FORBIDDEN).

The server runs no sweep of its own (``ONEMAP_SUPERVISION_SWEEP_SECONDS=0``): the module sweeps
once before it starts, so the warning and overdue lists stay still while the page and the test
each read them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.mapview_helpers import (
    CITY,
    PHONE,
    chromium,
    graphql,
    one,
    popup_text,
    signed_in,
    token_of,
)
from tests.running_server import running_server
from tests.test_graphql_supervision import run_sweep
from tests.test_mapview_browser import ARTIFACTS, DISPATCHER, open_page, operation, until

pytestmark = pytest.mark.slow

CAMERA_VIEWER = ("13800000003", "onemap-demo")  # neither `evaluate` nor `read_cases`
STATUSES = {"reported": "reported", "dispatched": "dispatched", "in_progress": "inProgress",
            "resolved": "resolved", "closed": "closed", "rejected": "rejected",
            "duplicate": "duplicate"}  # fmt: skip


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    # In a thread: Playwright's own event loop may already run in this one.
    with ThreadPoolExecutor(1) as worker:
        worker.submit(run_sweep, database_url, datetime.now(UTC), True).result()
    with running_server(database_url, ONEMAP_SUPERVISION_SWEEP_SECONDS="0") as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def figure_variables() -> dict[str, str]:
    """CockpitFigures' variables as the page computes them: the city's today, the last 30 days."""
    today = datetime.now(CITY).date()
    return {"dayFrom": f"{today}T00:00:00+08:00", "dayTo": f"{today + timedelta(1)}T00:00:00+08:00",
            "from": str(today - timedelta(29)), "to": str(today)}  # fmt: skip


def shown(page: Page, figure: str) -> str:
    return page.inner_text(f"#cockpit [data-figure='{figure}'] strong").strip()


def loads(page: Page) -> int:
    return int(page.evaluate("Number(document.getElementById('cockpit').dataset.loads || 0)"))


def open_cockpit(page: Page) -> None:
    page.wait_for_selector("#cockpit-toggle:not([hidden])", timeout=20_000)
    probed = loads(page)  # the probe at log-in that offered the toggle
    page.focus("#cockpit-toggle")
    page.keyboard.press("Enter")  # the keyboard opens it; opening reads the figures afresh
    until(page, f"Number(document.getElementById('cockpit').dataset.loads) > {probed}")
    page.wait_for_selector("#cockpit:not([hidden]) #cockpit-figures .figures")
    page.wait_for_selector("#cockpit-clock-counts .figures")
    assert page.get_attribute("#cockpit-toggle", "aria-expanded") == "true"


def top(table: dict[str, Any]) -> list[list[str]]:
    rows = [r for r in table["rows"] if not r["total"] and r["overdue"] > 0]
    rows.sort(key=lambda r: (-r["overdue"], r["label"]))
    return [[r["label"], str(r["overdue"])] for r in rows[:5]]


def ranking(page: Page, box: str) -> list[list[str]]:
    items = page.locator(f"#{box} li")
    return [
        [items.nth(i).locator("span").inner_text(), items.nth(i).locator("strong").inner_text()]
        for i in range(items.count())
    ]


def test_a_dispatcher_sees_the_apis_figures_and_flies_to_an_overdue_case(
    chrome: Browser, site: str, database_url: str, tokens: Any
) -> None:
    token = token_of(tokens, database_url, DISPATCHER[0])
    page, console = signed_in(chrome, site, *DISPATCHER)
    try:
        open_cockpit(page)
        figures = graphql(site, token, "cockpit", "CockpitFigures", figure_variables())
        clocks = graphql(site, token, "cockpit", "CockpitClocks", {"first": 20})
        counts = graphql(site, token, "cockpit", "CockpitClockCounts", {"first": 1000})
        for answer in (figures, clocks, counts):
            assert "errors" not in answer, answer
        f, c, n = figures["data"], clocks["data"], counts["data"]
        for code, alias in STATUSES.items():
            assert shown(page, f"status-{code}") == str(f[alias]["totalCount"]), code
        total = next(r for r in f["departments"]["rows"] if r["total"])
        assert total["handledOnTimeRate"] is not None  # the test city handled cases in 30 days
        days = figure_variables()
        assert f"近30天（{days['from']} 至 {days['to']}）" in page.inner_text("#cockpit-figures")
        assert shown(page, "on-time-rate") == f"{total['handledOnTimeRate'] * 100:.1f}%"
        assert shown(page, "received-30") == str(total["received"])
        assert shown(page, "overdue-30") == str(total["overdue"])
        assert ranking(page, "cockpit-top-departments") == top(f["departments"])
        assert ranking(page, "cockpit-top-streets") == top(f["streets"])
        for state in ("warning", "overdue"):
            more = "+" if n[state]["pageInfo"]["hasNextPage"] else ""
            assert shown(page, state) == f"{len(n[state]['edges'])}{more}", state
        overdue = [e["node"] for e in c["overdue"]["edges"]]
        assert overdue, "the swept test city has overdue cases"
        listed = page.locator("#cockpit-overdue li").all_inner_texts()
        assert len(listed) == len(overdue) == min(20, len(n["overdue"]["edges"]))
        for text, node in zip(listed, overdue, strict=False):
            assert node["publicId"] in text
        assert page.locator("#cockpit-warning li, p#cockpit-warning").count() >= 1

        # Pick the first overdue case: the map flies there and its popup shows its public id.
        case = overdue[0]
        page.locator("#cockpit-overdue li button").first.click()
        page.wait_for_selector(f".popup-case[data-case-id='{case['id']}']", timeout=20_000)
        until(page, "!window.onemap.map.isMoving()")
        lon, lat = case["geometry"]["coordinates"]
        centre = page.evaluate("window.onemap.map.getCenter().toArray()")
        assert abs(centre[0] - lon) < 1e-5 and abs(centre[1] - lat) < 1e-5, (centre, lon, lat)
        assert page.evaluate("window.onemap.map.getZoom()") >= 17
        assert case["publicId"] in popup_text(page, ".popup-case")
        assert console.errors == []
    finally:
        page.close()


def test_a_case_event_refreshes_the_open_cockpit(
    chrome: Browser, site: str, database_url: str, tokens: Any
) -> None:
    token = token_of(tokens, database_url, DISPATCHER[0])
    page, _ = signed_in(chrome, site, *DISPATCHER)
    try:
        open_cockpit(page)
        before = loads(page)
        page.wait_for_timeout(3500)  # past the throttle: the next event may refresh at once
        assert loads(page) == before  # nothing happened, nothing reloaded
        case_id, department_id = one(
            database_url, "SELECT c.id, d.id FROM cases c, departments d WHERE c.status = "
            "'reported' ORDER BY c.id, d.id LIMIT 1")  # fmt: skip
        answer = graphql(site, token, "dispatch_flow", "DispatchCase",
                         {"id": str(case_id), "departmentId": str(department_id)})  # fmt: skip
        assert answer["data"]["dispatchCase"]["__typename"] == "CasePayload", answer
        until(page, f"Number(document.getElementById('cockpit').dataset.loads) > {before}", 15)
        # The figures drawn are the API's after the step.
        after = graphql(site, token, "cockpit", "CockpitFigures", figure_variables())["data"]
        until(page, "!!document.querySelector(\"#cockpit [data-figure='status-dispatched']\")")
        assert shown(page, "status-dispatched") == str(after["dispatched"]["totalCount"])

        # In English, and on a phone: a bottom sheet inside the screen; Escape closes it.
        page.click("#lang")
        text = page.inner_text("#cockpit")
        assert "Handled on time" in text and "Overdue cases" in text, text
        page.set_viewport_size(PHONE)
        until(page, "document.getElementById('cockpit').getBoundingClientRect().bottom <= 845")
        box = page.locator("#cockpit").bounding_box()
        assert box is not None and box["x"] >= 0 and box["width"] <= 390 and box["y"] > 100
        page.screenshot(path=ARTIFACTS / "mapview-cockpit-phone.png")
        for button in ("#cockpit-toggle", "#lang", "#logout"):  # the bar still fits
            edge = page.evaluate(
                f"document.querySelector('{button}').getBoundingClientRect().right"
            )
            assert edge <= 390, (button, edge)
        page.focus("#cockpit-close")
        page.keyboard.press("Escape")
        assert page.is_hidden("#cockpit")
        assert page.evaluate("document.activeElement.id") == "cockpit-toggle"
    finally:
        page.close()


def test_the_public_and_staff_without_the_capabilities_get_no_figures(
    chrome: Browser, site: str, database_url: str, tokens: Any
) -> None:
    variables = figure_variables()
    anonymous = httpx.post(f"{site}/graphql", json={
        "query": operation("cockpit"), "operationName": "CockpitFigures",
        "variables": variables}).json()  # fmt: skip
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    page, console = open_page(chrome, site, viewport={"width": 1280, "height": 800})
    try:
        assert page.is_hidden("#cockpit-toggle") and page.is_hidden("#cockpit")
        assert page.locator("#cockpit .figure").count() == 0
        assert console.errors == []
    finally:
        page.close()

    token = token_of(tokens, database_url, CAMERA_VIEWER[0])
    asked = (("CockpitFigures", variables), ("CockpitClocks", {}), ("CockpitClockCounts", {}))
    for name, variables_ in asked:
        refused = graphql(site, token, "cockpit", name, variables_)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    page, _ = signed_in(chrome, site, *CAMERA_VIEWER)
    try:
        until(page, "Number(document.getElementById('cockpit').dataset.loads) >= 1")
        assert page.is_hidden("#cockpit-toggle") and page.is_hidden("#cockpit")
        assert page.locator("#cockpit .figure").count() == 0
    finally:
        page.close()
