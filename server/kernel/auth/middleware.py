"""Pure ASGI middleware: verify a Bearer token, attach the principal to the scope.

No token: the anonymous principal (endpoints decide what anonymous callers may do). A token
that fails verification: 401 problem+json at once for HTTP; for a WebSocket the principal stays
anonymous and the socket's own handshake refuses what needs a user.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from geo.errors import Unauthorized
from server.kernel.auth.principal import SCOPE_KEY
from server.kernel.auth.tokens import TokenService
from server.kernel.errors import problem


class AuthMiddleware:
    def __init__(self, app: ASGIApp, tokens: TokenService) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            token = bearer_token(scope)
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
