"""The map view's search box in real headless Chromium, read as a person reads it: the hits it
lists, and the popup a picked hit opens after the map flies there — by mouse and by keyboard,
for a facility, an area, a case (staff, by its public id) and a case category."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.mapview_helpers import DESKTOP, chromium, one, popup_text, readable, signed_in, vocab
from tests.running_server import running_server
from tests.test_mapview_browser import DISPATCHER, open_page, until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def _search(page: Page, text: str) -> list[str]:
    """Type ``text`` as a person does; the hits' visible texts once listed."""
    page.fill("#search-text", "")
    page.type("#search-text", text, delay=20)
    page.wait_for_selector("#search-results:not([hidden]) li")
    return [readable(t) for t in page.locator("#search-results li").all_inner_texts()]


def _popup(page: Page, kind: str) -> str:
    page.wait_for_selector(f".popup-{kind}", timeout=20_000)
    until(page, "!window.onemap.map.isMoving()")
    return popup_text(page, f".popup-{kind}")


def test_a_facility_is_found_flown_to_and_opened(
    chrome: Browser, site: str, database_url: str
) -> None:
    name_zh, name_en, address, category = one(
        database_url, "SELECT name_zh, name_en, address, category FROM facilities WHERE "
        "category = 'hospital' AND address IS NOT NULL ORDER BY id LIMIT 1")  # fmt: skip
    page, console = open_page(chrome, site, viewport=DESKTOP)
    try:
        hits = _search(page, name_zh)
        label = vocab("FACILITY_CATEGORIES")[category]
        assert name_zh in hits[0] and "设施" in hits[0] and label in hits[0]
        page.locator("#search-results button").first.click()
        text = _popup(page, "facility")
        assert name_zh in text and name_en in text and address in text and label in text
        assert page.evaluate("window.onemap.map.getZoom()") >= 16
        assert console.errors == []
    finally:
        page.close()


def test_the_keyboard_picks_an_area_and_english_titles_follow_the_language(
    chrome: Browser, site: str, database_url: str
) -> None:
    zh, en = one(database_url, "SELECT name_zh, name_en FROM admin_areas WHERE level = "
                 "'community' ORDER BY id LIMIT 1")  # fmt: skip
    page, _ = open_page(chrome, site, viewport=DESKTOP)
    try:
        page.click("#lang")  # English
        hits = _search(page, zh)
        assert en in hits[0] and "Community" in hits[0]
        page.focus("#search-text")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        text = _popup(page, "area")
        assert zh in text and en in text
        page.fill("#search-text", "")
        page.type("#search-text", "zz qq", delay=20)
        page.wait_for_selector("#search-results:not([hidden]) .empty")
        assert "Nothing found" in page.inner_text("#search-results")
        page.keyboard.press("Escape")
        assert page.is_hidden("#search-results")
    finally:
        page.close()


def test_staff_find_a_case_by_its_number(chrome: Browser, site: str, database_url: str) -> None:
    public_id, category = one(database_url, "SELECT public_id, category FROM cases WHERE status "
                              "= 'dispatched' ORDER BY id LIMIT 1")  # fmt: skip
    page, _ = signed_in(chrome, site, *DISPATCHER)
    try:
        hits = _search(page, public_id)
        assert public_id in hits[0] and "案件" in hits[0]
        page.locator("#search-results button").first.click()
        text = _popup(page, "case")
        assert public_id in text and vocab("CASE_CATEGORIES")[category] in text
        assert vocab("CASE_STATUSES")["dispatched"] in text
    finally:
        page.close()


def test_a_category_filters_the_cases_layer(chrome: Browser, site: str) -> None:
    page, _ = open_page(chrome, site, viewport=DESKTOP)
    try:
        hits = _search(page, "垃圾满溢")
        assert "案件类别" in hits[0]
        page.locator("#search-results button").first.click()
        assert page.input_value("#case-category") == "garbage_overflow"
        assert "垃圾满溢" in page.inner_text("#toast")
    finally:
        page.close()
