"""Errors as ``application/problem+json`` (RFC 9457): domain errors, HTTP errors, the unexpected.

One table (:data:`ERRORS`) maps every domain error to its HTTP status, its GraphQL
``extensions.code`` and its OGC API exception code; every surface reads it. An unexpected
exception is logged with its traceback and answered with a 500 problem that names no internals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from geo import citizen_errors as ce
from geo import errors as e

log = logging.getLogger("onemap.errors")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ErrorCodes:
    status: int  # HTTP, everywhere (problem+json, OGC exception JSON)
    graphql: str  # GraphQL extensions.code
    ogc: str  # OGC API exception code


#: The one error table (the most specific class wins).
ERRORS: dict[type[e.OneMapError], ErrorCodes] = {
    e.InvalidInput: ErrorCodes(400, "BAD_USER_INPUT", "InvalidParameterValue"),
    e.OutsideCity: ErrorCodes(422, "OUTSIDE_CITY", "InvalidParameterValue"),
    e.Unauthorized: ErrorCodes(401, "UNAUTHENTICATED", "NotAuthorized"),
    e.Forbidden: ErrorCodes(403, "FORBIDDEN", "Forbidden"),
    e.NotFound: ErrorCodes(404, "NOT_FOUND", "NotFound"),
    e.Conflict: ErrorCodes(409, "CONFLICT", "Conflict"),
    e.Unavailable: ErrorCodes(503, "UNAVAILABLE", "ServiceUnavailable"),
    ce.RateLimited: ErrorCodes(429, "RATE_LIMITED", "TooManyRequests"),
    ce.TooLarge: ErrorCodes(413, "PAYLOAD_TOO_LARGE", "PayloadTooLarge"),
    ce.UnsupportedMedia: ErrorCodes(415, "UNSUPPORTED_MEDIA_TYPE", "InvalidParameterValue"),
    ce.Unprocessable: ErrorCodes(422, "UNPROCESSABLE", "InvalidParameterValue"),
}
UNEXPECTED = ErrorCodes(500, "INTERNAL_SERVER_ERROR", "NoApplicableCode")


def codes_of(exc: e.OneMapError) -> ErrorCodes:
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return UNEXPECTED


def status_of(exc: e.OneMapError) -> int:
    return codes_of(exc).status


def problem(
    status: int, detail: str, *, code: str | None = None, instance: str | None = None, **extra: Any
) -> JSONResponse:
    slug = code or HTTPStatus(status).phrase.lower().replace(" ", "_")
    body: dict[str, Any] = {
        "type": f"urn:onemap:problem:{slug}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_for(exc: e.OneMapError, instance: str | None = None) -> JSONResponse:
    """The problem response of a domain error (with Retry-After when rate-limited)."""
    response = problem(status_of(exc), exc.message, code=exc.code, instance=instance, **exc.detail)
    if isinstance(exc, ce.RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.OneMapError)
    return problem_for(exc, request.url.path)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail
    if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"No resource at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    response = problem(exc.status_code, str(detail), instance=request.url.path)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        500, "The server could not complete the request; it has been logged.", code="internal"
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    e.OneMapError: domain_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
