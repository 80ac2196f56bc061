"""Staff notifications: the one writer of ``staff_notifications`` and of how far each staff
member has read them.

A notification is addressed to an audience (geo.enums.Audience) rather than copied to every
recipient: one row for "the department's staff" or "the dispatchers whose jurisdiction holds
this case", matched to the reader in SQL by ``geo.access.notification_scope``. Each committed
batch is announced on ``onemap_staff_notifications`` (NOTIFY, delivered on commit to every
worker), with the new ids, for the live subscription.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from geo.enums import Audience, NotificationKind

CHANNEL = "onemap_staff_notifications"
#: Ids per NOTIFY payload (PostgreSQL's payload limit is 8,000 bytes).
IDS_PER_NOTICE = 400


@dataclass(frozen=True)
class Notice:
    kind: NotificationKind
    audience: Audience
    case_id: int | None = None
    user_id: int | None = None
    department_id: int | None = None
    supervision_id: int | None = None
    stage: str | None = None
    level: str | None = None
    deadline: datetime | None = None
    note: str | None = None


COLUMNS = ("kind", "audience", "case_id", "user_id", "department_id", "supervision_id", "stage",
           "level", "deadline", "note")  # fmt: skip

_INSERT = """
INSERT INTO staff_notifications (kind, audience, case_id, user_id, department_id,
  supervision_id, stage, level, deadline, note, created_at)
SELECT r.*, %(now)s FROM unnest(%(kind)s::text[], %(audience)s::text[], %(case_id)s::bigint[],
  %(user_id)s::bigint[], %(department_id)s::int[], %(supervision_id)s::bigint[],
  %(stage)s::text[], %(level)s::text[], %(deadline)s::timestamptz[], %(note)s::text[]) AS r
RETURNING id
"""


async def send(conn: AsyncConnection[Any], notices: Sequence[Notice], now: datetime) -> list[int]:
    """Write ``notices`` (in the caller's transaction) and announce them; their ids."""
    if not notices:
        return []
    params: dict[str, Any] = {
        c: [getattr(getattr(n, c), "value", getattr(n, c)) for n in notices] for c in COLUMNS
    }
    params["now"] = now
    cur = await conn.execute(_INSERT, params)
    ids = [int(r[0]) for r in await cur.fetchall()]
    await announce(conn, ids)
    return ids


async def announce(conn: AsyncConnection[Any], ids: Sequence[int]) -> None:
    """NOTIFY the subscribers of new notifications ``ids`` (delivered on commit)."""
    for start in range(0, len(ids), IDS_PER_NOTICE):
        payload = json.dumps({"ids": list(ids[start : start + IDS_PER_NOTICE])})
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


_MARK = (
    "INSERT INTO staff_notification_reads (user_id, read_through) VALUES (%s, %s) "
    "ON CONFLICT (user_id) DO UPDATE SET read_through = "
    "greatest(staff_notification_reads.read_through, excluded.read_through)"
)


async def mark_read(conn: AsyncConnection[Any], user_id: int, through: int) -> None:
    """Everything up to notification ``through`` is read (the mark only moves forward)."""
    await conn.execute(_MARK, (user_id, through))
