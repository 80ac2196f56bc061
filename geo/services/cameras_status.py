"""The one writer of a camera's liveness (``cameras.status``, ``last_seen_at``), and its news.

The stream service calls :func:`set_status` when a source opens, delivers or fails. A change of
status is published with ``NOTIFY onemap_camera_status`` in the same statement, so every worker
process (GraphQL's ``cameraStatus`` subscription LISTENs there) hears it once it is committed,
and never hears of a change that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from geo.enums import CameraStatus
from geo.errors import NotFound

CHANNEL = "onemap_camera_status"

# ``last_seen_at`` moves forward only while the camera delivers (online); going offline keeps
# the moment it was last seen. The NOTIFY fires only when the status itself changes.
_SET_STATUS = """
WITH before AS (
    SELECT id, status FROM cameras WHERE id = %(id)s FOR UPDATE
), after AS (
    UPDATE cameras c
    SET status = %(status)s::text,
        last_seen_at = CASE WHEN %(status)s::text = 'online' THEN now() ELSE c.last_seen_at END
    FROM before
    WHERE c.id = before.id
    RETURNING c.id, c.code, c.status, c.last_seen_at, before.status AS previous
)
SELECT id, code, status, last_seen_at, previous,
       CASE WHEN previous IS DISTINCT FROM status THEN pg_notify(%(channel)s, json_build_object(
           'camera_id', id, 'code', code, 'status', status, 'last_seen_at', last_seen_at
       )::text) END
FROM after
"""


@dataclass(frozen=True, slots=True)
class CameraStatusChange:
    camera_id: int
    code: str
    status: CameraStatus
    last_seen_at: datetime | None
    previous: CameraStatus

    @property
    def changed(self) -> bool:
        return self.status != self.previous

    def payload(self) -> dict[str, Any]:
        """The NOTIFY payload's shape (for listeners and tests)."""
        seen = self.last_seen_at.isoformat() if self.last_seen_at else None
        return {
            "camera_id": self.camera_id,
            "code": self.code,
            "status": self.status.value,
            "last_seen_at": seen,
        }


async def set_status(
    conn: AsyncConnection[Any], camera_id: int, status: CameraStatus
) -> CameraStatusChange:
    """Record that a camera is ``status`` now; publish when that is a change."""
    cur = await conn.execute(
        _SET_STATUS, {"id": camera_id, "status": status.value, "channel": CHANNEL}
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"There is no camera {camera_id}.")
    return CameraStatusChange(
        camera_id=row[0],
        code=row[1],
        status=CameraStatus(row[2]),
        last_seen_at=row[3],
        previous=CameraStatus(row[4]),
    )
