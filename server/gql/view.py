"""The strawberry ASGI view: context per request, socket authentication, mounting — and the
HTTP edge: every refusal is a GraphQL error with ``extensions.code``, never a 500 or plain text.

- A POST body is capped (:data:`MAX_BODY_BYTES`, 413) while it is read; it must be UTF-8 JSON
  (parsed by pydantic-core: nesting deeper than 200 levels, ``NaN`` and ``Infinity`` are
  refused) holding an object; anything else is a 400 with the reason.
- A NUL character, which PostgreSQL text cannot hold, is refused in variables and in string
  literals of the document (400) before anything runs.
- Errors graphql-core raises without a code get one: ``GRAPHQL_PARSE_FAILED``,
  ``GRAPHQL_VALIDATION_FAILED`` (bad variables included), ``INTERNAL_SERVER_ERROR``.
- While the database is down (``UNAVAILABLE`` errors) the answer carries ``Retry-After``, and
  its status is 503 when there is no data at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pydantic_core
from cross_web import HTTPException
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult

from geo.errors import Unauthorized
from geo.weather import provider as weather_provider
from server.gql.context import Context
from server.gql.schema import make_schema
from server.kernel.auth.principal import principal_of
from server.kernel.auth.tokens import TokenService
from server.kernel.cors import CorsPolicy
from server.kernel.errors import RETRY_AFTER_S
from server.kernel.events import EventBroker
from server.kernel.read_your_writes import reads_of
from server.kernel.settings import Settings
from server.kernel.webpush import Pusher

#: The largest request body read (a document near the token limit with a large GeoJSON
#: variable fits many times over).
MAX_BODY_BYTES = 1024 * 1024
#: A NUL in a GraphQL string literal: ``\u0000`` (or ``\u{0}``) not itself escaped.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u(?:0000|\{0+\})")
_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
               413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}  # fmt: skip


class OneMapGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        broker: EventBroker,
        tokens: TokenService,
        cors: CorsPolicy,
    ) -> None:
        super().__init__(
            make_schema(settings.graphql),
            graphql_ide="graphiql" if settings.server.dev_mode else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        )
        self.pool, self.broker, self.tokens, self.cors = pool, broker, tokens, cors
        self.gql_settings = settings.graphql
        self.clock_rules = settings.clock.rules()
        self.supervision_rules = settings.supervision.rules()
        self.hotline_settings = settings.hotline
        self.geocode_settings = settings.geocode
        self.weather = weather_provider(settings.emergency.weather_provider)
        self.issuer = settings.warnings.issuer()
        self.pusher = Pusher(settings, pool)  # warnings to citizens' browsers

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        """A page on another origin opens the socket only if the app's CORS policy allows that
        origin (browsers send no preflight for a WebSocket; same-origin pages and clients that
        send no Origin are let through before this is asked)."""
        return self.cors.allows(origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            request = Request(scope, await _capped(scope, receive))
            response = await self.run(request)
        except HTTPException as exc:
            response = _refusal(exc.status_code, exc.reason)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> str:
        """Answers encoded by pydantic-core (Rust): a big page is encoded several times faster
        than by the json module, which would hold the event loop meanwhile. Text, not bytes:
        the WebSocket protocols send it as text frames."""
        return pydantic_core.to_json(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        """UTF-8 JSON, parsed without recursion (pydantic-core): an object, or a list (a batch,
        which strawberry refuses unless enabled)."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPException(400, "The request body is not UTF-8 text.") from None
        try:
            doc = pydantic_core.from_json(data, allow_inf_nan=False)
        except ValueError as exc:
            raise HTTPException(400, f"The request is not valid JSON: {exc}.") from None
        if not isinstance(doc, dict | list):
            raise HTTPException(400, 'The request must be a JSON object: {"query": "…"}.')
        return doc

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if item.query is not None and ("\x00" in item.query or _NUL_ESCAPE.search(item.query)):
                raise HTTPException(400, "The document contains a NUL character (\\u0000), "
                                         "which text cannot hold.")  # fmt: skip
            if any("\x00" in text for text in _strings(item.variables)):
                raise HTTPException(400, "A variable contains a NUL character (\\u0000), "
                                         "which text cannot hold.")  # fmt: skip
        return data

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Every error carries a code (graphql-core's own parse and validation errors have
        none)."""
        data = await super().process_result(request, result)
        for error in data.get("errors") or []:
            if isinstance(error, dict):
                extensions = error.setdefault("extensions", {})
                if "code" not in extensions:
                    extensions["code"] = _code_of(error)
        return data

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        results = response_data if isinstance(response_data, list) else [response_data]
        codes = [
            (e.get("extensions") or {}).get("code")
            for r in results
            for e in r.get("errors") or []
            if isinstance(e, dict)
        ]
        if "UNAVAILABLE" in codes:
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            if all(r.get("data") is None for r in results):
                response.status_code = 503
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            pool=self.pool,
            broker=self.broker,
            settings=self.gql_settings,
            clocks=self.clock_rules,
            supervision=self.supervision_rules,
            hotline=self.hotline_settings,
            geocode=self.geocode_settings,
            weather=self.weather,
            issuer=self.issuer,
            pusher=self.pusher,
            principal=principal_of(request.scope),
            reads=reads_of(request.scope),
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """Browsers cannot set headers on a WebSocket: the token comes in connection_init."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization") or params.get("token")
        if raw:
            token = str(raw).removeprefix("Bearer ").strip()
            try:
                context.principal = self.tokens.verify_access(token)
            except Unauthorized as exc:
                raise ConnectionRejectionError({"message": exc.message}) from None
        return None


def graphql_routes(view: OneMapGraphQL) -> list[BaseRoute]:
    return [Route("/graphql", view), WebSocketRoute("/graphql", view)]


async def _capped(scope: Scope, receive: Receive) -> Receive:
    """The request's body read up to MAX_BODY_BYTES (413 past it, before reading the rest),
    replayed to strawberry."""
    declared = dict(scope["headers"]).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
        more = message.get("more_body", False)
    body, sent = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, when the client goes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _refusal(status: int, reason: str) -> Response:
    code = _HTTP_CODES.get(status, "BAD_REQUEST")
    body = {"errors": [{"message": reason, "extensions": {"code": code}}]}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included (iteratively: no recursion to exhaust)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _code_of(error: dict[str, Any]) -> str:
    message = str(error.get("message", ""))
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message == "Unexpected error.":
        return "INTERNAL_SERVER_ERROR"
    if not error.get("path"):
        return "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL_SERVER_ERROR"
