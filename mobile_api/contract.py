"""Each citizen endpoint is declared once — method, path, who may call it, pydantic models —
and becomes both a Starlette route and an OpenAPI 3.1 operation (``mobile_api.openapi``), so
the two cannot drift.

The wrapper around every handler does what every endpoint needs: the access check (asked of
``geo.access``: a capability, or a citizen's or a staff account), the query string and the
JSON body parsed into their models (bodies capped while they are read: 413), the
``Idempotency-Key`` header where the operation creates something, and the citizen errors mapped
to problem+json (429 with ``Retry-After``, 413, 415, 422).

Text PostgreSQL cannot hold is refused at this edge with the name of what held it: a NUL in a
path segment, a query parameter, a JSON body (``\\u0000``) or a form field is a 400. Forms
(multipart, with files) stream through ``mobile_api.uploads``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from geo import access
from geo import citizen_errors as ce
from geo.access import Capability, Principal
from geo.errors import InvalidInput, OneMapError
from mobile_api import uploads
from server.kernel.auth.principal import principal_of
from server.kernel.errors import problem_for

if TYPE_CHECKING:
    from mobile_api.state import MobileState


@dataclass(frozen=True)
class Access:
    """Who may call an endpoint: ``check`` (a ``geo.access`` check that raises Unauthorized or
    Forbidden) runs before the handler; None is a public endpoint (no token needed). ``name``
    is shown in the OpenAPI document (``x-access``)."""

    name: str
    check: Callable[[Principal], object] | None = None


def _citizen(principal: Principal) -> None:
    access.require_citizen(principal)
    access.require(principal, Capability.REPORT)


def needs(capability: Capability) -> Access:
    """An endpoint for principals holding ``capability``."""
    return Access(capability.value, lambda principal: access.require(principal, capability))


PUBLIC = Access("public")
ANY_USER = Access("any user", access.require)
#: A citizen's own endpoints: a citizen account that may report.
CITIZEN = Access("citizen account", _citizen)
FORM_MEDIA = uploads.FORM_MEDIA
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
#: ``\u0000`` in JSON text that is not itself escaped (``\\u0000`` is a backslash and "u0000").
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo is an error, not a silent no-op)."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details; ``type`` is a stable ``urn:onemap:problem:…``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


@dataclass
class Call:
    request: Request
    principal: Principal
    state: MobileState
    body: Any = None
    query: Any = None
    idempotency_key: str | None = None

    @property
    def user_id(self) -> int:
        assert self.principal.user_id is not None
        return self.principal.user_id

    @property
    def client_addr(self) -> str | None:
        return self.request.client.host if self.request.client else None

    @property
    def acting_role(self) -> str | None:
        """The role written to the audit log (the policy's choice)."""
        return self.principal.audit_role

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])


Handler = Callable[[Call], Awaitable[Response | BaseModel]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    access: Access
    body: type[BaseModel] | None = None
    form: type[BaseModel] | None = None  # multipart/form-data fields (files added by the handler)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # file part → (text, most)
    query: type[BaseModel] | None = None
    status: int = 200
    response: type[BaseModel] | None = None  # None: no content (or ``media``)
    media: str | tuple[str, ...] | None = None  # a non-JSON success body: its media type(s)
    idempotent: bool = False
    #: The OpenAPI operationId: unique, a verb phrase in camelCase (``listMyReports``); generated
    #: clients name their functions after it (``list_my_reports``).
    operation_id: str = field(kw_only=True)
    #: A request body a client could send as is (its JSON, or a form's text fields): shown in
    #: the document and validated against ``body``/``form`` when the document is built.
    example: Any = field(default=None, kw_only=True)


def problem_of(exc: OneMapError, instance: str | None = None) -> Response:
    return problem_for(exc, instance)


def _errors(exc: ValidationError, where: str) -> InvalidInput:
    items = [
        {"loc": ".".join(str(p) for p in (where, *e["loc"])), "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    text = "; ".join(f"{i['loc']}: {i['msg']}" for i in items[:5])
    return InvalidInput(f"Invalid {where}: {text}.", errors=items)


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ce.TooLarge(f"The request body is larger than {limit} bytes.", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ce.TooLarge(f"The request body is larger than {limit} bytes.", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, model: type[BaseModel], limit: int) -> BaseModel:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ce.UnsupportedMedia("Send the body as application/json.")
    raw = await read_capped(request, limit)
    if _NUL_ESCAPE.search(raw):
        raise InvalidInput("The body contains a NUL character (\\u0000), which text cannot hold.")
    try:
        return model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise _errors(exc, "body") from None


def _no_nul(where: str, pairs: Any) -> None:
    for name, value in pairs:
        if "\x00" in name or "\x00" in str(value):
            raise InvalidInput(
                f"The {where} {name!r} contains a NUL character, which text cannot hold."
            )


def parse_query[M: BaseModel](request: Request, model: type[M]) -> M:
    _no_nul("query parameter", request.query_params.multi_items())
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise _errors(exc, "query") from None


def parse_form[M: BaseModel](fields: dict[str, Any], model: type[M]) -> M:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise _errors(exc, "form") from None


def route(endpoint: Endpoint, state: MobileState) -> Route:
    async def app(request: Request) -> Response:
        try:
            principal = principal_of(request.scope)
            _no_nul("path segment", request.path_params.items())
            if endpoint.access.check is not None:
                endpoint.access.check(principal)
            call = Call(request, principal, state)
            if endpoint.idempotent:
                key = request.headers.get("idempotency-key")
                if key is None or not _KEY.match(key):
                    raise ce.KeyMissing(
                        "This operation creates something: send an Idempotency-Key header "
                        "(1–255 visible ASCII characters, e.g. a UUID) and reuse it on retries."
                    )
                call.idempotency_key = key
            if endpoint.query is not None:
                call.query = parse_query(request, endpoint.query)
            if endpoint.body is not None:
                call.body = await _json_body(request, endpoint.body, state.settings.max_json_bytes)
            result = await endpoint.handler(call)
        except OneMapError as exc:
            return problem_of(exc, request.url.path)
        if isinstance(result, Response):
            return result
        return JSONResponse(result.model_dump(mode="json"), status_code=endpoint.status)

    app.__name__ = endpoint.operation_id
    return Route(endpoint.path, app, methods=[endpoint.method])


async def read_form(request: Request, limit: int, max_files: int) -> FormData:
    """A form body capped as a whole and per file at ``limit`` bytes while it streams (Starlette
    caps only non-file parts): multipart spooled to disk, or urlencoded."""
    return await uploads.read_form(
        request, total_bytes=limit, file_bytes=limit, max_files=max_files
    )
