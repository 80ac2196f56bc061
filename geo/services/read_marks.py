"""The writer of ``read_marks`` (migration 0033): after a signed-in user's write, the primary's
WAL position is kept for them for a while, so that every process on every host sends their
reads to the primary until a replica has replayed it (server/kernel/read_your_writes.py)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from geo.queries.replication import lsn_value

_MARK = """
INSERT INTO read_marks (user_id, lsn, until)
VALUES (%(user)s, pg_current_wal_lsn() - '0/0'::pg_lsn, now() + make_interval(secs => %(keep)s))
ON CONFLICT (user_id) DO UPDATE
   SET lsn = greatest(read_marks.lsn, excluded.lsn), until = excluded.until
RETURNING pg_current_wal_lsn()::text
"""


async def mark_write(conn: AsyncConnection[Any], user_id: int | None, keep_s: float) -> int:
    """The primary's WAL position now (after the caller's write committed), kept for
    ``user_id`` for ``keep_s`` seconds (anonymous writers: only returned)."""
    if user_id is None:
        cur = await conn.execute("SELECT pg_current_wal_lsn()::text")
    else:
        cur = await conn.execute(_MARK, {"user": user_id, "keep": keep_s})
    row = await cur.fetchone()
    assert row is not None
    return lsn_value(row[0])
