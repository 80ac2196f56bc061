"""``/.well-known/jwks.json``: the public keys that verify OneMap's tokens, offline."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def jwks(request: Request) -> JSONResponse:
    return JSONResponse(
        request.app.state.tokens.keys.jwks(),
        headers={"Cache-Control": "public, max-age=300"},
        media_type="application/jwk-set+json",
    )


routes = [Route("/.well-known/jwks.json", jwks, methods=["GET"])]
