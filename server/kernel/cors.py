"""Cross-origin access (CORS): which web pages on other origins may call OneMap from a browser.

One policy, built from the server settings, answers for every surface:

- HTTP (``/graphql``, ``/api/v1``, ``/ogc`` with its tiles, ``/open311``, ``/docs`` …): Starlette's
  ``CORSMiddleware`` around the whole app answers preflights (``OPTIONS`` with
  ``Access-Control-Request-Method``) before routing, so no route answers them 405, and adds the
  ``Access-Control-Allow-Origin`` of an allowed origin to every answer, errors included;
- the GraphQL WebSocket: browsers send no preflight for a WebSocket, so the view checks the
  handshake's ``Origin`` against the same policy (``server.gql.view``) and refuses the others
  with 403;
- ``/streams`` (WHEP) answers its own preflights, which must carry ``Accept-Post`` and
  ``Accept-Patch``, and asks the same policy (``server.streams.routes``).

The default allows the app's own origin only (``ONEMAP_SERVER_PUBLIC_URL``, or
``http://host:port``); a same-origin page needs no CORS at all. ``ONEMAP_SERVER_ALLOWED_ORIGINS``
adds origins (a JSON list: ``["https://dashboard.city.example"]``; ``["*"]`` allows any, which
is safe only because OneMap authenticates with bearer tokens and sets no cookies).
``ONEMAP_SERVER_DEV_MODE=true`` also allows ``http://localhost:<any port>`` and
``http://127.0.0.1:<any port>``, for front ends served by a development server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.kernel.errors import problem

if TYPE_CHECKING:
    from server.kernel.settings import ServerSettings

#: Development front ends: any port on the loopback names (ONEMAP_SERVER_DEV_MODE only).
DEV_ORIGINS = r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: Request headers a page may send besides the CORS-safelisted ones.
HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match")
#: Response headers a page may read besides the safelisted ones.
EXPOSED = ("Location", "Retry-After", "Link", "ETag", "Content-Crs", "Content-Disposition",
           "Accept-Patch", "Accept-Post", "WWW-Authenticate", "Idempotent-Replayed")  # fmt: skip
#: Paths whose routes answer their own preflights (WHEP's carry Accept-Post/Accept-Patch).
OWN_PREFLIGHTS = ("/streams/",)
MAX_AGE_S = 600


def origin_of(url: str, *, only: bool = True) -> str:
    """``scheme://host[:port]`` of a URL, as a browser sends it in ``Origin``: lower case,
    without a default port. ValueError if ``url`` has no http(s) scheme and host or, when
    ``only``, has more than an origin (a path, a query, credentials)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an origin (scheme://host[:port])")
    extra = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
    if only and extra:
        raise ValueError(f"{url!r} is more than an origin: drop the path, query or user")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


@dataclass(frozen=True)
class CorsPolicy:
    """The origins allowed to call OneMap from a browser."""

    origins: frozenset[str]
    any_origin: bool = False
    pattern: str | None = None

    @classmethod
    def of(cls, server: ServerSettings) -> CorsPolicy:
        listed = set(server.allowed_origins)
        own = origin_of(server.base_url, only=False)
        origins = {origin_of(o) for o in listed - {"*"}} | {own}
        return cls(frozenset(origins), "*" in listed, DEV_ORIGINS if server.dev_mode else None)

    def allows(self, origin: str) -> bool:
        if self.any_origin:
            return True
        try:
            normal = origin_of(origin)
        except ValueError:
            return False  # "null" (a sandboxed frame, a file:) and garbage
        return normal in self.origins or (
            self.pattern is not None and re.fullmatch(self.pattern, normal) is not None
        )


class _Cors(CORSMiddleware):
    """Starlette's middleware; a refused preflight says which setting would allow it."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        origin = request_headers.get("origin", "")
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        detail = (
            f"A cross-origin request from {json.dumps(origin)} is refused ({refused} not "
            f"allowed). Methods allowed: {', '.join(METHODS)}; request headers: "
            f"{', '.join(HEADERS)}. An operator allows an origin in ONEMAP_SERVER_ALLOWED_ORIGINS."
        )
        return problem(400, detail, code="cors_refused")


class CorsMiddleware:
    """CORS for the whole app (pure ASGI), but for the paths that answer their own
    preflights (``OWN_PREFLIGHTS``)."""

    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.cors = _Cors(
            app,
            allow_origins=["*"] if policy.any_origin else sorted(policy.origins),
            allow_origin_regex=policy.pattern,
            allow_methods=METHODS,
            allow_headers=HEADERS,
            expose_headers=EXPOSED,
            max_age=MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope["path"]).startswith(OWN_PREFLIGHTS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
