"""Cross-origin access (server.kernel.cors): preflights answered on every surface, the
policy's default (the app's own origin; localhost in development), refusals a person can act
on, the GraphQL WebSocket's Origin check — and, in real headless Chromium, a dashboard page
served from another port that uses GraphQL (HTTP and WebSocket), a vector tile and the citizen
API when its origin is allowed, and is refused all of them when it is not."""

from __future__ import annotations

import functools
import http.server
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest
from playwright.sync_api import Browser, sync_playwright
from pydantic import ValidationError
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.kernel.cors import CorsPolicy
from server.kernel.settings import ServerSettings, Settings
from tests.running_server import free_port, running_server
from tests.test_mapview_browser import ARGS, CHROMIUM, until

ALLOWED = "https://dashboard.city.example"
STRANGER = "https://elsewhere.example"
Z = 14
LON, LAT = 121.4737, 31.2304
X = int((LON + 180) / 360 * (1 << Z))
Y = int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * (1 << Z))
TILE = f"/ogc/collections/facilities/tiles/WebMercatorQuad/{Z}/{Y}/{X}"
#: (method, path) on every surface: GraphQL, the citizen API, OGC items and tiles, Open311,
#: the identity keys, the API reference.
SURFACES = [
    ("POST", "/graphql"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/me"),
    ("POST", "/api/v1/reports"),
    ("GET", "/ogc/collections/facilities/items"),
    ("POST", "/ogc/collections/facilities/items"),
    ("GET", TILE),
    ("GET", "/open311/v2/services.json"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/docs/api"),
]


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[TestClient]:
    """The app allowing one other origin (besides its own)."""
    server = ServerSettings(allowed_origins=[ALLOWED])
    with TestClient(create_app(settings.model_copy(update={"server": server}))) as c:
        yield c


def _preflight(app: TestClient, method: str, path: str, origin: str) -> httpx2.Response:
    wanted = "authorization, content-type, idempotency-key"
    return app.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                      "Access-Control-Request-Headers": wanted})  # fmt: skip


@pytest.mark.parametrize(("method", "path"), SURFACES)
def test_preflights_are_answered_on_every_surface(app: TestClient, method: str, path: str) -> None:
    r = _preflight(app, method, path, ALLOWED)
    assert r.status_code == 200, r.text
    headers = r.headers
    assert headers["access-control-allow-origin"] == ALLOWED
    assert method in headers["access-control-allow-methods"]
    allowed = headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(", "))
    assert headers["access-control-max-age"] == "600" and "Origin" in headers["vary"]


@pytest.mark.parametrize(("method", "path"), SURFACES[:4])
def test_a_preflight_from_a_stranger_is_refused_with_the_reason(
    app: TestClient, method: str, path: str
) -> None:
    r = _preflight(app, method, path, STRANGER)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert "access-control-allow-origin" not in r.headers
    problem = r.json()
    assert problem["type"] == "urn:onemap:problem:cors_refused"
    assert STRANGER in problem["detail"] and "ONEMAP_SERVER_ALLOWED_ORIGINS" in problem["detail"]


def test_answers_carry_cors_headers_for_allowed_origins_only_errors_included(
    app: TestClient,
) -> None:
    refused = app.get("/api/v1/me", headers={"Origin": ALLOWED, "Authorization": "Bearer x"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED
    assert "WWW-Authenticate" in refused.headers["access-control-expose-headers"]
    tile = app.get(TILE, headers={"Origin": ALLOWED})
    assert tile.status_code == 200 and tile.headers["access-control-allow-origin"] == ALLOWED
    stranger = app.get(TILE, headers={"Origin": STRANGER})
    assert stranger.status_code == 200 and "access-control-allow-origin" not in stranger.headers


def test_the_graphql_websocket_checks_the_origin(app: TestClient) -> None:
    protocol = ["graphql-transport-ws"]
    with app.websocket_connect("/graphql", subprotocols=protocol,
                               headers={"Origin": ALLOWED}) as ws:  # fmt: skip
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
    with (
        pytest.raises((WebSocketDenialResponse, WebSocketDisconnect)) as refused,
        app.websocket_connect("/graphql", subprotocols=protocol, headers={"Origin": STRANGER}),
    ):
        pass
    if isinstance(refused.value, WebSocketDenialResponse):
        assert refused.value.status_code == 403
    # Same-origin pages (the map view) and clients that send no Origin are not cross-origin.
    for headers in ({"Origin": "http://testserver"}, {}):
        with app.websocket_connect("/graphql", subprotocols=protocol, headers=headers) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            assert ws.receive_json()["type"] == "connection_ack"


def test_the_default_allows_the_apps_own_origin_and_dev_mode_localhost() -> None:
    default = CorsPolicy.of(ServerSettings(host="127.0.0.1", port=8000))
    assert default.allows("http://127.0.0.1:8000")
    for other in ("http://localhost:5173", "http://127.0.0.1:3000", STRANGER, "null", ""):
        assert not default.allows(other), other
    behind_proxy = CorsPolicy.of(ServerSettings(public_url="https://city.example/onemap"))
    assert behind_proxy.allows("https://city.example")
    assert behind_proxy.allows("HTTPS://City.example:443")
    assert not behind_proxy.allows("http://city.example")
    dev = CorsPolicy.of(ServerSettings(dev_mode=True))
    for local in ("http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"):
        assert dev.allows(local), local
    for other in ("http://localhost.evil.example:5173", "https://localhost:5173", STRANGER):
        assert not dev.allows(other), other
    assert CorsPolicy.of(ServerSettings(allowed_origins=["*"])).allows(STRANGER)


def test_an_allowed_origin_that_is_not_an_origin_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="more than an origin"):
        ServerSettings(allowed_origins=["https://dashboard.city.example/app"])
    with pytest.raises(ValidationError, match="not an origin"):
        ServerSettings(allowed_origins=["dashboard.city.example"])
    assert ServerSettings(allowed_origins=["HTTPS://Dash.example:443"]).allowed_origins == [
        "https://dash.example"
    ]


# --- a dashboard on another origin, in Chromium ---------------------------------------------

DASHBOARD = Path(__file__).parent / "cors_dashboard"  # index.html + dashboard.js


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def pages() -> Iterator[tuple[str, str]]:
    """The dashboard, served as static files on two ports of 127.0.0.1: two origins."""
    handler = functools.partial(_Quiet, directory=str(DASHBOARD))
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
               for _ in range(2)]  # fmt: skip
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        first, second = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
        yield first, second
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


@pytest.fixture(scope="module")
def base(database_url: str, pages: tuple[str, str]) -> Iterator[str]:
    allowed, _ = pages
    with running_server(database_url, ONEMAP_SERVER_ALLOWED_ORIGINS=f'["{allowed}"]') as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _results(browser: Browser, page_origin: str, base: str) -> dict[str, str]:
    page = browser.new_context().new_page()
    try:
        query = urlencode({"api": base, "tile": TILE, "lon": LON, "lat": LAT})
        response = page.goto(f"{page_origin}/index.html?{query}")
        assert response is not None and response.status == 200
        until(page, "document.getElementById('done')", 30)
        names = page.eval_on_selector_all("dd", "dds => dds.map((d) => d.id)")
        return {name: page.inner_text(f"#{name}") for name in names}
    finally:
        page.context.close()


def test_a_dashboard_on_an_allowed_origin_uses_graphql_tiles_and_the_citizen_api(
    browser: Browser, pages: tuple[str, str], base: str
) -> None:
    allowed, _ = pages
    assert allowed != base  # another port: another origin
    seen = _results(browser, allowed, base)
    assert seen["login"] == "200 200 dispatcher"
    assert seen["locate"].startswith("200 ") and seen["locate"].endswith("District")
    status, codes = seen["graphql"].split(" ")
    assert status == "200" and len(codes.split(",")) == 3
    status, media, size, _ = seen["tile"].split(" ")
    assert (status, media) == ("200", "application/vnd.mapbox-vector-tile") and int(size) > 0
    assert seen["socket"] == "open: connection_ack"


def test_a_dashboard_on_another_origin_is_refused(
    browser: Browser, pages: tuple[str, str], base: str
) -> None:
    _, stranger = pages
    seen = _results(browser, stranger, base)
    assert seen.pop("done") == "yes"
    assert seen == {
        "login": "refused: Failed to fetch",
        "locate": "refused: Failed to fetch",
        "graphql": "refused: Failed to fetch",
        "tile": "refused: Failed to fetch",
        "socket": "refused: the handshake was refused",
    }
