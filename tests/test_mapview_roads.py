"""The map view draws the roads as the city's base (issue 16, item 1), in real headless
Chromium: main roads from the city view, local streets close up, named along their lines,
under the grid, the areas and every point layer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.test_mapview_browser import (
    ARGS,
    CENTRE,
    CHROMIUM,
    RENDERED,
    Console,
    jump,
    open_page,
    shot,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(database_url: str) -> Iterator[tuple[Page, Console]]:
    from playwright.sync_api import sync_playwright

    from tests.running_server import running_server

    with running_server(database_url) as base, sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield open_page(browser, base, viewport={"width": 1280, "height": 800})
        finally:
            browser.close()


def test_the_roads_are_the_base_of_the_map(page: tuple[Page, Console]) -> None:
    view, console = page
    order = view.evaluate("window.onemap.map.getStyle().layers.map(l => l.id)")
    roads = [i for i, name in enumerate(order) if name.startswith("roads-")]
    assert roads, order
    # on the land and the districts' fill, under everything else drawn from the tiles
    assert order.index("districts-fill") < min(roads)
    for above in ("grid-lines", "communities", "districts", "cases", "facilities"):
        assert max(roads) < order.index(above), (above, order)

    jump(view, CENTRE, 11)
    city = view.evaluate(RENDERED)
    assert city.get("roads-expressway", 0) > 0 and city.get("roads-arterial", 0) > 20, city
    assert city.get("roads-minor", 0) == 0, city  # generalised away at the city view
    shot(view, "roads-city")

    jump(view, CENTRE, 15.5)
    close = view.evaluate(RENDERED)
    assert close.get("roads-minor", 0) > 20, close
    names = view.evaluate(
        "window.onemap.map.queryRenderedFeatures({layers: ['road-labels', 'road-labels-local']})"
        ".map(f => f.properties.name_zh)"
    )
    assert names and all(names), names  # streets named along their lines
    shot(view, "roads-street")
    assert console.errors == []
