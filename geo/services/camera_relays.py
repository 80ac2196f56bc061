"""The one writer of ``camera_relays``: which server process holds a camera's relay.

A camera's source is pulled by one process at a time, across every worker and host. That
process holds a **lease**, a row with its id, the internal address other processes pull its
relay from, and an expiry its heartbeat keeps moving. A process that wants the camera
:func:`claim`\\ s it: it gets the lease when there is none, when the lease has expired (its
owner died or lost the database), or when it is its own; otherwise it learns who holds it.
Every time is the database's clock, so hosts' clocks need not agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg import errors as pg_errors

from geo.errors import NotFound

_CLAIM = """
WITH claimed AS (
    INSERT INTO camera_relays AS r (camera_id, owner, internal_url, public_url, expires_at)
    VALUES (%(camera)s, %(owner)s, %(internal)s, %(public)s,
            now() + make_interval(secs => %(ttl)s))
    ON CONFLICT (camera_id) DO UPDATE
    SET owner = excluded.owner, internal_url = excluded.internal_url,
        public_url = excluded.public_url,
        acquired_at = CASE WHEN r.owner = excluded.owner THEN r.acquired_at ELSE now() END,
        renewed_at = now(), expires_at = excluded.expires_at
    WHERE r.expires_at < now() OR r.owner = excluded.owner
    RETURNING r.owner, r.internal_url, r.public_url, r.expires_at
)
SELECT owner, internal_url, public_url, expires_at, true FROM claimed
UNION ALL
SELECT owner, internal_url, public_url, expires_at, false FROM camera_relays
WHERE camera_id = %(camera)s AND NOT EXISTS (SELECT FROM claimed)
"""

_RENEW = """
UPDATE camera_relays SET renewed_at = now(), expires_at = now() + make_interval(secs => %(ttl)s)
WHERE owner = %(owner)s AND camera_id = ANY(%(cameras)s)
RETURNING camera_id
"""

_RELEASE = "DELETE FROM camera_relays WHERE owner = %(owner)s AND camera_id = ANY(%(cameras)s)"


@dataclass(frozen=True, slots=True)
class Lease:
    camera_id: int
    owner: str
    internal_url: str
    public_url: str | None
    expires_at: datetime
    #: True when the caller holds it (it just took it, or renewed its own).
    mine: bool


async def claim(
    conn: AsyncConnection[Any],
    camera_id: int,
    *,
    owner: str,
    internal_url: str,
    public_url: str | None,
    ttl_s: float,
) -> Lease | None:
    """Take the camera's lease if it is free, expired or ours; else say who holds it. None
    in the instant a concurrent claimer's row is not yet visible: ask again."""
    params = {"camera": camera_id, "owner": owner, "internal": internal_url,
              "public": public_url, "ttl": ttl_s}  # fmt: skip
    try:
        async with conn.transaction():
            cur = await conn.execute(_CLAIM, params)
            row = await cur.fetchone()
    except pg_errors.ForeignKeyViolation:
        raise NotFound(f"There is no camera {camera_id}.") from None
    if row is None:
        return None
    return Lease(camera_id, row[0], row[1], row[2], row[3], bool(row[4]))


async def renew(
    conn: AsyncConnection[Any], cameras: list[int], *, owner: str, ttl_s: float
) -> set[int]:
    """Move the expiry of the owner's leases; returns the cameras it still holds."""
    if not cameras:
        return set()
    async with conn.transaction():
        cur = await conn.execute(_RENEW, {"cameras": cameras, "owner": owner, "ttl": ttl_s})
        return {int(r[0]) for r in await cur.fetchall()}


async def release(conn: AsyncConnection[Any], cameras: list[int], *, owner: str) -> None:
    """Give up the owner's leases of ``cameras`` (the feed stopped, the process ends)."""
    if cameras:
        async with conn.transaction():
            await conn.execute(_RELEASE, {"cameras": cameras, "owner": owner})
