"""The OGC API's HTML pages, offline: pygeoapi's pages with every asset served by the app.

pygeoapi's templates load Bootstrap and Leaflet from public CDNs (unreachable offline, unreliable
in mainland China) and an online tile server, and its own CSS and images are not served under
our mount (they answered 404). So:

- ``templates/`` holds OneMap's copies of the templates that load anything from elsewhere or
  run inline script (``_base.html``, the collection, items and item pages); pygeoapi looks
  there first (``server.templates.path`` in its configuration, ``server.ogc.config``) and falls
  back to its own for the rest;
- ``/ogc/static/`` serves, in this order, ``static/`` (the pages' scripts and CSS, and
  ``static/vendor/``: Bootstrap, Leaflet and Leaflet.markercluster, copied from npm by
  ``web/copy.mjs``, gitignored) and pygeoapi's own static files (its CSS, images, ``default.js``);
- every HTML answer of pygeoapi's carries :data:`CSP`: scripts, styles, images and requests
  from this origin only, nothing inline.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: Leaflet positions its panes and markers through the CSSOM (which CSP allows) and draws the
#: features as inline SVG; the map's base is the city's districts, read from this API.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def static_files() -> StaticFiles:
    """``/ogc/static``: OneMap's files first, then pygeoapi's."""
    return StaticFiles(directory=STATIC, packages=[("pygeoapi", "static")], check_dir=False)


def secure(response: Response) -> Response:
    """An HTML answer of pygeoapi's with the pages' security headers."""
    if response.headers.get("content-type", "").startswith("text/html"):
        response.headers.update(HEADERS)
    return response
