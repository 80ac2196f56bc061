"""Open311 GeoReport v2 (JSON) at ``/open311/v2`` for other city systems.

Services are the citizen-reportable case categories; a service request is a case, created
through the same ``geo.services.cases`` writer (source ``hotline``: partner systems such as the
12345 hotline) and routed to its grid cell and department. POST needs a partner's ``api_key``;
GET is public: every request is the case's public record (``cases_public``), for everyone.
Errors use Open311's format, ``[{"code": …, "description": …}]``, with the HTTP status.
Personal fields a partner may send (email, name, phone, device and account ids) are not stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from geo import citizen_errors as ce
from geo.enums import CasePriority
from geo.errors import InvalidInput, NotFound, OneMapError, Unauthorized
from geo.params import LonLat
from geo.queries import fetch
from geo.queries import open311 as q
from geo.services import idempotency
from geo.services.open311 import create_request as create_case_request
from mobile_api.contract import problem_of, read_form
from mobile_api.state import MobileState

URGENCY = {"normal": CasePriority.NORMAL, "high": CasePriority.HIGH,
           "urgent": CasePriority.URGENT}  # fmt: skip
ATTRIBUTES = [{
    "variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
    "datatype_description": "How urgent the problem is; normal when not given.", "order": 1,
    "description": "Urgency", "values": [{"key": k, "name": k.capitalize()} for k in URGENCY],
}]  # fmt: skip


def error(status: int, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status,
                        headers=headers)  # fmt: skip


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OneMapError)
    status = problem_of(exc).status_code
    retry = isinstance(exc, ce.RateLimited) and {"Retry-After": str(exc.retry_after_s)}
    return error(status, exc.message, retry or None)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = exc.detail if exc.status_code != 404 else f"No resource at {request.url.path}."
    return error(exc.status_code, str(text))


def _jurisdiction(state: MobileState, params: Any) -> None:
    given = params.get("jurisdiction_id")
    if given and given != state.jurisdiction:
        raise NotFound(f"Unknown jurisdiction_id {given!r}; this server is {state.jurisdiction}.")


async def _partner(state: MobileState, key: str | None) -> int | None:
    if not key:
        return None
    async with state.pool.connection() as conn:
        found = await fetch(conn, q.partner_key(key))
    if found is None:
        raise Unauthorized("Unknown or revoked api_key.")
    return found


def _time(params: Any, name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be a W3C date-time, got {raw!r}.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _list(params: Any, name: str) -> list[str] | None:
    raw = params.get(name)
    return [v.strip() for v in raw.split(",") if v.strip()][:1000] if raw else None


def app(state: MobileState) -> Starlette:
    settings = state.settings

    async def discovery(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({
            "changeset": "2026-11-21T00:00:00Z", "contact": "OneMap operators",
            "key_service": "Partner api_keys are issued by the city's OneMap operators.",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2",
                           "url": f"{base}/open311/v2", "changeset": "2026-11-21T00:00:00Z",
                           "type": "production", "formats": ["application/json"]}],
        })  # fmt: skip

    async def services(request: Request) -> Response:
        _jurisdiction(state, request.query_params)
        async with state.pool.connection() as conn:
            return JSONResponse(await fetch(conn, q.services()))

    async def service(request: Request) -> Response:
        _jurisdiction(state, request.query_params)
        code = request.path_params["code"]
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.services(code))
        if not found:
            raise NotFound(f"No service {code!r}.")
        return JSONResponse({"service_code": code, "attributes": ATTRIBUTES})

    async def list_requests(request: Request) -> Response:
        p = request.query_params
        _jurisdiction(state, p)
        window = timedelta(days=settings.open311_window_days)
        end = _time(p, "end_date") or datetime.now(UTC)
        start = _time(p, "start_date") or end - window
        if end - start > window or end < start:
            raise InvalidInput(f"start_date..end_date must be 0 to {window.days} days long.")
        status = p.get("status")
        if status not in (None, "open", "closed"):
            raise InvalidInput("status must be open or closed.")
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.requests(
                ids=_list(p, "service_request_id"), codes=_list(p, "service_code"),
                status=status, start=start, end=end,
                limit=settings.open311_max_requests))  # fmt: skip
        return JSONResponse(found)

    async def one_request(request: Request) -> Response:
        _jurisdiction(state, request.query_params)
        now = datetime.now(UTC)
        async with state.pool.connection() as conn:
            found = await fetch(conn, q.requests(
                ids=[request.path_params["id"]], codes=None, status=None, start=now, end=now,
                limit=1))  # fmt: skip
        if not found:
            raise NotFound(f"No service request {request.path_params['id']!r}.")
        return JSONResponse(found)

    async def create_request(request: Request) -> Response:
        form = await read_form(request, settings.max_json_bytes, 0)
        f = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        await form.close()
        _jurisdiction(state, f)
        key_id = await _partner(state, f.get("api_key"))
        if key_id is None:
            raise Unauthorized("POST needs a partner's api_key.")
        if not f.get("service_code"):
            raise InvalidInput("service_code is required.")
        async with state.pool.connection() as conn:
            if not await fetch(conn, q.services(f["service_code"])):
                raise InvalidInput(
                    f"Unknown service_code {f['service_code']!r}: see services.json."
                )
        try:
            point = LonLat(float(f["long"]), float(f["lat"]))
        except (KeyError, ValueError):
            raise InvalidInput("lat and long are required numbers (address_string alone is "
                               "not enough to place a request).") from None  # fmt: skip
        urgency = f.get("attribute[urgency]", "normal")
        if urgency not in URGENCY:
            raise InvalidInput(f"attribute[urgency] must be one of {', '.join(URGENCY)}.")
        media = f.get("media_url")
        if media and (len(media) > 2000 or not media.startswith(("http://", "https://"))):
            raise InvalidInput("media_url must be an http(s) URL of at most 2000 characters.")
        fields = ("service_code", "lat", "long", "description", "address_string",
                  "attribute[urgency]", "media_url")  # fmt: skip
        wanted = {k: f.get(k) for k in fields}
        async with state.pool.connection() as conn:

            async def create() -> tuple[int, dict[str, Any]]:
                case = await create_case_request(
                    conn, key_id=key_id, category=f["service_code"], point=point,
                    description=f.get("description", ""), priority=URGENCY[urgency],
                    address=f.get("address_string"), attributes={"urgency": urgency},
                    media_url=media,
                )  # fmt: skip
                return 201, {"service_request_id": case.public_id, "service_notice": None,
                             "account_id": None}  # fmt: skip

            outcome = await idempotency.run_once(
                conn, owner=f"open311:{key_id}", operation="request",
                key=request.headers.get("idempotency-key") or idempotency.fingerprint(
                    [wanted, datetime.now(UTC).isoformat()]),
                print_=idempotency.fingerprint(wanted), create=create,
            )  # fmt: skip
        return JSONResponse([outcome.body], status_code=outcome.status)

    return Starlette(
        routes=[
            Route("/discovery.json", discovery, methods=["GET"]),
            Route("/services.json", services, methods=["GET"]),
            Route("/services/{code}.json", service, methods=["GET"]),
            Route("/requests.json", list_requests, methods=["GET"]),
            Route("/requests.json", create_request, methods=["POST"]),
            Route("/requests/{id}.json", one_request, methods=["GET"]),
        ],
        # An unexpected error goes on to the app's handler (a logged 500 problem).
        exception_handlers={OneMapError: _domain_error, HTTPException: _http_error},
    )
