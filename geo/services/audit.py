"""The audit log's one writer: who (user, role) did what to which object, from where.

``audit_log`` is append-only (a trigger refuses UPDATE, DELETE and TRUNCATE), so an activity
with a start and an end is two rows that share an identifier in ``detail``. Callers decide
whether a failed write must stop the audited action; for restricted data (live video, health
status, internal layers) it must.

Every row joins a hash chain (migration 0006, docs/audit.md): the insert trigger takes the
chain's advisory lock and holds it until the writing transaction ends. So write audit rows
in short transactions, or last in a transaction: every other audited action in the city waits
meanwhile. Many small reads (OGC pages, tiles) go through :class:`GroupWriter`, which writes
them in batches (one lock, one commit for many rows) and answers each caller only once its
row is committed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, Connection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from geo.access import Capability, Principal, require
from geo.errors import Unavailable
from geo.queries import Query, fetch
from geo.queries import audit as audit_q
from geo.queries.audit import AuditFilter, AuditPage

log = logging.getLogger("onemap.audit")

#: The address of the client whose request is being served (set once per request by
#: server.kernel.request_class from the ASGI scope, which honours only trusted proxies): rows
#: written without an explicit ``client_addr`` — case writes deep in a service — carry it.
REQUEST_CLIENT: ContextVar[str | None] = ContextVar("onemap_audit_client", default=None)

_INSERT = """
INSERT INTO audit_log (actor_id, actor_role, action, object_type, object_id, client_addr, detail)
VALUES (%(actor_id)s, %(actor_role)s, %(action)s, %(object_type)s, %(object_id)s,
        %(client_addr)s, %(detail)s)
RETURNING id
"""
#: Many rows in one statement. An actor id that names no user (a token of a removed account,
#: a test's made-up id) is kept in ``detail`` and the column left NULL: the foreign key must
#: not turn a read into a refusal.
_INSERT_MANY = """
INSERT INTO audit_log (actor_id, actor_role, action, object_type, object_id, client_addr, detail)
SELECT u.id, r.actor_role, r.action, r.object_type, r.object_id, r.client_addr,
       CASE WHEN r.actor_id IS NOT NULL AND u.id IS NULL
            THEN r.detail || jsonb_build_object('unknown_actor_id', r.actor_id) ELSE r.detail END
FROM unnest(%(actor_id)s::bigint[], %(actor_role)s::text[], %(action)s::text[],
            %(object_type)s::text[], %(object_id)s::text[], %(client_addr)s::inet[],
            %(detail)s::jsonb[])
     AS r(actor_id, actor_role, action, object_type, object_id, client_addr, detail)
LEFT JOIN users u ON u.id = r.actor_id
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit row, before it is written."""

    actor_id: int | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str | int | None = None
    client_addr: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        """The row's column values. ``client_addr`` that is not an IP address is kept in
        ``detail`` (the column is ``inet``), so a test client or a Unix socket never fails a
        write."""
        extra = dict(self.detail)
        addr = _ip_or_none(self.client_addr)
        if self.client_addr and addr is None:
            extra["client"] = self.client_addr
        return {
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": None if self.object_id is None else str(self.object_id),
            "client_addr": addr,
            "detail": extra,
        }


async def record(
    conn: AsyncConnection[Any],
    *,
    actor_id: int | None,
    actor_role: str | None,
    action: str,
    object_type: str,
    object_id: str | int | None,
    client_addr: str | None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one row and return its id (``client_addr`` None: the current request's)."""
    entry = Entry(actor_id, actor_role, action, object_type, object_id,
                  client_addr or REQUEST_CLIENT.get(), dict(detail or {}))  # fmt: skip
    params = entry.params()
    params["detail"] = Jsonb(params["detail"])
    cur = await conn.execute(_INSERT, params)
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def record_sync(conn: Connection[Any], entry: Entry) -> int:
    """:func:`record` for synchronous callers (the command line)."""
    params = entry.params()
    params["detail"] = Jsonb(params["detail"])
    row = conn.execute(_INSERT, params).fetchone()
    assert row is not None
    return int(row[0])


async def record_many(conn: AsyncConnection[Any], entries: Sequence[Entry]) -> None:
    """Append ``entries`` in one statement (one chain lock, one commit when autocommit)."""
    rows = [e.params() for e in entries]
    columns = ("actor_id", "actor_role", "action", "object_type", "object_id", "client_addr")
    params: dict[str, Any] = {c: [r[c] for r in rows] for c in columns}
    params["detail"] = [Jsonb(r["detail"]) for r in rows]
    await conn.execute(_INSERT_MANY, params)


def _ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class GroupWriter:
    """Audit rows of many concurrent requests, written together ("group commit").

    :meth:`record` queues a row and returns once a batch holding it is committed; it raises
    :class:`Unavailable` when the batch could not be written, so the caller serves nothing it
    could not audit (nothing is dropped silently, and nothing is served unaudited). While one
    batch is being written the next one gathers: at low load each row is written at once (one
    round trip, like a plain insert), under load hundreds share one chain lock and one commit.
    The chain serialises its writers, so one insert a request would cap the whole city's
    audited requests at the rate of commits (a few hundred a second on an ordinary disk)."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], max_batch: int = 500):
        self._pool = pool
        self._max = max_batch
        self._queue: list[tuple[Entry, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def record(self, entry: Entry) -> None:
        if self._closed:
            raise Unavailable("The audit log is closing: this read cannot be audited now.")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="onemap-audit-group-writer")
        # shield: a request cancelled while waiting leaves its row to be written anyway
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            try:
                async with self._pool.connection() as conn:
                    await record_many(conn, [entry for entry, _ in batch])
            except Exception as exc:  # every waiter learns it: their reads are refused
                log.error("audit rows not written (%d refused reads): %s", len(batch), exc)
                failure = Unavailable("The audit log cannot be written: this read is refused.")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(failure)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def close(self) -> None:
        """Write what is queued, then refuse new rows."""
        self._closed = True
        if self._task is not None:
            await self._task


async def stream(
    conn: AsyncConnection[Any], query: Query[Any], batch: int = 2000
) -> AsyncIterator[Sequence[tuple[Any, ...]]]:
    """The rows of ``query`` through a server-side cursor, ``batch`` at a time (an export
    never holds more than one batch)."""
    async with conn.transaction(), conn.cursor(name="onemap_audit_export") as cur:
        await cur.execute(query.statement, query.params)
        while rows := await cur.fetchmany(batch):
            yield rows


def stream_sync(
    conn: Connection[Any], query: Query[Any], batch: int = 2000
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """:func:`stream` for synchronous callers (the command line)."""
    with conn.transaction(), conn.cursor(name="onemap_audit_export") as cur:
        cur.execute(query.statement, query.params)
        while rows := cur.fetchmany(batch):
            yield rows


# -- the auditors' reads ------------------------------------------------------------------------


async def read_page(
    conn: AsyncConnection[Any],
    principal: Principal,
    where: AuditFilter,
    cursor: str | None,
    limit: int,
    client_addr: str | None,
) -> AuditPage:
    """A page of the trail for a principal with ``read_audit``; the read is itself audited
    (``audit.read`` with the filters), after the page is read and before it is returned."""
    require(principal, Capability.READ_AUDIT)
    found = await fetch(conn, audit_q.page(where, cursor, limit))
    detail = {"filters": where.describe(), "returned": len(found.items), "format": "json"}
    if cursor is not None:
        detail["after_seq"] = audit_q.decode_cursor(cursor)
    await record(conn, actor_id=principal.user_id, actor_role=principal.audit_role,
                 action="audit.read", object_type="audit_log", object_id=None,
                 client_addr=client_addr, detail=detail)  # fmt: skip
    return found


async def start_export(
    conn: AsyncConnection[Any],
    principal: Principal,
    where: AuditFilter,
    client_addr: str | None,
    fmt: str = "csv",
) -> Query[Any]:
    """The export's query, once the export is audited (``audit.export`` with the filters):
    the row is committed before a byte of the export is sent."""
    require(principal, Capability.READ_AUDIT)
    await record(conn, actor_id=principal.user_id, actor_role=principal.audit_role,
                 action="audit.export", object_type="audit_log", object_id=None,
                 client_addr=client_addr,
                 detail={"filters": where.describe(), "format": fmt})  # fmt: skip
    return audit_q.export(where)
