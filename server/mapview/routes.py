"""The map view at ``/``: the page, its ES modules and the GraphQL documents it sends.

The page needs nothing from outside: MapLibre and graphql-ws are copied from npm into
``static/vendor/`` by the build step (``npm ci --prefix web && node web/copy.mjs``); the base map
is the city's own admin areas and grid. The GraphQL documents are the contract's own files
(``graphql/operations/``, executed by the tests), served as they are so the page cannot drift
from what is tested.

What the page shows is the access policy's (``geo.access``, docs/access.md): it asks
``/mapview/access`` for the caller's layers (public or internal view) and capabilities, and
decides by capability names, never by role names.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from geo import access, catalogue
from server.kernel.auth.principal import principal_of
from server.kernel.errors import problem

HERE = Path(__file__).parent
STATIC = HERE / "static"
VENDOR = STATIC / "vendor"
OPERATIONS = HERE.parent.parent / "graphql" / "operations"
BUILD = "npm ci --prefix web && node web/copy.mjs"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\.graphql$")

#: MapLibre's worker is a same-origin module (worker-src 'self'); its text is drawn on canvases
#: (no glyph server); video arrives as a MediaStream. Nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; font-src 'self'; "
    "frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def built() -> bool:
    """Whether the build step has copied the browser libraries."""
    return (VENDOR / "versions.json").is_file()


async def index(request: Request) -> Response:
    if not built():
        return problem(
            503,
            f"The map view's browser libraries are missing: run `{BUILD}` once.",
            code="mapview_not_built",
            instance=request.url.path,
        )
    return HTMLResponse((HERE / "index.html").read_text(encoding="utf-8"), headers=HEADERS)


async def operation(request: Request) -> Response:
    """One document of ``graphql/operations/``, as text."""
    name = str(request.path_params["name"])
    path = OPERATIONS / name
    if not _NAME.match(name) or not path.is_file():
        return problem(404, f"There is no GraphQL document {name!r}.", instance=request.url.path)
    return PlainTextResponse(
        path.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"}
    )


async def my_access(request: Request) -> Response:
    """The caller's layers (each ``public`` or ``internal``: the view the tiles will hold) and
    capabilities, as the policy computes them: the page builds its style and popups from this."""
    principal = principal_of(request.scope)
    views = access.views_for(principal)
    layers = {name: "internal" if view.internal else "public" for name, view in views.items()}
    registered = [catalogue.layer(name) for name, view in views.items() if view.catalogue]
    body = {
        "layers": layers,
        "capabilities": sorted(c.value for c in principal.capabilities),
        # the department layers of the catalogue (docs/catalogue.md) the caller may see
        "catalogue": [
            {"id": r.name, "title": r.title, "geometry_type": r.view.geometry_type,
             "data_class": r.data_class, "owner": r.owner, "owner_name": r.owner_name}
            for r in registered if r is not None
        ],
    }  # fmt: skip
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Vary": "Authorization"})


routes: list[BaseRoute] = [
    Route("/", index, methods=["GET"]),
    Mount(
        "/mapview",
        routes=[
            Route("/access", my_access, methods=["GET"]),
            Route("/operations/{name}", operation, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="mapview"),
        ],
    ),
]
