"""API keys' usage at ``/ogc`` and ``/open`` (docs/open-data.md): a read served to a key —
items, one item, a download — is counted with its dataset, its features and the bytes of its
body, once the body has been sent, in the service's :class:`UsageRecorder` (batched writes:
the request never waits for them). Other callers cost nothing here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.kernel.auth.principal import principal_of

#: Where an endpoint leaves (dataset, features) for the middleware.
SERVED = "onemap.served"


def served(request: Request, dataset: str, rows: int) -> None:
    """Say what this request serves (the middleware counts it for an API key)."""
    request.scope[SERVED] = (dataset, rows)


class UsageMiddleware:
    def __init__(self, app: ASGIApp, ogc: Any) -> None:
        self.app = app
        self.ogc = ogc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or principal_of(scope).api_key_id is None:
            await self.app(scope, receive, send)
            return
        status = 0
        size = 0

        async def counting(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting)
        found = scope.get(SERVED)
        if found is not None and 200 <= status < 300:
            key_id = principal_of(scope).api_key_id
            assert key_id is not None
            self.ogc.usage.add(key_id, found[0], found[1], size)
