"""The citizen inbox's one write: how far its owner has read (it only moves forward, so an
older client's late request cannot mark fresh items unread)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

_MARK = (
    "INSERT INTO notification_reads (user_id, read_through) VALUES (%s, %s) "
    "ON CONFLICT (user_id) DO UPDATE SET read_through = "
    "greatest(notification_reads.read_through, excluded.read_through)"
)


async def mark_read(conn: AsyncConnection[Any], user_id: int, through: datetime) -> None:
    await conn.execute(_MARK, (user_id, through))
