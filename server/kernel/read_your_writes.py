"""Read-your-writes with read replicas (docs/scale.md): after a caller writes, their reads go
to the primary until a replica has replayed past the write.

After a request that wrote (a GraphQL mutation — server/gql marks it — or any POST, PUT,
PATCH or DELETE elsewhere), the primary's WAL position is read once and

- sent back as the ``X-OneMap-LSN`` header and the short-lived ``onemap_lsn`` cookie: a later
  request carrying either, to any worker of any host, reads from a replica only once that
  replica has replayed it;
- kept for the signed-in user in ``read_marks`` on the primary (geo/services/read_marks.py),
  for :data:`REMEMBER_S`, for API clients that keep neither cookie nor header: every process
  on every host reads that row (one primary-key lookup) before it sends a signed-in user's
  read to a replica.

Pure ASGI: it only puts a :class:`Reads` on the scope (``scope["onemap.reads"]``) and adds the
header and cookie to the answer of a write. Without replicas it does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import PoolTimeout
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.errors import OneMapError
from geo.queries import fetch
from geo.queries.replication import lsn_text, lsn_value, read_mark
from geo.services.read_marks import mark_write as keep_mark
from server.kernel.auth.principal import principal_of
from server.kernel.replicas import Pool, ReadRouter, Replica

log = logging.getLogger("onemap.replicas")

HEADER = "X-OneMap-LSN"
COOKIE = "onemap_lsn"
#: How long a write sends its writer to the primary at most (cookie lifetime, memory): past
#: it a replica within the lag bound has replayed it or the bound sends them there anyway.
REMEMBER_S = 60
_SAFE = {"GET", "HEAD", "OPTIONS"}
_KEY = "onemap.reads"


@dataclass
class Reads:
    """What one request's reads need: the LSN they must see, and whether it wrote."""

    router: ReadRouter
    min_lsn: int | None = None
    wrote: bool = False

    def replica(self) -> Replica | None:
        """The replica for this request's lag-tolerant reads (None: the primary)."""
        return self.router.pick(self.min_lsn)


def reads_of(scope: Scope) -> Reads | None:
    """The request's :class:`Reads`, when replicas are configured."""
    found = scope.get(_KEY)
    return found if isinstance(found, Reads) else None


async def lag_tolerant[T](
    scope: Scope, pool: Pool, work: Callable[[AsyncConnection[Any]], Awaitable[T]]
) -> T:
    """``work`` (plain reads, nothing written) on a replica this request may read from, else
    on ``pool`` (the surface's primary pool), which also answers when the replica fails."""
    reads = reads_of(scope)
    if reads is None:
        async with pool.connection() as conn:
            return await work(conn)
    return await reads.router.run(reads.replica(), work, primary=pool)


def mark_write(scope: Scope) -> None:
    """This request wrote (a GraphQL mutation: the method alone does not say)."""
    reads = reads_of(scope)
    if reads is not None:
        reads.wrote = True


class ReadYourWritesMiddleware:
    def __init__(self, app: ASGIApp, router: ReadRouter) -> None:
        self.app, self.router = app, router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.router.enabled:
            await self.app(scope, receive, send)
            return
        user = principal_of(scope).user_id
        # GraphQL decides for itself (a query POSTs too); elsewhere the method says.
        wrote = scope["method"] not in _SAFE and scope["path"] != "/graphql"
        reads = Reads(self.router, await self._wanted(scope, user, may_read=not wrote), wrote)
        scope[_KEY] = reads

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and reads.wrote:
                lsn = await self._written(user)
                if lsn is not None:
                    headers = MutableHeaders(scope=message)
                    headers[HEADER] = lsn_text(lsn)
                    headers.append(
                        "Set-Cookie",
                        f"{COOKIE}={lsn_text(lsn)}; Max-Age={REMEMBER_S}; Path=/; HttpOnly; "
                        "SameSite=Lax",
                    )
            await send(message)

        await self.app(scope, receive, sending)

    async def _wanted(self, scope: Scope, user: int | None, *, may_read: bool) -> int | None:
        """The highest LSN the request's header, cookie and user's last write ask for (the
        last only when a replica could answer the request's reads at all)."""
        found: list[int] = []
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = [headers.get(HEADER.lower(), "")]
        if "cookie" in headers:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(headers["cookie"])
            except Exception:  # a malformed cookie header: ignore it, as browsers do
                jar = SimpleCookie()
            if COOKIE in jar:
                given.append(jar[COOKIE].value)
        for text in given:
            if text:
                with suppress(ValueError):  # not an LSN: worthless, not harmful
                    found.append(lsn_value(text))
        if user is not None and may_read and self.router.usable(max(found, default=None)):
            mark = await self._mark(user)
            if mark is not None:
                found.append(mark)
        return max(found) if found else None

    async def _mark(self, user: int) -> int | None:
        """The user's kept write position, from the primary (None when it cannot be read: the
        request then reads as if they had written nothing lately — a replica within the bound)."""
        try:
            async with self.router.primary.connection() as conn:
                return await fetch(conn, read_mark(user))
        except (psycopg.Error, OneMapError, PoolTimeout) as exc:
            log.warning("a writer's read mark unknown: %s", exc)
            return None

    async def _written(self, user: int | None) -> int | None:
        try:
            async with self.router.primary.connection() as conn:
                return await keep_mark(conn, user, REMEMBER_S)
        except (psycopg.Error, OneMapError, PoolTimeout) as exc:
            log.warning("WAL position after a write unknown: %s", exc)
            return None
