"""Buildings on the map view (docs/base-data.md, docs/mapview.md) in real headless Chromium
against a running server: a dispatcher (read_internal) sees the footprints at high zoom and a
click opens a popup whose visible text holds the building's floors, use, address and grid
cell as the database has them; the public map neither asks for the buildings' tiles nor shows
them, and the policy gives a citizen's token no buildings layer either."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from server.kernel.auth.tokens import TokenService
from tests.mapview_helpers import chromium, element, one, readable, signed_in
from tests.running_server import running_server
from tests.test_mapview_browser import DISPATCHER, jump, open_page, settle, until

#: A building with nothing else clickable within 40 m of a point inside it: a click there at
#: zoom 18 can only mean the building. The one with the most floors, for a telling popup.
#: (0.0005° is 47–55 m at the city's latitude, and lets the GiST indexes answer: the same test
#: on geography took a minute a call.)
QUIET_BUILDING = """
WITH b AS (SELECT b.*, ST_PointOnSurface(b.geom) AS p FROM buildings b
           WHERE b.address_id IS NOT NULL)
SELECT b.id, ST_X(b.p), ST_Y(b.p), b.floors, b.use, a.label_zh, g.name, g.code
FROM b JOIN addresses a ON a.id = b.address_id JOIN grid_cells g ON g.id = b.grid_cell_id
WHERE NOT EXISTS (SELECT 1 FROM facilities f
                  WHERE ST_DWithin(f.geom, b.p, 0.0005))
AND NOT EXISTS (SELECT 1 FROM cases c WHERE ST_DWithin(c.geom, b.p, 0.0005))
AND NOT EXISTS (SELECT 1 FROM cameras k WHERE ST_DWithin(k.geom, b.p, 0.0005))
AND NOT EXISTS (SELECT 1 FROM sta_locations l
                WHERE ST_DWithin(l.geom, b.p, 0.0005))
ORDER BY b.floors DESC, b.id LIMIT 1
"""
USES = {"residential": "住宅", "office": "办公", "commercial": "商业", "school": "学校",
        "hospital": "医院", "industrial": "工业", "mixed": "商住混合"}  # fmt: skip


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def quiet(database_url: str) -> tuple[Any, ...]:
    """The quiet building: (id, lon, lat, floors, use, address, cell name, cell code)."""
    return tuple(one(database_url, QUIET_BUILDING))


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_a_dispatcher_clicks_a_building_and_reads_its_floors_use_address_and_cell(
    site: str, chrome: Browser, quiet: tuple[Any, ...]
) -> None:
    building, lon, lat, floors, use, address, cell, code = quiet
    page, console = signed_in(chrome, site, *DISPATCHER)
    jump(page, [lon, lat], 18)
    drawn = "window.onemap.map.queryRenderedFeatures({layers: ['buildings']})"
    until(page, f"{drawn}.some(f => String(f.id) === '{building}')")
    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const p = m.project([{lon}, {lat}]); return [p.x + c.left, p.y + c.top]; }})()"
    )
    page.mouse.click(x, y)
    element(page, f".popup-building[data-id='{building}'][data-loaded=true]")
    text = readable(page.inner_text(".popup-building"))
    assert f"{floors} 层" in text, text
    assert USES[use] in text and address in text, text
    assert cell in text and code in text, text
    assert "[object" not in text and "HTMLElement" not in text

    # below z15 the footprints are not drawn
    jump(page, [lon, lat], 13)
    assert page.evaluate(f"{drawn}.length") == 0
    assert console.errors == []


def test_the_public_map_neither_asks_for_buildings_nor_shows_them(
    site: str, chrome: Browser, database_url: str, tokens: TokenService, quiet: tuple[Any, ...]
) -> None:
    _, lon, lat, *_ = quiet
    asked: list[str] = []
    page, console = open_page(chrome, site)
    page.on("request", lambda r: asked.append(r.url) if "buildings" in r.url else None)
    jump(page, [lon, lat], 18)
    settle(page)
    assert page.evaluate("!!window.onemap.map.getSource('buildings')") is False
    layers = page.evaluate("window.onemap.map.getStyle().layers.map(l => l.id)")
    assert "buildings" not in layers
    assert asked == []
    assert console.errors == []

    # the policy: a citizen's map has no buildings layer; its tiles are refused
    citizen = one(database_url, "SELECT id FROM users WHERE 'citizen' = ANY(roles) LIMIT 1")[0]
    token = str(tokens.issue_access(citizen, ["citizen"]))
    mine = httpx.get(f"{site}/mapview/access", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200 and "buildings" not in mine.json()["layers"]
    tile = httpx.get(
        f"{site}/ogc/collections/buildings/tiles/WebMercatorQuad/16/26800/54890",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert tile.status_code in (401, 403, 404), tile.status_code
