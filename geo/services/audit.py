"""The audit log's one writer: who (user, role) did what to which object, from where.

``audit_log`` is append-only (a trigger refuses UPDATE and DELETE), so an activity with a start
and an end is two rows that share an identifier in ``detail``. Callers decide whether a failed
write must stop the audited action; for restricted data (live video, health status) it must.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

_INSERT = """
INSERT INTO audit_log (actor_id, actor_role, action, object_type, object_id, client_addr, detail)
VALUES (%(actor_id)s, %(actor_role)s, %(action)s, %(object_type)s, %(object_id)s,
        %(client_addr)s, %(detail)s)
RETURNING id
"""


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
    """Append one row and return its id. ``client_addr`` that is not an IP address is kept in
    ``detail`` (the column is ``inet``), so a test client or a Unix socket never fails a write."""
    extra = dict(detail or {})
    addr = _ip_or_none(client_addr)
    if client_addr and addr is None:
        extra["client"] = client_addr
    cur = await conn.execute(
        _INSERT,
        {
            "actor_id": actor_id,
            "actor_role": actor_role,
            "action": action,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "client_addr": addr,
            "detail": Jsonb(extra),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def _ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
