"""The map view shows the warnings in force (预警发布) to everyone: each area filled in its
severity's colour, and a click on it reads the headline, severity, area and time limit, in
real headless Chromium against a running server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from server.kernel.auth.tokens import TokenService
from tests.mapview_helpers import DESKTOP, chromium, element, popup_text, token_of
from tests.mobile_helpers import key
from tests.running_server import running_server
from tests.test_mapview_browser import jump, open_page, shot, until
from tests.warning_helpers import inside_facility, square, warning_body

OFFICER = "13800000017"  # the demo warning officer (seed/load.py)


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def issue(site: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(
        f"{site}/api/v1/warnings",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key()},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_warning_is_drawn_in_its_colour_and_its_popup_reads_as_words(
    site: str, chrome: Browser, tokens: TokenService, database_url: str
) -> None:
    _, lon, lat = inside_facility(database_url, offset=17)
    body = warning_body(square(lon, lat), severity="Severe")
    made = issue(site, token_of(tokens, database_url, OFFICER), body)

    page, console = open_page(chrome, site, viewport=DESKTOP)
    mine = f"f => f.properties.identifier === '{made['identifier']}'"
    found = (
        "window.onemap.map.getSource('warnings') && window.onemap.map"
        f".querySourceFeatures('warnings').some({mine})"
    )
    until(page, found)
    # a point of the area away from the facility at its centre: only the warning is there
    at = [lon + 0.002, lat + 0.002]
    jump(page, at, 15)
    colour = page.evaluate(
        "(() => { const m = window.onemap.map; const p = m.project(%s);"
        " const f = m.queryRenderedFeatures(p, {layers: ['warnings-fill']})"
        f".find(f => f.properties.identifier === '{made['identifier']}');"
        " return f && f.layer.paint['fill-color'].toString(); })()" % at
    )
    assert colour is not None, "the warning's area is not drawn there"
    assert colour == "rgba(247,127,0,1)", colour  # #f77f00, severe's orange (vocab.js)

    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const p = m.project({at}); return [p.x + c.left, p.y + c.top]; }})()"
    )
    page.mouse.click(x, y)
    element(page, ".popup-warning")
    text = popup_text(page, ".popup-warning")
    zh, en = body["texts"]["zh-CN"], body["texts"]["en-US"]
    for expected in (
        zh["headline"],
        en["headline"],
        zh["instruction"],
        "严重",
        "有效至",
        body["area_desc"],
        "CAP 1.2 XML",
    ):
        assert expected in text, (expected, text)
    link = page.get_attribute(".popup-warning a", "href")
    assert link == f"{site}/cap/alerts/{made['identifier']}.xml"
    shot(page, "popup-warning")
    page.click(".maplibregl-popup-close-button")
    # the layers panel turns the warnings off and on
    visibility = "window.onemap.map.getLayoutProperty('warnings-fill', 'visibility')"
    page.uncheck("[data-layer='warnings']")
    assert page.evaluate(visibility) == "none"
    page.check("[data-layer='warnings']")
    assert page.evaluate(visibility) == "visible"
    assert console.errors == []
    page.context.close()
