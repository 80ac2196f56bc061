"""Pure ASGI middleware: verify a Bearer token — or a department's API key — and attach the
principal to the scope.

No token: the anonymous principal (endpoints decide what anonymous callers may do). A token
that fails verification: 401 problem+json at once for HTTP; for a WebSocket the principal stays
anonymous and the socket's own handshake refuses what needs a user. An API key (HTTP only,
``server.kernel.auth.api_keys``) that is unknown, revoked or expired: 401 saying which; past its
per-minute quota: 429 with ``Retry-After``.
"""

from __future__ import annotations

import psycopg
from starlette.types import ASGIApp, Receive, Scope, Send

from geo.errors import OneMapError, Unauthorized
from server.kernel.auth.api_keys import ApiKeys, api_key
from server.kernel.auth.principal import SCOPE_KEY
from server.kernel.auth.tokens import TokenService
from server.kernel.errors import database_error, problem, problem_for


class AuthMiddleware:
    def __init__(self, app: ASGIApp, tokens: TokenService, keys: ApiKeys | None = None) -> None:
        self.app = app
        self.tokens = tokens
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            key = api_key(scope) if self.keys is not None else None
            token = bearer_token(scope) if key is None else None
            if key is not None and scope["type"] == "http":
                assert self.keys is not None
                try:
                    scope[SCOPE_KEY] = await self.keys.principal(key)
                except psycopg.Error as exc:
                    domain = database_error(exc)
                    if domain is None:
                        raise
                    await problem_for(domain)(scope, receive, send)
                    return
                except OneMapError as exc:
                    await problem_for(exc)(scope, receive, send)
                    return
            if token is not None:
                try:
                    scope[SCOPE_KEY] = self.tokens.verify_access(token)
                except Unauthorized as exc:
                    if scope["type"] == "http":
                        await problem(401, exc.message, code=exc.code)(scope, receive, send)
                        return
        await self.app(scope, receive, send)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
    return None
