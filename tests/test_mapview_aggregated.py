"""The map view on honest tiles, in real headless Chromium: where a tile holds more cases than
the server draws one by one it sends cells with counts (docs/ogc.md), and the page shows them
as discs that say how many cases and of which status; the filter panel filters on the server,
so the cells count only what is chosen. The server runs with a tile budget of 5 features, so
the test city's tiles aggregate as a big city's do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.mapview_helpers import DESKTOP, chromium, click_feature, popup_text, vocab
from tests.running_server import running_server
from tests.test_mapview_browser import CENTRE, jump, open_page, settle, until

pytestmark = pytest.mark.slow
CELLS = "window.onemap.map.queryRenderedFeatures({layers: ['case-cells']}).map(f => f.properties)"


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url, ONEMAP_OGC_TILE_FEATURE_CAP="5") as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_cells_say_how_many_cases_and_filters_reach_the_server(chrome: Browser, site: str) -> None:
    page, console = open_page(chrome, site, viewport=DESKTOP)
    tile_urls: list[str] = []
    page.on("request", lambda r: tile_urls.append(r.url) if "/cases/tiles/" in r.url else None)
    try:
        page.select_option("#case-mode", "points")
        jump(page, CENTRE, 12)
        until(page, f"{CELLS}.length > 0")
        cells = page.evaluate(CELLS)
        assert all(c["count"] >= 1 and c["aggregated"] for c in cells)
        # Each cell's statuses add up to its count (the open statuses: the panel's default).
        for c in cells:
            assert sum(v for k, v in c.items() if k.startswith("status_")) == c["count"]

        click_feature(page, "case-cells", 12, "f.properties.count > 1")
        page.wait_for_selector(".popup-cell")
        text = popup_text(page, ".popup-cell")
        assert "件案件" in text and "放大" in text
        statuses = vocab("CASE_STATUSES")
        assert any(label in text for label in statuses.values())

        # Only "reported": the server filters, so every cell holds reported cases only.
        tile_urls.clear()
        for code in statuses:
            box = page.locator(f"[data-layer='status:{code}']")
            if box.count() and box.is_checked() and code != "reported":
                box.uncheck()
        settle(page)
        # The cells drawn from the tiles before the filter stay until the filtered ones land:
        # wait for the map to hold only the new ones (it never does if the server ignored it).
        until(page, f"{CELLS}.length > 0 && {CELLS}.every(c => c.status_reported === c.count)")
        assert tile_urls and all("filter=" in u and "reported" in u for u in tile_urls)
        for c in page.evaluate(CELLS):
            assert c.get("status_reported") == c["count"], c
        assert console.errors == []
    finally:
        page.close()
