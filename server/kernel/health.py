"""Probes — ``/healthz`` (the process answers) and ``/readyz`` (the database can serve us) —
and what the process knows of the database's health.

:class:`OutageAwarePool` is the app's pool: a psycopg pool that

- turns the database errors that are the client's or the outage's into domain errors where
  they leave a ``with pool.connection()`` block (``server.kernel.errors.database_error``): a
  NUL in a text value is InvalidInput (400) on every surface, a lost server Unavailable (503
  with ``Retry-After``) — so GraphQL, REST, OGC and the streams answer the same;
- knows when the server is down (a connection broke, or none could be made) and then hands
  out connections with a short checkout timeout (:data:`FAST_CHECKOUT_S`) instead of its
  normal one: a request answers 503 within a second, not after the connect timeout;
- notices the server is back without a restart: a probe connects once a second while it is
  down, and any block that completes marks it up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from geo.errors import OneMapError
from server.kernel.errors import RETRY_AFTER_S, connection_lost, database_error

log = logging.getLogger("onemap.health")

#: Checkout timeout while the server is known to be down (the normal one is the pool's).
FAST_CHECKOUT_S = 0.25
#: How often a down server is probed, and how long one probe may take.
PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 2.5
#: The readiness probe's own checkout timeout: /readyz answers within about a second.
READY_CHECKOUT_S = 1.0
#: A pool gives up reconnecting after this (psycopg_pool's default is 5 minutes, in which
#: its back-off grows to two): the next request then tries at once.
RECONNECT_TIMEOUT_S = 2.0


class DatabaseState:
    """Up, or down since when and why, as one pool's connections have seen the server."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.down_since: float | None = None
        self.reason = ""
        self._probe: asyncio.Task[None] | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def describe(self) -> str:
        if self.down_since is None:
            return "up"
        return f"down for {time.monotonic() - self.down_since:.1f} s ({self.reason})"

    def mark_down(self, reason: str) -> None:
        if self.down_since is None:
            log.warning("database unreachable: %s", reason)
            self.down_since = time.monotonic()
            self.reason = reason[:200]
        self._start_probe()

    def mark_up(self) -> None:
        if self.down_since is not None:
            log.warning("database reachable again after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None

    def _start_probe(self) -> None:
        if self._probe is not None and not self._probe.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a sync caller): the next async one starts it
            return
        self._probe = loop.create_task(self._probing(), name="onemap-db-probe")

    async def _probing(self) -> None:
        while self.down_since is not None:
            await asyncio.sleep(PROBE_INTERVAL_S)
            try:
                conn = await asyncio.wait_for(
                    AsyncConnection.connect(
                        self.conninfo, autocommit=True, connect_timeout=2,
                        application_name="onemap-probe",
                    ),
                    PROBE_TIMEOUT_S,
                )  # fmt: skip
            except (psycopg.Error, OSError, TimeoutError):
                continue
            await conn.close()
            self.mark_up()

    async def stop(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            with suppress(asyncio.CancelledError):
                await self._probe
        self._probe = None


class OutageAwarePool(AsyncConnectionPool[AsyncConnection[Any]]):
    """The app's pool (see the module's docstring)."""

    def __init__(self, conninfo: str = "", **kwargs: Any) -> None:
        super().__init__(conninfo, **kwargs)
        self.state = DatabaseState(conninfo)
        self._out = 0  # connections handed out and not yet returned
        self._checks: set[asyncio.Task[None]] = set()

    async def getconn(self, timeout: float | None = None) -> AsyncConnection[Any]:  # noqa: ASYNC109
        if timeout is None:
            timeout = min(self.timeout, FAST_CHECKOUT_S) if self.state.down else self.timeout
        try:
            conn = await super().getconn(timeout)
        except PoolTimeout as exc:
            # Nothing is checked out, yet no connection came: none can be made.
            if self._out == 0 or self.state.down:
                self.state.mark_down(f"no connection within {timeout:.1f} s")
            raise exc
        self._out += 1
        return conn

    async def putconn(self, conn: AsyncConnection[Any]) -> None:
        self._out -= 1
        await super().putconn(conn)

    @asynccontextmanager
    async def connection(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 (psycopg_pool's signature)
    ) -> AsyncIterator[AsyncConnection[Any]]:
        conn: AsyncConnection[Any] | None = None
        try:
            async with super().connection(timeout) as conn:
                yield conn
        except psycopg.Error as exc:
            if conn is not None and connection_lost(exc) and (conn.broken or conn.closed):
                self.state.mark_down(str(exc).strip().splitlines()[0] if str(exc) else "lost")
                self._check_idle()
            domain = database_error(exc)
            if domain is None:
                raise
            raise domain from exc
        if self.state.down:
            self.state.mark_up()

    def _check_idle(self) -> None:
        """Test the idle connections in the background: those the outage broke are replaced
        rather than handed to the next requests."""
        with suppress(RuntimeError):  # no running loop: nothing to check from
            task = asyncio.get_running_loop().create_task(self._check_quietly())
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    async def _check_quietly(self) -> None:
        try:
            await self.check()
        except Exception as exc:  # the pool may be closing
            log.debug("pool check failed: %s", exc)

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await self.state.stop()
        await super().close(timeout)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers, PostGIS is installed and migrations are at head."""
    state = request.app.state
    checks: dict[str, str] = {}
    db_state: DatabaseState | None = getattr(state.pool, "state", None)
    down = db_state is not None and db_state.down
    try:
        async with state.pool.connection(FAST_CHECKOUT_S if down else READY_CHECKOUT_S) as conn:
            checks["database"] = "ok"
            row = await (
                await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).fetchone()
            if row is None:
                return _not_ready(checks, "PostGIS is not installed in the database.")
            checks["postgis"] = row[0]
            try:
                cur = await conn.execute("SELECT version_num FROM alembic_version")
                current = [r[0] for r in await cur.fetchall()]
            except pg_errors.UndefinedTable:
                current = []
    except (psycopg.Error, OneMapError, TimeoutError) as exc:
        log.warning("readiness: database unreachable: %s", exc)
        checks["database"] = db_state.describe() if db_state is not None else "unreachable"
        if checks["database"] == "up":
            checks["database"] = "unreachable"
        return _not_ready(checks, "The database is unreachable.")
    head = state.migration_head
    checks["migrations"] = ",".join(current) or "none"
    if current != [head]:
        return _not_ready(
            checks,
            f"Database migrations are at {checks['migrations']}, the code needs {head}: "
            "run `onemap migrate`.",
        )
    # ``instance``: which process answered (a random name per process, server/app.py): behind
    # one port or a proxy, a caller can tell the workers apart (tests/running_server.py does).
    ready = {"status": "ready", "instance": getattr(state, "instance", None), "checks": checks}
    return JSONResponse({**ready, **_replicas(state), **_relays(state)})


def _replicas(state: Any) -> dict[str, Any]:
    """Each read replica's state (server/kernel/replicas.py) as its last check saw it: up or
    down, lag, whether reads go to it. A replica down does not make the server unready: the
    primary answers its reads."""
    reads = getattr(state, "reads", None)
    if reads is None or not reads.enabled:
        return {}
    return {"replicas": reads.describe(), "replica_max_lag_s": reads.max_lag_s}


def _relays(state: Any) -> dict[str, Any]:
    """This process's camera relays (docs/streams.md): its id and internal address as its
    leases record them, the cameras whose source it pulls and those it pulls from their
    owner. Operators match it with the ``camera_relays`` table."""
    streams = getattr(state, "streams", None)
    relays = getattr(streams, "relays", None)
    return {"relays": relays()} if callable(relays) else {}


def _not_ready(checks: dict[str, str], reason: str) -> JSONResponse:
    return JSONResponse(
        {"status": "not_ready", "reason": reason, "checks": checks},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
