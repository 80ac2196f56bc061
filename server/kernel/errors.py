"""Errors as ``application/problem+json`` (RFC 9457): domain errors, HTTP errors, the unexpected.

One table (:data:`ERRORS`) maps every domain error to its HTTP status, its GraphQL
``extensions.code`` and its OGC API exception code; every surface reads it. An unexpected
exception is logged with its traceback and answered with a 500 problem that names no internals.

Database errors that are the client's or the outage's, not ours, become domain errors in one
place (:func:`database_error`): text PostgreSQL cannot store (a NUL, a byte sequence that is not
UTF-8) and numbers out of a column's range are InvalidInput (400); a database that cannot be
reached, or a statement that ran out of time, is Unavailable (503 with ``Retry-After``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import psycopg
from psycopg import errors as pg
from psycopg_pool import PoolTimeout
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
    e.AddressUncertain: ErrorCodes(422, "ADDRESS_UNCERTAIN", "InvalidParameterValue"),
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
#: Seconds a client is asked to wait (``Retry-After``) when the database cannot be reached.
RETRY_AFTER_S = 2
#: Data exceptions (SQLSTATE class 22) that only a client's value can cause, with what to say.
_BAD_VALUES: dict[type[psycopg.Error], str] = {
    pg.UntranslatableCharacter: "Text cannot contain NUL (\\u0000) characters.",
    pg.CharacterNotInRepertoire: "Text must be valid UTF-8.",
    pg.NumericValueOutOfRange: "A number in the request is out of range.",
    pg.StringDataRightTruncation: "A text value in the request is too long.",
    pg.DatetimeFieldOverflow: "A date or time in the request is out of range.",
    pg.InvalidDatetimeFormat: "A date or time in the request is not valid.",
    pg.InvalidTextRepresentation: "A value in the request is not of the expected type.",
}
#: Connection failures: the server went away (class 08) or is shutting down or starting.
_LOST = ("08", "57P01", "57P02", "57P03")


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached, not that a statement failed."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError) or isinstance(exc, pg.QueryCanceled):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(_LOST)


def database_error(exc: BaseException) -> e.OneMapError | None:
    """The domain error a database error stands for, or None when it is a fault of ours (a
    bug: logged and answered 500 as any other)."""
    if connection_lost(exc):
        return e.Unavailable(
            "The database cannot be reached just now; try again shortly.",
            retry_after_s=RETRY_AFTER_S,
        )
    if isinstance(exc, pg.QueryCanceled):
        return e.Unavailable(
            "The request took longer than the server allows; try again later or ask for less.",
            retry_after_s=RETRY_AFTER_S,
        )
    for cls, message in _BAD_VALUES.items():
        if isinstance(exc, cls):
            return e.InvalidInput(message)
    # psycopg refuses a NUL in a text parameter itself, before it reaches the server.
    if isinstance(exc, psycopg.DataError) and exc.sqlstate is None and "NUL" in str(exc):
        return e.InvalidInput(_BAD_VALUES[pg.UntranslatableCharacter])
    return None


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
    """The problem response of a domain error (with Retry-After when it says when to retry:
    rate-limited, unavailable)."""
    response = problem(status_of(exc), exc.message, code=exc.code, instance=instance, **exc.detail)
    retry = getattr(exc, "retry_after_s", None)
    if retry is not None:
        response.headers["Retry-After"] = str(retry)
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


async def db_error(request: Request, exc: Exception) -> Response:
    """A database error that escaped a surface: the client's or the outage's (4xx/503), or
    ours (500)."""
    domain = database_error(exc)
    if domain is None:
        return await unexpected_error(request, exc)
    if isinstance(domain, e.Unavailable):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_for(domain, request.url.path)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        500, "The server could not complete the request; it has been logged.", code="internal"
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    e.OneMapError: domain_error,
    HTTPException: http_error,
    psycopg.Error: db_error,
    Exception: unexpected_error,
}
