"""The API reference pages (``/docs/api``, ``/docs/ogc``) in real headless Chromium (Debian's,
driven by Playwright) against a real ``onemap serve``: every operation of the served document
is listed with its method, path, summary and operationId, a request body's example is shown,
and nothing is loaded from elsewhere (the page's CSP would log it as an error)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from starlette.testclient import TestClient

from tests.conftest import ROOT
from tests.mapview_helpers import chromium
from tests.running_server import running_server
from tests.test_mapview_browser import ARTIFACTS, Console, until

METHODS = ("get", "put", "post", "delete", "patch", "options")
#: What a reader sees of each operation: method, path, operationId, summary.
LISTED = (
    "Array.from(document.querySelectorAll('.opblock')).map(b => ["
    " b.querySelector('.opblock-summary-method').innerText.trim(),"
    " b.querySelector('.opblock-summary-path').innerText.replace(/\\u200b/g, '').trim(),"
    " (b.querySelector('.opblock-summary-operation-id') || {innerText: ''}).innerText.trim(),"
    " (b.querySelector('.opblock-summary-description') || {innerText: ''}).innerText.trim()])"
)


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_swagger_ui_is_served_as_pinned_with_its_licence(client: TestClient) -> None:
    package = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]
    served = client.get("/docs/static/vendor/versions.json").json()
    mapview = client.get("/mapview/static/vendor/versions.json").json()
    assert served == {"swagger-ui-dist": package["swagger-ui-dist"]}
    ogc_pages = client.get("/ogc/static/vendor/versions.json").json()
    # every browser library pinned is served (the OGC HTML pages': their own folder), no other
    assert served | mapview | ogc_pages == package
    licence = client.get("/docs/static/vendor/swagger-ui-dist/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text
    page = client.get("/docs/api")
    assert page.status_code == 200 and "unsafe" not in page.headers["content-security-policy"]
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        if not src.startswith(".."):  # the documents; the rest are the page's own files
            assert client.get(f"/docs/{src}").status_code == 200, src
    assert client.get("/docs", follow_redirects=False).headers["location"] == "docs/api"


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (method.upper(), path, op["operationId"], op.get("summary", ""))
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    )


def _open(browser: Browser, url: str) -> tuple[Page, Console]:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    console = Console(page)
    response = page.goto(url)
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return page, console


def _listed(page: Page, expected: int) -> list[tuple[str, str, str, str]]:
    until(page, f"document.querySelectorAll('.opblock').length >= {expected}", 30)
    return sorted(tuple(row) for row in page.evaluate(LISTED))


def test_the_citizen_api_reference_lists_every_operation(browser: Browser, base: str) -> None:
    doc = httpx.get(f"{base}/api/v1/openapi.json").json()
    expected = _operations(doc)
    assert len(expected) >= 40
    page, console = _open(browser, f"{base}/docs/api")
    try:
        assert _listed(page, len(expected)) == expected
        text = page.inner_text("body")
        assert doc["info"]["title"] in text and "OneMap (一张图) API reference" in text
        assert "[object" not in text and "undefined" not in text
        # An operation opened shows its request body's example, as the document has it.
        page.click("#operations-auth-requestLoginCode .opblock-summary")
        body = page.locator("#operations-auth-requestLoginCode .body-param__example")
        body.wait_for(timeout=10_000)
        assert '"phone": "13700000001"' in body.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "reference-api.png")
        assert console.errors == []
    finally:
        page.context.close()


def test_the_ogc_api_reference_lists_every_operation(browser: Browser, base: str) -> None:
    doc = httpx.get(f"{base}/ogc/openapi", params={"f": "json"}).json()
    expected = _operations(doc)
    # The link pygeoapi's pages give (f=html) leads to this page.
    moved = httpx.get(f"{base}/ogc/openapi", params={"f": "html"})
    assert moved.status_code == 303 and moved.headers["location"].endswith("/docs/ogc")
    page, console = _open(browser, f"{base}/docs/ogc")
    try:
        listed = _listed(page, len(expected))
        assert listed == expected
        assert ("GET", "/collections/facilities/items", "getFacilitiesFeatures") in {
            row[:3] for row in listed
        }
        page.click("nav a[href='api']")
        page.wait_for_url(f"{base}/docs/api")
        until(page, "document.querySelectorAll('.opblock').length > 0", 30)
        assert console.errors == []
    finally:
        page.context.close()
