"""The OGC API's HTML catalogue offline, in real headless Chromium (Debian's, driven by
Playwright) against a real ``onemap serve``: every request to another origin is aborted and
recorded, as if the machine had no internet. The landing page, the collections, a collection
and its items with their Leaflet map load with nothing from elsewhere, no asset answers 4xx or
5xx, the CSP reports nothing, and the items page shows the features SQL selects — in its table
and as markers on its map, over the city's districts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, Request, Response, Route
from starlette.testclient import TestClient

from tests.conftest import ROOT
from tests.mapview_helpers import chromium
from tests.running_server import running_server
from tests.test_mapview_browser import ARTIFACTS, Console, until

Conn = psycopg.Connection[Any]
#: Assets a page loads: stylesheets, scripts, images (links to other pages are not loaded).
ASSET = re.compile(r'<(?:link rel="(?:stylesheet|icon)"|script|img)[^>]*?(?:href|src)="([^"]+)"')


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class Visit:
    """A page opened with the network cut at the app's origin, and what it asked for."""

    page: Page
    console: Console
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)


def _offline(browser: Browser, base: str, path: str) -> Visit:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    visit = Visit(page, Console(page))
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))

    def route(route: Route, request: Request) -> None:
        if request.url.startswith(origin + "/") or request.url.startswith("data:"):
            route.continue_()
        else:
            visit.outside.append(request.url)
            route.abort("internetdisconnected")

    def response(answer: Response) -> None:
        if answer.status >= 400:
            visit.failed.append(f"{answer.status} {answer.url}")

    context.route("**/*", route)
    page.on("request", lambda r: visit.requested.append(r.url))
    page.on("response", response)
    page.on("requestfailed", lambda r: visit.failed.append(f"failed {r.url}: {r.failure}"))
    answer = page.goto(base + path)
    assert answer is not None and answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    page.wait_for_load_state("networkidle")
    return visit


def _clean(visit: Visit) -> None:
    assert visit.outside == [], "requests left the app's origin"
    assert visit.failed == []
    assert visit.console.errors == []


def test_landing_and_collections_pages_load_from_the_app_only(browser: Browser, base: str) -> None:
    visit = _offline(browser, base, "/ogc?f=html")
    try:
        page = visit.page
        assert "OneMap (一张图) OGC API" in page.inner_text("h1")
        # Bootstrap (from the app) styles the page: its sticky header is sticky.
        sticky = "getComputedStyle(document.querySelector('.sticky-top')).position"
        assert page.evaluate(sticky) == "sticky"
        assert any("/ogc/static/vendor/bootstrap/" in u for u in visit.requested)
        _clean(visit)
        page.click("text=View the collections in this service")
        page.wait_for_load_state("networkidle")
        text = page.inner_text("main")
        for title in ("Facilities (设施)", "Management grid (网格)", "Cases (城市管理案件)"):
            assert title in text
        assert "Cameras" not in text  # anonymous: the public catalogue
        _clean(visit)
    finally:
        visit.page.context.close()


def test_a_collection_page_maps_its_extent_over_the_districts(browser: Browser, base: str) -> None:
    visit = _offline(browser, base, "/ogc/collections/facilities?f=html")
    try:
        page = visit.page
        assert page.inner_text("h1").strip() == "Facilities (设施)"
        # the extent's rectangle and the city's districts, drawn as SVG paths by Leaflet
        until(
            page,
            "document.querySelectorAll('#collection-map .leaflet-overlay-pane path').length > 1",
        )
        districts = httpx.get(
            f"{base}/ogc/collections/admin_areas/items", params={"level": "district", "f": "json"}
        ).json()
        paths = page.evaluate(
            "document.querySelectorAll('#collection-map .leaflet-overlay-pane path').length"
        )
        assert paths == 1 + len(districts["features"])
        assert "tile" not in " ".join(visit.requested)  # no base map tiles from anywhere
        _clean(visit)
    finally:
        visit.page.context.close()


def test_the_items_page_shows_the_features_in_its_table_and_on_its_map(
    browser: Browser, base: str, db: Conn
) -> None:
    path = "/ogc/collections/facilities/items?f=html&category=hospital&limit=1000"
    visit = _offline(browser, base, path)
    try:
        page = visit.page
        hospitals = db.execute(
            "SELECT id, name_zh FROM facilities WHERE category = 'hospital' ORDER BY id"
        ).fetchall()
        assert len(hospitals) > 5
        rows = page.locator("#items-table tbody tr")
        assert rows.count() == len(hospitals)
        names = set(page.locator("#items-table tbody tr td:first-child").all_inner_texts())
        assert names == {str(name) for _, name in hospitals}
        # One marker per hospital (no clustering at the city's zoom), over the districts.
        markers = "document.querySelectorAll('#items-map .leaflet-marker-icon').length"
        until(page, f"{markers} === {len(hospitals)}")
        until(page, "document.querySelectorAll('#items-map .leaflet-overlay-pane path').length > 0")
        # A marker's popup names its hospital and links to its page.
        page.locator("#items-map .leaflet-marker-icon").first.click(force=True)
        popup = page.locator(".leaflet-popup-content a")
        popup.wait_for(timeout=5_000)
        assert popup.inner_text() in names
        assert re.search(
            r"/ogc/collections/facilities/items/\d+\?f=html$", popup.get_attribute("href") or ""
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "ogc-items-offline.png", full_page=True)
        _clean(visit)
        # The download link takes the page's filters, not its paging, and gives every hospital.
        href = page.get_attribute("#download-csv", "href") or ""
        assert "category=hospital" in href and "f=csv" in href and "limit" not in href
        csv_text = httpx.get(href).content.decode("utf-8-sig")
        assert len(csv_text.strip().splitlines()) == 1 + len(hospitals)
    finally:
        visit.page.context.close()


def test_an_item_page_and_the_queryables_load_from_the_app_only(
    browser: Browser, base: str, db: Conn
) -> None:
    row = db.execute("SELECT id, name_zh FROM facilities WHERE category = 'school' LIMIT 1")
    fid, name = row.fetchone()  # type: ignore[misc]
    visit = _offline(browser, base, f"/ogc/collections/facilities/items/{fid}?f=html")
    try:
        page = visit.page
        assert page.inner_text("h1").strip() == name
        until(page, "document.querySelectorAll('#items-map .leaflet-marker-icon').length === 1")
        _clean(visit)
        page.goto(f"{base}/ogc/collections/facilities/queryables?f=html")
        page.wait_for_load_state("networkidle")
        assert "capacity" in page.inner_text("main")
        _clean(visit)
    finally:
        visit.page.context.close()


# --- in process: every asset of every page, and the pins ----------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/ogc?f=html",
        "/ogc/conformance?f=html",
        "/ogc/collections?f=html",
        "/ogc/collections/grid_cells?f=html",
        "/ogc/collections/grid_cells/items?f=html&limit=5",
        "/ogc/collections/grid_cells/items/1?f=html",
        "/ogc/collections/grid_cells/queryables?f=html",
        "/ogc/collections/grid_cells/schema?f=html",
        "/ogc/TileMatrixSets?f=html",
        "/ogc/TileMatrixSets/WebMercatorQuad?f=html",
    ],
)
def test_every_asset_of_every_page_is_the_apps(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "unsafe" not in r.headers["content-security-policy"]
    assert "<script>" not in r.text and " style=" not in r.text  # nothing inline
    assets = ASSET.findall(r.text)
    assert any("bootstrap" in a for a in assets)
    for asset in assets:
        assert asset.startswith(str(client.app.state.settings.server.base_url) + "/ogc/static/")  # type: ignore[attr-defined]
        assert client.get(asset).status_code == 200, asset


def test_the_pages_libraries_are_served_as_pinned_with_their_licences(client: TestClient) -> None:
    package = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]
    served = client.get("/ogc/static/vendor/versions.json").json()
    assert set(served) == {"bootstrap", "leaflet", "leaflet.markercluster"}
    assert served.items() <= package.items()
    for name in served:
        licence = client.get(f"/ogc/static/vendor/{name}/LICENSE")
        assert licence.status_code == 200 and "Copyright" in licence.text
    assert client.get("/ogc/static/css/default.css").status_code == 200  # pygeoapi's own
    assert client.get("/ogc/static/nothing.css").status_code == 404
