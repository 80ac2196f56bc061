"""The map view as an operator works it, in real headless Chromium: a dispatcher takes a case
through the workflow from its popup (the database agrees at each step), the date filter changes
which cases the map draws, "locate me" answers in words whatever the browser allows, and every
control is reached and worked with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Browser, Geolocation, Page

from tests.mapview_helpers import (
    CITY,
    DESKTOP,
    PHONE,
    chromium,
    graphql,
    one,
    open_case,
    popup_text,
    readable,
    shown_steps,
    signed_in,
    token_of,
)
from tests.running_server import running_server
from tests.test_mapview_browser import (
    CENTRE,
    DISPATCHER,
    Console,
    jump,
    open_page,
    settle,
    shot,
    until,
)

#: A point near the centre with no case, facility or camera within 30 m: a click there at zoom
#: 18 can only mean the case made on it.
QUIET_POINT = """
SELECT ST_X(p), ST_Y(p) FROM (
  SELECT ST_PointOnSurface(g.geom) AS p FROM grid_cells g
  ORDER BY g.geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 50) q
WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE ST_DWithin(c.geom::geography, p::geography, 30))
  AND NOT EXISTS (SELECT 1 FROM facilities f WHERE ST_DWithin(f.geom::geography, p::geography, 30))
  AND NOT EXISTS (SELECT 1 FROM cameras k WHERE ST_DWithin(k.geom::geography, p::geography, 30))
LIMIT 1
"""
RENDERED_CASES = (
    "[...new Set(window.onemap.map.queryRenderedFeatures({layers: ['cases']}).map(f => f.id))]"
)


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def toast(page: Page, words: str) -> str:
    """Wait for the page's message line to say ``words``; its whole text."""
    until(page, f"document.getElementById('toast').textContent.includes({words!r})")
    return readable(page.inner_text("#toast"))


def case_row(database_url: str, case_id: int) -> tuple[str, str | None, int]:
    """Status, department name and number of timeline events of a case, from the database."""
    row = one(
        database_url,
        "SELECT c.status, d.name_zh, (SELECT count(*) FROM case_events e WHERE e.case_id = c.id) "
        "FROM cases c LEFT JOIN departments d ON d.id = c.department_id WHERE c.id = %s",
        case_id,
    )
    return row[0], row[1], int(row[2])


def step_done(page: Page, status_label: str) -> str:
    """Wait for the popup to report a step done with the case now ``status_label``."""
    until(
        page,
        "(document.querySelector('.popup-case .action-done') || {textContent: ''})"
        f".textContent.includes('当前状态：{status_label}')",
    )
    return popup_text(page, ".popup-case")


def test_a_dispatcher_takes_a_case_from_report_to_close_in_its_popup(
    chrome: Browser, site: str, tokens: Any, database_url: str
) -> None:
    lon, lat = one(database_url, QUIET_POINT, *CENTRE)
    token = token_of(tokens, database_url, DISPATCHER[0])
    new = {"category": "road_damage", "lon": lon, "lat": lat, "description": "路面塌陷待处置"}
    made = graphql(site, token, "dispatch_flow", "CreateCase", {"input": new})
    case_id = int(made["data"]["createCase"]["case"]["id"])

    page, console = signed_in(chrome, site, *DISPATCHER)
    try:
        open_case(page, case_id, lon, lat)
        text = popup_text(page, ".popup-case")
        assert "路面塌陷待处置" in text and "上报" in text
        assert shown_steps(page) == ["dispatch", "reject", "blow_whistle", "comment"]

        # 派遣, with the keyboard: focus the button, press Enter.
        page.focus(".popup-case [data-action=dispatch]")
        page.keyboard.press("Enter")
        text = step_done(page, "已派遣")
        status, department, events = case_row(database_url, case_id)
        assert status == "dispatched" and department and department in text, text
        assert (
            "操作成功（派遣）" in text
            and page.locator(".popup-case .timeline li").count() == events
        )
        # The cases layer was reloaded: the tile itself now says dispatched.
        until(
            page,
            "window.onemap.map.querySourceFeatures('cases', {sourceLayer: 'cases'})"
            f".some(f => f.id === {case_id} && f.properties.status === 'dispatched')",
        )
        assert shown_steps(page)[:2] == ["start", "transfer"]  # the dispatcher handles too

        page.click(".popup-case [data-action=start]")
        step_done(page, "处置中")
        assert case_row(database_url, case_id)[0] == "in_progress"
        assert shown_steps(page) == ["resolve", "transfer", "request_return", "add_co_handlers",
                                     "blow_whistle", "comment"]  # fmt: skip

        # Resolving needs a note: without one the popup says so and nothing is sent.
        page.click(".popup-case [data-action=resolve]")
        message = readable(page.inner_text(".popup-case .action-state"))
        assert "请先填写备注" in message and "处置完毕" in message
        assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
        assert case_row(database_url, case_id)[0] == "in_progress"
        page.keyboard.type("已回填沥青并压实")
        page.focus(".popup-case [data-action=resolve]")
        page.keyboard.press("Space")
        text = step_done(page, "待核查")
        assert case_row(database_url, case_id)[0] == "resolved" and "已回填沥青并压实" in text
        assert shown_steps(page) == ["close", "reopen", "comment"]
        shot(page, "workflow-resolved")

        page.click(".popup-case [data-action=close]")
        text = step_done(page, "结案")
        status, _, events = case_row(database_url, case_id)
        assert status == "closed" and page.locator(".popup-case .timeline li").count() == events
        assert shown_steps(page) == ["reopen", "comment"]
        for word in ("上报", "派遣", "开始处置", "处置完毕", "结案"):
            assert word in text
        # The live feed saw every step.
        page.click("[data-tab=feed]")
        until(page, f"document.querySelectorAll(\"#feed [data-case-id='{case_id}']\").length >= 4")
        readable(page.inner_text("#feed"))
        assert console.errors == []
    finally:
        page.context.close()


def _days(database_url: str, ids: list[int]) -> dict[int, date]:
    """The city's day each public case was reported (from the database, not the tile)."""
    found: dict[int, date] = {}
    for case_id in ids:
        reported = one(database_url, "SELECT reported_at FROM cases_public WHERE id = %s", case_id)
        found[case_id] = reported[0].astimezone(CITY).date()
    return found


def _set_dates(page: Page, start: str, end: str) -> None:
    page.fill("#case-from", start)
    page.fill("#case-to", end)
    page.dispatch_event("#case-to", "change")
    settle(page)


def test_the_date_filter_changes_the_cases_the_map_draws(
    chrome: Browser, site: str, database_url: str
) -> None:
    page, console = open_page(chrome, site, viewport=DESKTOP)
    try:
        page.select_option("#case-mode", "points")
        jump(page, CENTRE, 13.5)
        everything = sorted(page.evaluate(RENDERED_CASES))
        days = _days(database_url, everything)
        ordered = sorted(days.values())
        start, end = ordered[len(ordered) // 3], ordered[2 * len(ordered) // 3]
        expected = {i for i, d in days.items() if start <= d <= end}
        assert 0 < len(expected) < len(everything), (start, end, ordered)

        _set_dates(page, start.isoformat(), end.isoformat())
        shown = set(page.evaluate(RENDERED_CASES))
        assert shown == expected
        note = readable(page.inner_text("#case-dates-state"))
        assert start.isoformat() in note and end.isoformat() in note
        shot(page, "date-filter")

        # Backwards: said plainly, and the map keeps what it showed.
        page.fill("#case-from", (end.replace(year=end.year + 1)).isoformat())
        page.dispatch_event("#case-from", "change")
        assert "起始日期晚于截止日期" in page.inner_text("#case-dates-state")
        assert set(page.evaluate(RENDERED_CASES)) == expected

        # A range with no cases empties the points and the heat map alike.
        page.select_option("#case-mode", "heat")
        _set_dates(page, "2001-01-01", "2001-01-31")
        counts = page.evaluate(
            "['cases', 'cases-heat'].map(id =>"
            " window.onemap.map.queryRenderedFeatures({layers: [id]}).length)"
        )
        assert counts == [0, 0]
        page.click("#case-dates-clear")
        settle(page)
        page.select_option("#case-mode", "points")
        settle(page)
        assert sorted(page.evaluate(RENDERED_CASES)) == everything
        assert page.inner_text("#case-dates-state") == ""
        assert console.errors == []
    finally:
        page.context.close()


def test_locate_me_shows_the_place_or_says_why_not(chrome: Browser, site: str) -> None:
    inside = Geolocation(longitude=121.47, latitude=31.23, accuracy=35)
    granted = chrome.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation=inside,
        permissions=["geolocation"],
    )
    page = granted.new_page()
    console = Console(page)
    try:
        page.goto(f"{site}/")
        settle(page)
        page.click("#locate")
        assert "已定位" in toast(page, "已定位") and "35 m" in page.inner_text("#toast")
        until(page, "window.onemap.map.getCenter().distanceTo({lng: 121.47, lat: 31.23}) < 5")
        shot(page, "locate-phone")
        granted.set_geolocation(Geolocation(longitude=116.40, latitude=39.90))  # Beijing
        page.click("#locate")
        toast(page, "不在本市地图范围内")
        assert console.errors == []
    finally:
        granted.close()

    refused = chrome.new_context(viewport=DESKTOP)  # no permission: the browser says no
    page = refused.new_page()
    try:
        page.goto(f"{site}/")
        settle(page)
        page.focus("#locate")
        page.keyboard.press("Enter")
        message = toast(page, "定位被拒绝")
        assert "网站设置" in message  # what to do about it
        page.click("#lang")
        page.click("#locate")
        assert "site settings" in toast(page, "Location refused")
    finally:
        refused.close()


#: What Tab reaches on the public page, in this order: the bar, the panel, then the map and its
#: controls (a name each: its id, data-layer or accessible name).
REACHED = [
    "panel-toggle",
    "lang",
    "login-open",
    "图层",
    "admin",
    "grid",
    "risk",
    "warnings",
    "facility:hospital",
    "case-mode",
    "case-category",
    "case-from",
    "case-to",
    "case-dates-clear",
    "status:reported",
    "城市地图 City map",
    "放大 Zoom in",
    "缩小 Zoom out",
    "locate",
]
FOCUSED = """(() => { const e = document.activeElement; const s = getComputedStyle(e);
  return {name: e.id || e.dataset.layer || e.getAttribute('aria-label') || e.textContent.trim(),
          visible: e.matches(':focus-visible') && s.outlineStyle !== 'none'
                   && parseFloat(s.outlineWidth) >= 2}; })()"""


def test_every_control_is_reached_and_worked_with_the_keyboard(chrome: Browser, site: str) -> None:
    page, console = open_page(chrome, site, viewport=DESKTOP)
    try:
        reached: list[str] = []
        unseen: list[str] = []
        for _ in range(80):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused["name"] in reached:
                continue
            reached.append(focused["name"])
            if not focused["visible"] and focused["name"] in REACHED:
                unseen.append(focused["name"])
        positions = [reached.index(n) if n in reached else -1 for n in REACHED]
        assert -1 not in positions, [n for n in REACHED if n not in reached]
        assert positions == sorted(positions), reached  # bar → panel → map
        assert unseen == []  # each shows where the keyboard is

        # Every button says what it does, icon buttons included.
        nameless = page.evaluate(
            "[...document.querySelectorAll('button')].filter(b => b.offsetParent !== null"
            " && !(b.getAttribute('aria-label') || b.textContent).trim()).map(b => b.outerHTML)"
        )
        assert nameless == []

        # Enter and Space work the controls.
        page.focus("#lang")
        page.keyboard.press("Enter")
        assert page.inner_text("[data-tab=layers]") == "Layers"
        assert page.get_attribute("#locate", "aria-label") == "Show my location"
        page.keyboard.press("Space")
        assert page.inner_text("[data-tab=layers]") == "图层"
        jump(page, CENTRE, 16)
        schools = (
            "window.onemap.map.queryRenderedFeatures({layers: ['facilities'],"
            " filter: ['==', ['get', 'category'], 'school']}).length"
        )
        assert page.evaluate(schools) > 0
        page.focus("[data-layer='facility:school']")
        page.keyboard.press("Space")
        settle(page)
        assert page.evaluate(schools) == 0
        page.keyboard.press("Space")
        settle(page)
        assert page.evaluate(schools) > 0
        page.focus("#panel-toggle")
        page.keyboard.press("Enter")
        assert page.get_attribute("#panel-toggle", "aria-expanded") == "false"
        assert page.is_hidden("#panel")
        page.keyboard.press("Enter")
        assert page.is_visible("#panel")
        zoom = page.evaluate("window.onemap.map.getZoom()")
        page.focus(".maplibregl-ctrl-zoom-in")
        page.keyboard.press("Enter")
        until(page, f"window.onemap.map.getZoom() > {zoom + 0.5}")
        assert console.errors == []
    finally:
        page.context.close()
