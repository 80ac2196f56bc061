"""``/cap``: the public CAP 1.2 feed — ``/cap/alerts.atom`` (the current Actual, Public
messages) and ``/cap/alerts/{identifier}.xml`` (one message, current or not). Anyone may read
them; exercises, tests and non-public messages are never served here (docs/warnings.md)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from geo.errors import NotFound
from geo.queries import fetch
from geo.queries.warnings import feed, message
from server.cap.atom import ATOM_MEDIA, atom_feed
from server.cap.cap_xml import CAP_MEDIA, cap_document
from server.kernel.settings import Settings

PREFIX = "/cap"


def routes(settings: Settings, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> list[BaseRoute]:
    zone = ZoneInfo(settings.clock.timezone)
    limit = settings.warnings.feed_limit

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/") + PREFIX

    async def alerts_atom(request: Request) -> Response:
        async with pool.connection() as conn:
            messages = await fetch(conn, feed(limit))
        body = atom_feed(
            messages,
            feed_url=f"{base(request)}/alerts.atom",
            alert_url=base(request) + "/alerts/{identifier}.xml",
            title="OneMap 预警 / OneMap warnings",
            author=settings.warnings.sender_name,
        )
        return Response(body, media_type=ATOM_MEDIA, headers={"Cache-Control": "no-cache"})

    async def alert_xml(request: Request) -> Response:
        identifier = str(request.path_params["identifier"])
        async with pool.connection() as conn:
            found = await fetch(conn, message(identifier, public=True))
        if found is None:
            raise NotFound(
                f"No public warning has the identifier {identifier!r}; the current ones are "
                f"listed at {PREFIX}/alerts.atom."
            )
        return Response(cap_document(found, zone), media_type=CAP_MEDIA)

    return [
        Route("/alerts.atom", alerts_atom, methods=["GET"]),
        Route("/alerts/{identifier:str}.xml", alert_xml, methods=["GET"]),
    ]
