"""The citizen API assembled: every endpoint's route, and the OpenAPI document built from the
same declarations (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from mobile_api import (
    api_keys,
    audit,
    auth,
    case_photos,
    evaluation,
    geocode,
    health_code,
    health_officers,
    incident_report,
    locate,
    notifications,
    open311,
    reports,
    search,
    services,
    staff,
    warnings,
)  # fmt: skip
from mobile_api.contract import Endpoint, route
from mobile_api.openapi import build
from mobile_api.state import MobileState
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings

TITLE = "OneMap (一张图) citizen API"
VERSION = "1.0.0"


def endpoints() -> list[Endpoint]:
    return [
        *auth.endpoints, *reports.endpoints, *health_code.endpoints, *health_officers.endpoints,
        *services.endpoints,
        *staff.endpoints, *notifications.endpoints, *audit.endpoints, *locate.endpoints,
        *search.endpoints, *case_photos.endpoints, *evaluation.endpoints, *warnings.endpoints,
        *incident_report.endpoints,
        *geocode.endpoints, *api_keys.endpoints,
    ]  # fmt: skip


def document() -> dict[str, Any]:
    """The OpenAPI document (the same for every deployment: servers is relative)."""
    return build(endpoints(), title=TITLE, version=VERSION, server="/api/v1")


def routes(
    settings: Settings, tokens: TokenService, pool: AsyncConnectionPool[AsyncConnection[Any]]
) -> list[BaseRoute]:
    state = MobileState.build(settings, tokens, pool)
    doc = document()

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(doc, headers={"Cache-Control": "public, max-age=300"})

    return [Route("/openapi.json", openapi, methods=["GET"]),
            *(route(ep, state) for ep in endpoints())]  # fmt: skip


def open311_mount(
    settings: Settings, tokens: TokenService, pool: AsyncConnectionPool[AsyncConnection[Any]]
) -> Mount:
    return Mount("/open311/v2", app=open311.app(MobileState.build(settings, tokens, pool)))


def dump() -> str:
    """The committed copy's text: ``python -m mobile_api.api > mobile_api/openapi.json``."""
    return json.dumps(document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dump())
