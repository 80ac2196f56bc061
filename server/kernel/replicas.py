"""Read replicas (docs/scale.md): which database answers a read that tolerates lag.

One pool per replica (``ONEMAP_DATABASE_REPLICA_URLS``). A background task asks every
replica, each ``replica_check_s``, how far it has replayed, and the primary where its WAL
ends: a replica that has replayed everything is 0 s behind; one that has not is as far behind
as the last transaction it replayed is old (an over-estimate while the primary is quiet: it
errs towards the primary). A read goes to a replica that is up, within
``replica_max_lag_s`` and — for a caller who has just written — past the write's LSN
(server/kernel/read_your_writes.py); otherwise the primary answers. A replica that fails a
read is marked down and the primary answers that read: the caller sees no error.

Nothing is checked per request: :meth:`ReadRouter.pick` reads the last check's figures.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import AsyncConnection
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from geo.errors import OneMapError
from geo.queries import Query, fetch
from geo.queries.replication import current_lsn, standby_status
from server.kernel.db import make_pool
from server.kernel.errors import connection_lost
from server.kernel.settings import DatabaseSettings

log = logging.getLogger("onemap.replicas")

#: A check's checkout and statement wait on one database.
CHECK_TIMEOUT_S = 1.0
#: Marks of the primary's WAL position kept (one per check: ten minutes at the default 1 s).
MARKS_KEPT = 600

type Pool = AsyncConnectionPool[AsyncConnection[Any]]


def login_url(replica_url: str, app_url: str) -> str:
    """A replica's URL with the server's login (the app role's user and password, as on the
    primary: a physical replica has the same roles) unless the URL names a user itself."""
    parts = urlsplit("postgresql://" + replica_url.split("://", 1)[1])
    if parts.username:
        return parts.geturl()
    userinfo = urlsplit(app_url).netloc.rpartition("@")[0]  # as written: already quoted
    return urlunsplit(
        parts._replace(netloc=f"{userinfo}@{parts.netloc}" if userinfo else parts.netloc)
    )


@dataclass
class Replica:
    """One replica: its pool and what the last check saw."""

    name: str  # host:port/dbname, no password: shown by /readyz
    pool: Pool
    up: bool = False
    lag_s: float | None = None
    replay_lsn: int | None = None
    paused: bool = False
    error: str = ""
    checked_at: float | None = None
    #: Reads it answered, and reads it failed (the primary then answered them).
    reads: int = 0
    failures: int = 0
    _max_lag_s: float = field(default=5.0, repr=False)

    @property
    def within_bound(self) -> bool:
        return self.up and self.lag_s is not None and self.lag_s <= self._max_lag_s

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": "up" if self.up else "down",
            "lag_s": None if self.lag_s is None else round(self.lag_s, 3),
            "used": self.within_bound,
            "replay_paused": self.paused,
            "reads": self.reads,
            "failures": self.failures,
            **({"error": self.error} if self.error else {}),
        }


class ReadRouter:
    """Chooses the database of each lag-tolerant read; the primary when none fits."""

    def __init__(self, settings: DatabaseSettings, primary: Pool) -> None:
        self.primary = primary
        self.max_lag_s = settings.replica_max_lag_s
        self.check_s = settings.replica_check_s
        self.replicas = [
            Replica(_display(url), make_pool(settings, login_url(url, settings.app_libpq_url),
                                             name=f"onemap-replica-{i}"), _max_lag_s=self.max_lag_s)
            for i, url in enumerate(settings.replica_urls)
        ]  # fmt: skip
        self.primary_lsn: int | None = None
        #: (when, the primary's WAL position then), oldest first, from each check: a replica
        #: that has replayed past a mark holds everything committed before its time.
        self._marks: deque[tuple[float, int]] = deque(maxlen=MARKS_KEPT)
        self._turn = itertools.count()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.replicas)

    async def open(self) -> None:
        """Open the pools without waiting (a replica down at start is not our outage) and
        start checking."""
        for replica in self.replicas:
            await replica.pool.open(wait=False)
        if self.replicas:
            await self.check()
            self._task = asyncio.get_running_loop().create_task(self._checking(), name="replicas")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        for replica in self.replicas:
            await replica.pool.close()

    def pick(self, min_lsn: int | None = None) -> Replica | None:
        """A replica within the bound (and past ``min_lsn``), in turn; None: the primary."""
        fit = self._fitting(min_lsn)
        return fit[next(self._turn) % len(fit)] if fit else None

    def usable(self, min_lsn: int | None = None) -> bool:
        """Whether :meth:`pick` would find a replica now (without taking a turn)."""
        return bool(self._fitting(min_lsn))

    def _fitting(self, min_lsn: int | None) -> list[Replica]:
        return [
            r
            for r in self.replicas
            if r.within_bound
            and (min_lsn is None or (r.replay_lsn is not None and r.replay_lsn >= min_lsn))
        ]

    async def fetch[T](self, replica: Replica | None, query: Query[T]) -> T:
        """``query`` on ``replica`` (the primary when None, or when the replica fails)."""
        return await self.run(replica, lambda conn: fetch(conn, query))

    async def run[T](
        self,
        replica: Replica | None,
        work: Callable[[AsyncConnection[Any]], Awaitable[T]],
        primary: Pool | None = None,
    ) -> T:
        """``work`` with a connection of ``replica``; on the primary (``primary``, else the
        app's pool) when None or when the replica cannot be reached."""
        if replica is not None:
            try:
                async with replica.pool.connection() as conn:
                    found = await work(conn)
                replica.reads += 1
                return found
            except (psycopg.Error, OneMapError, PoolTimeout) as exc:
                cause = exc.__cause__ if isinstance(exc, OneMapError) else exc
                if cause is not None and connection_lost(cause):
                    self._mark_down(replica, str(cause))
                elif not isinstance(cause, pg_errors.SerializationFailure):
                    raise  # the statement's own failure (a time-out, bad input): not the replica's
                # Unreachable, or a read cancelled by a conflict with replay: the primary answers.
                replica.failures += 1
        async with (primary or self.primary).connection() as conn:
            return await work(conn)

    async def check(self) -> None:
        """Each replica's state now (and the primary's WAL position it is compared with)."""
        try:
            async with self.primary.connection(CHECK_TIMEOUT_S) as conn:
                self.primary_lsn = await fetch(conn, current_lsn())
            self._marks.append((time.monotonic(), self.primary_lsn))
        except (psycopg.Error, OneMapError, PoolTimeout) as exc:
            log.debug("primary's WAL position unknown: %s", exc)
            self.primary_lsn = None
        await asyncio.gather(*(self._check(r) for r in self.replicas))

    async def _check(self, replica: Replica) -> None:
        try:
            async with replica.pool.connection(CHECK_TIMEOUT_S) as conn:
                status = await asyncio.wait_for(fetch(conn, standby_status()), CHECK_TIMEOUT_S)
        except (psycopg.Error, OneMapError, PoolTimeout, TimeoutError) as exc:
            self._mark_down(replica, str(exc) or type(exc).__name__)
            return
        replica.checked_at = time.monotonic()
        if not status.in_recovery or status.replay_lsn is None:
            self._mark_down(replica, "not a standby (pg_is_in_recovery() is false)")
            return
        if not replica.up:
            log.warning("replica %s is up", replica.name)
        replica.up, replica.error, replica.paused = True, "", status.paused
        replica.replay_lsn = status.replay_lsn
        caught_up = self.primary_lsn is not None and status.replay_lsn >= self.primary_lsn
        replica.lag_s = 0.0 if caught_up else self._lag(status.replay_lsn, status.replay_age_s)

    def _lag(self, replay_lsn: int, replay_age_s: float | None) -> float | None:
        """How stale the replica may be, at most: since the newest mark it has replayed past
        (on a busy primary the WAL always runs a little ahead, and a replica that has replayed
        no transaction since it started has no replay time), or the age of the last
        transaction it replayed, whichever is less; None when neither is known."""
        bounds = [] if replay_age_s is None else [replay_age_s]
        passed = [at for at, lsn in self._marks if lsn <= replay_lsn]
        if passed:
            bounds.append(time.monotonic() - passed[-1])
        return min(bounds) if bounds else None

    def _mark_down(self, replica: Replica, reason: str) -> None:
        if replica.up:
            log.warning("replica %s is down: %s", replica.name, reason)
        replica.up, replica.lag_s = False, None
        replica.error = reason.strip().splitlines()[0][:200] if reason.strip() else "unreachable"

    async def _checking(self) -> None:
        while True:
            await asyncio.sleep(self.check_s)
            try:
                await self.check()
            except Exception:  # a check must never end the checking
                log.exception("replica check failed")

    def describe(self) -> list[dict[str, Any]]:
        return [r.describe() for r in self.replicas]


def _display(url: str) -> str:
    parts = urlsplit("postgresql://" + url.split("://", 1)[1])
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"
