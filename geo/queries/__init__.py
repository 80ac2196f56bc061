"""Read queries on the one map, one function each, shared by every surface.

A query function returns a :class:`Query` (SQL, bind parameters and a decoder) and does no I/O,
so the same function serves the async app (:func:`fetch`) and threaded callers such as
pygeoapi providers (:func:`fetch_sync`). Values are always bind parameters; identifiers come
from ``geo.layers``. GeoJSON is built by PostGIS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, Connection, sql

Rows = Sequence[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Query[T]:
    statement: sql.SQL | sql.Composed
    params: Mapping[str, Any]
    decode: Callable[[Rows], T]
    #: Planner settings for this statement alone (``SET LOCAL`` in its own transaction), where
    #: PostgreSQL misjudges a plan: pg_trgm's operators cost far more per row than it assumes.
    local: tuple[tuple[str, str], ...] = ()
    #: Results in PostgreSQL's binary format: a tile's bytea arrives as its bytes, not as hex
    #: text twice its size that the server encodes and the client decodes.
    binary: bool = False


def _local(name: str, value: str) -> sql.Composed:
    return sql.SQL("SET LOCAL {} = {}").format(sql.Identifier(name), sql.Literal(value))


async def fetch[T](conn: AsyncConnection[Any], query: Query[T]) -> T:
    if query.local:
        async with conn.transaction():
            for name, value in query.local:
                await conn.execute(_local(name, value))
            cur = await conn.execute(query.statement, query.params, binary=query.binary)
            return query.decode(await cur.fetchall())
    cur = await conn.execute(query.statement, query.params, binary=query.binary)
    return query.decode(await cur.fetchall())


def fetch_sync[T](conn: Connection[Any], query: Query[T]) -> T:
    if query.local:
        with conn.transaction():
            for name, value in query.local:
                conn.execute(_local(name, value))
            rows = conn.execute(query.statement, query.params, binary=query.binary).fetchall()
            return query.decode(rows)
    return query.decode(conn.execute(query.statement, query.params, binary=query.binary).fetchall())
