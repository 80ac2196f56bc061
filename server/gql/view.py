"""The strawberry ASGI view: context per request, socket authentication, mounting."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from geo.errors import Unauthorized
from server.gql.context import Context
from server.gql.schema import make_schema
from server.kernel.auth.principal import principal_of
from server.kernel.auth.tokens import TokenService
from server.kernel.events import EventBroker
from server.kernel.settings import Settings


class OneMapGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        broker: EventBroker,
        tokens: TokenService,
    ) -> None:
        super().__init__(
            make_schema(settings.graphql),
            graphql_ide="graphiql" if settings.server.dev_mode else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            allowed_origins=settings.server.allowed_origins,
        )
        self.pool, self.broker, self.tokens = pool, broker, tokens
        self.gql_settings = settings.graphql

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            pool=self.pool,
            broker=self.broker,
            settings=self.gql_settings,
            principal=principal_of(request.scope),
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
