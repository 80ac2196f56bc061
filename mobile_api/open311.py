"""Open311 GeoReport v2 at ``/open311/v2`` for other city systems (docs/open311.md).

Every endpoint answers JSON or XML by its extension (``services.json``, ``services.xml``;
``mobile_api.open311_format``). Services are the citizen-reportable case categories; a service
request is a case, created through the same ``geo.services.cases`` writer (source ``hotline``:
partner systems such as the 12345 hotline) and routed to its grid cell and department.

A partner's ``api_key`` is checked by the access policy (``geo.access.partner``): none or an
unknown one is 401, a live key without the right to post is 403. GET needs no key; what each
request shows is the policy's too (``geo.access.open311_scope``): a partner's own requests in
full, everything else the case's public record. Errors are GeoReport's ``errors`` document with
the HTTP status. Personal fields a partner may send (email, name, phone, device and account
ids) are not stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo import access, geocoding
from geo import citizen_errors as ce
from geo.access import Principal
from geo.errors import InvalidInput, NotFound, OneMapError, Unauthorized
from geo.queries import fetch
from geo.queries import open311 as q
from geo.services import idempotency
from geo.services import open311 as intake
from mobile_api import open311_params as params
from mobile_api.contract import problem_of, read_form
from mobile_api.open311_format import FORMATS, Format, errors, format_of, respond
from mobile_api.state import MobileState

CHANGESET = "2026-12-01T00:00:00Z"
#: GeoReport asks 400 for every error but a missing resource (404) and a key's (401/403);
#: the domain's 415 and 422 are such errors. Limits, conflicts and outages keep theirs.
_AS_400 = {415, 422}


def _fmt(request: Request) -> Format:
    fmt = request.path_params.get("fmt")
    if fmt not in FORMATS:
        raise NotFound(f"No format {fmt!r}: GeoReport v2 answers .json and .xml.")
    return "xml" if fmt == "xml" else "json"


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OneMapError)
    status = problem_of(exc).status_code
    retry = isinstance(exc, ce.RateLimited) and {"Retry-After": str(exc.retry_after_s)}
    status = 400 if status in _AS_400 else status
    return errors(format_of(request.url.path), status, exc.message, retry or None)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    text = exc.detail if exc.status_code != 404 else f"No resource at {path}."
    return errors(format_of(path), exc.status_code, str(text), exc.headers)


def _jurisdiction(state: MobileState, params: Any) -> None:
    given = params.get("jurisdiction_id")
    if given and given != state.jurisdiction:
        raise NotFound(f"Unknown jurisdiction_id {given!r}; this server is {state.jurisdiction}.")


async def _partner(state: MobileState, key: str | None) -> Principal | None:
    """The partner holding ``key`` (None when no key was sent); Unauthorized for an unknown
    or revoked key."""
    if not key:
        return None
    async with state.pool.connection() as conn:
        found = await fetch(conn, q.partner_key(key))
    if found is None:
        raise Unauthorized("Unknown or revoked api_key: ask the city's OneMap operators for one.")
    return access.partner(*found)


def app(state: MobileState) -> Starlette:
    settings = state.settings
    max_requests = settings.open311_max_requests

    async def discovery(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return respond(
            _fmt(request),
            "discovery",
            {
                "changeset": CHANGESET,
                "contact": "OneMap operators",
                "key_service": "Partner api_keys are issued by the city's OneMap operators.",
                "endpoints": [
                    {
                        "specification": "http://wiki.open311.org/GeoReport_v2",
                        "url": f"{base}/open311/v2",
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": ["text/xml", "application/json"],
                    }
                ],
            },
        )

    async def services(request: Request) -> Response:
        fmt = _fmt(request)
        _jurisdiction(state, request.query_params)
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.services())
        return respond(fmt, "services", [s.as_open311() for s in found])

    async def service(request: Request) -> Response:
        fmt = _fmt(request)
        _jurisdiction(state, request.query_params)
        code = request.path_params["code"]
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.services(code))
        if not found:
            raise NotFound(f"No service {code!r}: services.{fmt} lists them.")
        return respond(fmt, "service_definition", intake.definition(found[0]))

    async def list_requests(request: Request) -> Response:
        fmt, p = _fmt(request), request.query_params
        _jurisdiction(state, p)
        caller = await _partner(state, p.get("api_key")) or access.ANONYMOUS
        wanted, page = params.request_filter(p, settings.open311_window_days, max_requests)
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.requests(wanted, access.open311_scope(caller)))
        links = params.page_links(request, page.number, len(found) > page.size)
        # A full page in XML takes ~50 ms to build: off the event loop, so others go on.
        return await run_in_threadpool(
            respond, fmt, "service_requests", found[: page.size], headers=links
        )

    async def one_request(request: Request) -> Response:
        fmt, p = _fmt(request), request.query_params
        _jurisdiction(state, p)
        caller = await _partner(state, p.get("api_key")) or access.ANONYMOUS
        now = datetime.now(UTC)
        wanted = q.RequestFilter([request.path_params["id"]], None, None, now, now, 1)
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.requests(wanted, access.open311_scope(caller)))
        if not found:
            raise NotFound(f"No service request {request.path_params['id']!r}.")
        return respond(fmt, "service_requests", found)

    async def token(request: Request) -> Response:
        _fmt(request)
        _jurisdiction(state, request.query_params)
        raise NotFound(
            f"No token {request.path_params['token']!r}: every service here is "
            "realtime, so a POST answers with its service_request_id at once and "
            "no tokens are issued."
        )

    async def create_request(request: Request) -> Response:
        fmt = _fmt(request)
        form = await read_form(request, settings.max_json_bytes, 0)
        f, attributes_sent = params.posted(form)
        await form.close()
        _jurisdiction(state, request.query_params)
        _jurisdiction(state, f)
        partner = access.require_key(
            await _partner(state, f.get("api_key")), access.Capability.CREATE_CASES
        )
        code = f.get("service_code")
        if not code:
            raise InvalidInput(f"service_code is required: services.{fmt} lists them.")
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.services(code))
        if not found:
            raise NotFound(f"Unknown service_code {code!r}: services.{fmt} lists them.")
        point = params.point(f)
        attributes = intake.check_attributes(attributes_sent)
        media = intake.check_media_url(f.get("media_url"))
        fields = ("service_code", "lat", "long", "description", "address_string", "media_url")
        wanted = {**{k: f.get(k) for k in fields}, "attributes": attributes}
        async with state.pool.connection() as conn:
            if point is None:
                wanted_geo = state.geocode
                point, _match = await geocoding.locate(
                    conn, f.get("address_string"), wanted_geo.min_confidence,
                    wanted_geo.max_candidates, field="address_string",
                )  # fmt: skip
            where = point

            async def create() -> tuple[int, dict[str, Any]]:
                case = await intake.create_request(
                    conn,
                    partner=partner,
                    category=code,
                    point=where,
                    description=f.get("description", ""),
                    address=f.get("address_string"),
                    attributes=attributes,
                    media_url=media,
                )
                return 201, {
                    "service_request_id": case.public_id,
                    "service_notice": found[0].notice,
                    "account_id": None,
                }

            outcome = await idempotency.run_once(
                conn,
                owner=f"open311:{partner.partner_id}",
                operation="request",
                key=request.headers.get("idempotency-key")
                or idempotency.fingerprint([wanted, datetime.now(UTC).isoformat()]),
                print_=idempotency.fingerprint(wanted),
                create=create,
            )
        return respond(fmt, "service_requests", [outcome.body], outcome.status)

    return Starlette(
        routes=[
            Route("/discovery.{fmt}", discovery, methods=["GET"]),
            Route("/services.{fmt}", services, methods=["GET"]),
            Route("/services/{code}.{fmt}", service, methods=["GET"]),
            Route("/requests.{fmt}", list_requests, methods=["GET"]),
            Route("/requests.{fmt}", create_request, methods=["POST"]),
            Route("/requests/{id}.{fmt}", one_request, methods=["GET"]),
            Route("/tokens/{token}.{fmt}", token, methods=["GET"]),
        ],
        # An unexpected error goes on to the app's handler (a logged 500 problem).
        exception_handlers={OneMapError: _domain_error, HTTPException: _http_error},
    )
