"""The API reference at ``/docs``: Swagger UI reading the documents the app serves — the citizen
API's (``/docs/api`` ← ``/api/v1/openapi.json``) and the OGC API's (``/docs/ogc`` ←
``/ogc/openapi``).

Nothing comes from outside: Swagger UI is copied from npm into ``static/vendor/`` by the build
step (``npm ci --prefix web && node web/copy.mjs``). The page and its start-up script are ours;
the documents are fetched by relative URL, so the pages work behind a path prefix too.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from server.kernel.errors import problem

HERE = Path(__file__).parent
STATIC = HERE / "static"
VENDOR = STATIC / "vendor"
BUILD = "npm ci --prefix web && node web/copy.mjs"

#: Swagger UI renders with React (styles set through the CSSOM, which CSP allows) and draws
#: its icons from data: URIs; "Try it out" calls this origin only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class Reference:
    slug: str
    title: str
    spec: str  # the document's URL relative to /docs/<slug>
    about: str


REFERENCES = (
    Reference("api", "Citizen API (/api/v1)", "../api/v1/openapi.json",
              "REST/JSON for the citizen app: identity, health code, reports, services."),
    Reference("ogc", "OGC API (/ogc)", "../ogc/openapi?f=json",
              "OGC API - Features and Tiles for GIS clients (QGIS, GDAL, OWSLib, MapLibre)."),
)  # fmt: skip
_PAGE = (HERE / "page.html").read_text(encoding="utf-8")


def built() -> bool:
    """Whether the build step has copied Swagger UI."""
    return (VENDOR / "versions.json").is_file()


def _nav(current: Reference) -> str:
    links = []
    for ref in REFERENCES:
        mark = ' aria-current="page"' if ref is current else ""
        links.append(f'<a href="{ref.slug}"{mark}>{html.escape(ref.title)}</a>')
    links.append(f'<a href="{html.escape(current.spec)}">OpenAPI document (JSON)</a>')
    return "\n      ".join(links)


def _page(ref: Reference) -> str:
    return (
        _PAGE.replace("{title}", html.escape(ref.title))
        .replace("{about}", html.escape(ref.about))
        .replace("{spec}", html.escape(ref.spec))
        .replace("{nav}", _nav(ref))
    )


def _handler(ref: Reference) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        if not built():
            return problem(
                503,
                f"The API reference's browser library is missing: run `{BUILD}` once.",
                code="reference_not_built",
                instance=request.url.path,
            )
        return HTMLResponse(_page(ref), headers=HEADERS)

    return page


async def index(request: Request) -> Response:
    return RedirectResponse("docs/api", status_code=308)


routes: list[BaseRoute] = [
    Route("/docs", index, methods=["GET"]),
    Mount(
        "/docs",
        routes=[
            *(Route(f"/{ref.slug}", _handler(ref), methods=["GET"]) for ref in REFERENCES),
            Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="reference"),
        ],
    ),
]
