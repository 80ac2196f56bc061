"""The map view at ``/`` in real headless Chromium (Debian's, driven by Playwright).

A real ``onemap serve`` subprocess on the session city; MapLibre renders with WebGL on
SwiftShader. One browser for the module; the public page and the logged-in page are each loaded
once and shared by the tests that need them. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.conftest import ROOT
from tests.gql_helpers import operation
from tests.running_server import running_server

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    # WebGL without a GPU: ANGLE on SwiftShader (software), which MapLibre needs.
    "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    # WebRTC on 127.0.0.1: loopback candidates, real addresses instead of mDNS names; autoplay.
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
DISPATCHER = ("13800000006", "onemap-demo")
CENTRE = [121.475, 31.235]
#: Every tile, style and label request finished and drawn.
SETTLED = (
    "(() => { const m = window.onemap && window.onemap.map;"
    " return !!(m && m.getSource('facilities') && m.loaded() && m.areTilesLoaded()); })()"
)
RENDERED = (
    "(() => { const c = {}; for (const f of window.onemap.map.queryRenderedFeatures())"
    " c[f.layer.id] = (c[f.layer.id] || 0) + 1; return c; })()"
)


class Console:
    """A page's console errors and uncaught exceptions: each test ends asserting there were none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} at {message.location.get('url')}")


def until(page: Page, expression: str, timeout_s: float = 20) -> Any:
    """Poll ``expression`` in the page (wait_for_function evals strings, which the page's CSP
    rightly forbids; evaluate goes through the debugger)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        time.sleep(0.1)


def settle(page: Page) -> None:
    until(page, SETTLED, 30)


def jump(page: Page, centre: list[float], zoom: float) -> None:
    page.evaluate(f"window.onemap.map.jumpTo({{center: {centre}, zoom: {zoom}}})")
    settle(page)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"mapview-{name}.png")


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with running_server(database_url, ONEMAP_STREAMS_ICE_HOST_ADDRESSES='["127.0.0.1"]') as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Browser, base: str, **context: Any) -> tuple[Page, Console]:
    page = browser.new_context(**context).new_page()
    console = Console(page)
    response = page.goto(f"{base}/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    settle(page)
    return page, console


@pytest.fixture(scope="module")
def public(browser: Browser, base: str) -> Iterator[tuple[Page, Console]]:
    page, console = open_page(browser, base, viewport={"width": 1280, "height": 800})
    yield page, console
    page.context.close()


def log_in(page: Page, phone: str, password: str) -> None:
    page.click("#login-open")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    page.click("#login-form [type=submit]")


@pytest.fixture(scope="module")
def staff(browser: Browser, base: str) -> Iterator[tuple[Page, Console]]:
    page, console = open_page(browser, base, viewport={"width": 1280, "height": 800})
    log_in(page, *DISPATCHER)
    page.wait_for_selector("#logout:not([hidden])")
    until(page, "!!window.onemap.map.getSource('cameras')")
    settle(page)
    yield page, console
    page.context.close()


def test_the_public_page_draws_the_city_from_the_tiles(public: tuple[Page, Console]) -> None:
    page, console = public
    overview = page.evaluate(RENDERED)
    assert overview.get("districts", 0) >= 6 and overview.get("streets", 0) >= 48, overview
    assert overview.get("cases-heat", 0) > 100, overview  # the public (anonymised) cases
    until(
        page, "window.onemap.map.queryRenderedFeatures({layers: ['district-labels']}).length >= 6"
    )
    names = page.evaluate(
        "window.onemap.map.queryRenderedFeatures({layers: ['district-labels']})"
        ".map(f => [f.properties.name_zh, f.properties.name_en])"
    )
    assert all(zh and en for zh, en in names), names  # labels in Chinese and English
    assert len({zh for zh, _ in names}) == len(names)  # one label per district
    shot(page, "public-overview")

    jump(page, CENTRE, 15.5)
    close = page.evaluate(RENDERED)
    for layer in ("facilities", "cases", "grid-lines", "communities"):
        assert close.get(layer, 0) > 0, (layer, close)
    assert page.evaluate("window.onemap.map.getLayer('cameras')") is None  # staff only
    categories = page.evaluate(
        "[...new Set(window.onemap.map.queryRenderedFeatures({layers: ['facilities']})"
        ".map(f => f.properties.category))]"
    )
    assert "hazard_source" not in categories  # internal data stays internal
    # Pixels too: the map as a person sees it is drawn, not blank.
    picture = Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB")
    colours = len(picture.resize((128, 80)).getcolors(maxcolors=128 * 80) or [])
    assert colours > 20, colours
    shot(page, "public-street")
    assert console.errors == []


def test_clicking_a_facility_opens_its_popup_and_the_legend_toggles(
    public: tuple[Page, Console],
) -> None:
    page, console = public
    jump(page, CENTRE, 16)
    target = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        " const f = m.queryRenderedFeatures({layers: ['facilities']}).find(f => {"
        "   const p = m.project(f.geometry.coordinates);"
        "   return p.x > 80 && p.y > 80 && p.x < c.width - 80 && p.y < c.height - 80; });"
        " const p = m.project(f.geometry.coordinates);"
        " return {x: p.x + c.left, y: p.y + c.top, name: f.properties.name_zh,"
        "         category: f.properties.category}; })()"
    )
    page.mouse.click(target["x"], target["y"])
    popup = page.wait_for_selector(".popup-facility")
    assert target["name"] in popup.inner_text()
    shot(page, "facility-popup")

    category = target["category"]
    count = f"window.onemap.map.queryRenderedFeatures({{layers: ['facilities'], filter: ['==', ['get', 'category'], '{category}']}}).length"  # noqa: E501
    assert page.evaluate(count) > 0
    page.uncheck(f"[data-layer='facility:{category}']")
    settle(page)
    assert page.evaluate(count) == 0
    page.check(f"[data-layer='facility:{category}']")
    settle(page)
    assert page.evaluate(count) > 0

    page.click("#lang")
    assert page.inner_text("[data-tab=layers]") == "Layers"
    page.click("#lang")
    assert page.inner_text("[data-tab=layers]") == "图层"
    assert console.errors == []


def test_a_wrong_password_is_refused_by_the_real_endpoint(public: tuple[Page, Console]) -> None:
    page, console = public
    log_in(page, DISPATCHER[0], "not-the-password")
    message = page.wait_for_selector("#login-error:not(:empty)").inner_text()
    assert "登录失败" in message
    assert page.is_hidden("#logout")
    page.click("#login-cancel")
    # The browser logs the refused request (401): that one is expected.
    console.errors[:] = [e for e in console.errors if "/api/v1/auth/token" not in e]
    assert console.errors == []


def _graphql(base: str, token: str, name: str, op: str, variables: dict[str, Any]) -> Any:
    response = httpx.post(f"{base}/graphql", headers={"Authorization": f"Bearer {token}"},
                          json={"query": operation(name), "operationName": op,
                                "variables": variables})  # fmt: skip
    return response.json()


def test_login_shows_internal_layers_and_the_incident_tool_draws_and_lists(
    staff: tuple[Page, Console], base: str, tokens: Any, database_url: str
) -> None:
    page, console = staff
    assert "dispatcher" in page.inner_text("#who")
    jump(page, CENTRE, 15)
    rendered = page.evaluate(RENDERED)
    assert rendered.get("cameras", 0) > 0, rendered
    page.click("[data-tab=incident]")
    page.select_option("#incident-radius", "1000")
    page.click("#incident-pick")
    box = page.locator("#map").bounding_box()
    assert box is not None
    x, y = box["width"] / 2, box["height"] / 2
    lon, lat = page.evaluate(f"window.onemap.map.unproject([{x}, {y}]).toArray()")
    page.click("#map", position={"x": x, "y": y})
    page.wait_for_selector("#incident-results [data-section=cameras]")
    settle(page)

    # What the page lists is what GraphQL answers for that point.
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE phone = %s", [DISPATCHER[0]]).fetchone()
    assert row is not None
    token = tokens.issue_access(row[0], ["dispatcher"])
    answer = _graphql(base, token, "incident", "IncidentContext",
                      {"lon": lon, "lat": lat, "radiusM": 1000.0})["data"]["incident"]  # fmt: skip
    sections = {
        "grid_hit": "gridCells", "hazards": "hazards", "affected": "affectedUnits",
        "resources": "resources", "cameras": "cameras", "open_cases": "openCases",
    }  # fmt: skip
    for section, field in sections.items():
        shown = page.locator(f"[data-section={section}] li").count()
        assert shown == len(answer[field]), (section, shown, len(answer[field]))
    assert answer["cameras"] and answer["gridCells"] and answer["resources"]
    assert page.locator("[data-section=cameras] button.play").count() == len(answer["cameras"])

    drawn = page.evaluate(
        "window.onemap.map.queryRenderedFeatures({layers: ['incident-points', 'incident-area']})"
        ".map(f => f.properties.kind)"
    )
    assert "area" in drawn and "centre" in drawn and "camera" in drawn, sorted(set(drawn))
    hit = page.evaluate(
        "window.onemap.map.queryRenderedFeatures({layers: ['grid-hit']})"
        ".filter(f => f.state.hit).map(f => String(f.id))"
    )
    assert set(hit) <= {c["id"] for c in answer["gridCells"]} and hit
    shot(page, "incident")
    assert console.errors == []


def _audited_views(database_url: str, camera_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'camera.view.start' AND object_id = %s",
            [camera_id],
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_camera_popup_plays_live_video(staff: tuple[Page, Console], database_url: str) -> None:
    page, console = staff
    jump(page, CENTRE, 13)
    near = page.evaluate(
        "window.onemap.map.queryRenderedFeatures({layers: ['cameras']})[0].geometry.coordinates"
    )
    jump(page, near, 16)  # the camera is now in the middle of the map, away from the panel
    camera = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        " const [f] = m.queryRenderedFeatures(m.project(m.getCenter()), {layers: ['cameras']});"
        " const p = m.project(f.geometry.coordinates);"
        " return {x: p.x + c.left, y: p.y + c.top, id: String(f.id)}; })()"
    )
    camera_id = camera["id"]
    before = _audited_views(database_url, camera_id)
    page.mouse.click(camera["x"], camera["y"])
    page.wait_for_selector(f".popup-camera[data-camera-id='{camera_id}']")
    until(page, "(document.querySelector('.popup-camera video') || {}).videoWidth > 0", 30)
    first = page.evaluate("document.querySelector('.popup-camera video').currentTime")
    time.sleep(1.5)
    later = page.evaluate("document.querySelector('.popup-camera video').currentTime")
    assert later > first + 0.5, (first, later)
    assert page.inner_text(".popup-camera .video-state") == ""
    assert _audited_views(database_url, camera_id) == before + 1  # every viewing is audited
    shot(page, "camera-video")
    page.click(".maplibregl-popup-close-button")  # ends the viewing session
    until(page, "!document.querySelector('.popup-camera')")
    time.sleep(0.5)
    # streams/static/whep.js's stop() closes the peer connection before it sends its DELETE, so
    # the server may have ended the session already and answer that DELETE with 404: a race in
    # the shared WHEP client (reported), not an error of this page.
    console.errors[:] = [e for e in console.errors if not ("404" in e and "/whep/" in e)]
    assert console.errors == []


def _create_case(base: str, token: str) -> str:
    result = _graphql(base, token, "dispatch_flow", "CreateCase", {"input": {
        "category": "garbage_overflow", "lon": CENTRE[0], "lat": CENTRE[1],
        "description": "地图视图测试"}})["data"]["createCase"]  # fmt: skip
    assert result["__typename"] == "CasePayload", result
    return str(result["case"]["id"])


def test_case_popup_shows_the_timeline_and_live_updates_arrive(
    staff: tuple[Page, Console], base: str, tokens: Any, database_url: str
) -> None:
    page, console = staff
    jump(page, CENTRE, 13)
    near = page.evaluate(
        "window.onemap.map.queryRenderedFeatures({layers: ['cases']})[0].geometry.coordinates"
    )
    jump(page, near, 16.5)
    target: Callable[[], Any] = lambda: page.evaluate(  # noqa: E731
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        " const [f] = m.queryRenderedFeatures(m.project(m.getCenter()), {layers: ['cases']});"
        " const p = m.project(f.geometry.coordinates);"
        " return {x: p.x + c.left, y: p.y + c.top, publicId: f.properties.public_id}; })()"
    )
    found = target()
    page.mouse.click(found["x"], found["y"])
    popup = page.wait_for_selector(".popup-case")
    page.wait_for_selector(".popup-case .timeline li")
    assert found["publicId"] in popup.inner_text()
    shot(page, "case-popup")
    page.click(".maplibregl-popup-close-button")

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE phone = %s", [DISPATCHER[0]]).fetchone()
    assert row is not None
    page.click("[data-tab=feed]")
    # The new case stays in the session's throw-away city (case_events is append-only).
    case_id = _create_case(base, tokens.issue_access(row[0], ["dispatcher"]))
    item = page.wait_for_selector(f"#feed [data-case-id='{case_id}']", timeout=15000)
    assert "垃圾满溢" in item.inner_text()
    page.click(f"#feed [data-case-id='{case_id}'] button")  # flies to it
    until(page, "window.onemap.map.queryRenderedFeatures({layers: ['live']})"
                f".some(f => String(f.properties.id) === '{case_id}')")  # fmt: skip
    shot(page, "live-update")
    assert console.errors == []


def test_logging_out_returns_to_the_public_view(staff: tuple[Page, Console]) -> None:
    page, console = staff
    page.click("#logout")
    page.wait_for_selector("#login-open:not([hidden])")
    until(page, "!window.onemap.map.getSource('cameras')")
    settle(page)
    assert page.is_hidden("[data-tab=incident]") and page.is_hidden("#live")
    assert "公开视图" in page.inner_text("#view-note")
    assert console.errors == []


def test_a_phone_sized_viewport(browser: Browser, base: str) -> None:
    page, console = open_page(browser, base, viewport={"width": 390, "height": 844},
                              is_mobile=True, has_touch=True, device_scale_factor=2)  # fmt: skip
    try:
        canvas = page.locator("canvas.maplibregl-canvas").bounding_box()
        assert canvas is not None and canvas["width"] == 390
        assert page.is_hidden("#panel")  # folded away; the map gets the screen
        assert page.is_visible("#login-open")
        page.click("#panel-toggle")
        panel = page.locator("#panel").bounding_box()
        assert panel is not None and panel["width"] == 390 and panel["y"] > 844 / 3  # bottom sheet
        assert page.evaluate(RENDERED).get("districts", 0) > 0
        shot(page, "phone")
        assert console.errors == []
    finally:
        page.context.close()
