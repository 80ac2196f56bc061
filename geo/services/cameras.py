"""The writer of ``cameras``: create, replace, delete — checked, in one transaction, audited.

``source`` (the stream URL) is write-only: accepted here, never returned by any read. A
replacement without ``source`` keeps the stored one (clients never saw it to send it back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

from geo.enums import CameraStatus
from geo.errors import Conflict, NotFound
from geo.ogc.features_in import PointFeature, Spec, checked
from geo.services.facilities import Writer, audit, grid_cell_of

SPECS = {
    "code": Spec(str, required=True, max_len=32),
    "name": Spec(str, required=True),
    "heading": Spec(int, required=True, low=0, high=359),
    "fov": Spec(int, required=True, low=1, high=360),
    "status": Spec(str, values=frozenset(s.value for s in CameraStatus)),
    "last_seen_at": Spec(datetime),
    "source": Spec(str, max_len=2000),
}
DERIVED = {"grid_cell_id"}
_POINT = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"


def _row(feature: PointFeature) -> dict[str, Any]:
    row = checked(feature.properties, SPECS, DERIVED)
    row["status"] = row["status"] or CameraStatus.UNKNOWN.value
    row["lon"], row["lat"] = feature.point.lon, feature.point.lat
    return row


async def create(conn: AsyncConnection[Any], feature: PointFeature, who: Writer) -> int:
    row = _row(feature)
    row["source"] = row["source"] or ""
    try:
        async with conn.transaction():
            row["cell"] = await grid_cell_of(conn, feature)
            cur = await conn.execute(
                "INSERT INTO cameras (code, name, heading, fov, status, last_seen_at, source, "  # noqa: S608 (only module constants are interpolated)
                "grid_cell_id, geom) VALUES (%(code)s, %(name)s, %(heading)s, %(fov)s, "
                f"%(status)s, %(last_seen_at)s, %(source)s, %(cell)s, {_POINT}) RETURNING id",
                row,
            )
            found = await cur.fetchone()
            assert found is not None
            await audit(conn, who, "camera.create", "camera", found[0])
            return int(found[0])
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"a camera with code {row['code']!r} already exists.") from None


async def replace(conn: AsyncConnection[Any], cid: int, feature: PointFeature, who: Writer) -> None:
    row = _row(feature)
    row["id"] = cid
    try:
        async with conn.transaction():
            row["cell"] = await grid_cell_of(conn, feature)
            cur = await conn.execute(
                "UPDATE cameras SET code = %(code)s, name = %(name)s, heading = %(heading)s, "  # noqa: S608 (only module constants are interpolated)
                "fov = %(fov)s, status = %(status)s, last_seen_at = %(last_seen_at)s, "
                "source = coalesce(%(source)s, source), grid_cell_id = %(cell)s, "
                f"geom = {_POINT} WHERE id = %(id)s",
                row,
            )
            if cur.rowcount == 0:
                raise NotFound(f"no camera {cid}.")
            await audit(conn, who, "camera.replace", "camera", cid)
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"a camera with code {row['code']!r} already exists.") from None


async def delete(conn: AsyncConnection[Any], cid: int, who: Writer) -> None:
    try:
        async with conn.transaction():
            cur = await conn.execute("DELETE FROM cameras WHERE id = %s", (cid,))
            if cur.rowcount == 0:
                raise NotFound(f"no camera {cid}.")
            await audit(conn, who, "camera.delete", "camera", cid)
    except psycopg.errors.ForeignKeyViolation:
        raise Conflict(f"camera {cid} is still referenced; it cannot be deleted.") from None
