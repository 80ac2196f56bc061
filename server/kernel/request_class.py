"""Each request's class, and the statement time-out that goes with it.

A statement of an anonymous caller may run for ``public_statement_timeout_ms`` (5 s by default),
one of a signed-in user ``statement_timeout_ms`` (15 s), an export (a CSV of the audit trail, a
long OGC download) ``export_statement_timeout_ms`` (2 min). The class is set once per request
(:class:`RequestClassMiddleware`, from the verified principal) in a context variable; each
connection the request takes from a pool is brought to that class's time-out on checkout
(:func:`apply_on_checkout`, the pools' ``check`` callback), with one ``SET`` only when the
connection was last used by another class — so a burst of anonymous requests costs nothing
extra, and a slow anonymous query is cut off long before it could hold a connection for 15 s.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from psycopg import AsyncConnection, Connection
from starlette.types import ASGIApp, Receive, Scope, Send

from geo.services.audit import REQUEST_CLIENT
from server.kernel.auth.principal import SCOPE_KEY
from server.kernel.settings import DatabaseSettings


class RequestClass(StrEnum):
    PUBLIC = "public"  # no token
    USER = "user"  # a signed-in citizen or staff member
    EXPORT = "export"  # declared by the handler of a long download
    SERVER = "server"  # the server's own work (start-up, sweeps): the pool's default


CURRENT: ContextVar[RequestClass] = ContextVar("onemap_request_class", default=RequestClass.SERVER)


def timeouts(settings: DatabaseSettings) -> dict[RequestClass, int]:
    return {
        RequestClass.PUBLIC: settings.public_statement_timeout_ms,
        RequestClass.USER: settings.statement_timeout_ms,
        RequestClass.EXPORT: settings.export_statement_timeout_ms,
        RequestClass.SERVER: settings.statement_timeout_ms,
    }


@contextlib.contextmanager
def export() -> Iterator[None]:
    """Inside: connections taken are given the export class's longer time-out."""
    token = CURRENT.set(RequestClass.EXPORT)
    try:
        yield
    finally:
        CURRENT.reset(token)


class Checkout:
    """The pools' ``check`` callback: the connection gets the current class's time-out."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.by_class = timeouts(settings)
        self.default = settings.statement_timeout_ms  # what the pools' connections start with
        self._set: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    def _wanted(self, conn: Any) -> int | None:
        wanted = self.by_class[CURRENT.get()]
        return None if self._set.get(conn, self.default) == wanted else wanted

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        wanted = self._wanted(conn)
        if wanted is not None:
            await conn.execute(f"SET statement_timeout = {int(wanted)}")
            self._set[conn] = wanted

    def sync(self, conn: Connection[Any]) -> None:
        wanted = self._wanted(conn)
        if wanted is not None:
            conn.execute(f"SET statement_timeout = {int(wanted)}")
            self._set[conn] = wanted


class RequestClassMiddleware:
    """Sets :data:`CURRENT` from the principal the auth middleware attached (runs inside it),
    and the audit log's :data:`~geo.services.audit.REQUEST_CLIENT` from the ASGI scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        principal = scope.get(SCOPE_KEY)
        signed_in = principal is not None and getattr(principal, "user_id", None) is not None
        token = CURRENT.set(RequestClass.USER if signed_in else RequestClass.PUBLIC)
        client = scope.get("client")
        client_token = REQUEST_CLIENT.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_CLIENT.reset(client_token)
            CURRENT.reset(token)
