"""Errors under ``/ogc`` as OGC API exception JSON (``code``, ``type``, ``description``).

The same body pygeoapi writes, so a client sees one error shape whichever part answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from geo import errors as e

log = logging.getLogger("onemap.ogc")

#: Domain error → (status, OGC exception code). Outside the city is a bad value here (400).
CODES: dict[type[e.OneMapError], tuple[int, str]] = {
    e.InvalidInput: (400, "InvalidParameterValue"),
    e.Unauthorized: (401, "NotAuthorized"),
    e.Forbidden: (403, "Forbidden"),
    e.NotFound: (404, "NotFound"),
    e.Conflict: (409, "Conflict"),
    e.Unavailable: (503, "ServiceUnavailable"),
}


def exception(status: int, code: str, description: str) -> Response:
    body = json.dumps({"code": code, "type": code, "description": description}, ensure_ascii=False)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def from_domain(exc: e.OneMapError) -> Response:
    for cls in type(exc).__mro__:
        if cls in CODES:
            status, code = CODES[cls]
            return exception(status, code, exc.message)
    return exception(500, "NoApplicableCode", "The server could not complete the request.")


Endpoint = Callable[[Request], Awaitable[Response]]


def ogc_errors(endpoint: Endpoint) -> Endpoint:
    """Answer domain errors and the unexpected as OGC exceptions (never a stack trace)."""

    @wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except e.OneMapError as exc:
            return from_domain(exc)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return exception(
                500, "NoApplicableCode", "The server could not complete the request; logged."
            )

    return wrapper
