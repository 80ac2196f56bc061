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
from server.kernel.errors import codes_of

log = logging.getLogger("onemap.ogc")


def exception(status: int, code: str, description: str) -> Response:
    body = json.dumps({"code": code, "type": code, "description": description}, ensure_ascii=False)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def from_domain(exc: e.OneMapError) -> Response:
    """The OGC exception of a domain error: status and code from the one error table."""
    codes = codes_of(exc)
    if codes.status >= 500 and codes.status != 503:
        return exception(codes.status, codes.ogc, "The server could not complete the request.")
    response = exception(codes.status, codes.ogc, exc.message)
    retry = getattr(exc, "retry_after_s", None)
    if retry is not None:
        response.headers["Retry-After"] = str(retry)
    return response


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
