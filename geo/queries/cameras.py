"""A camera as the stream service opens it: its source, and whether the caller may watch it."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from geo import access
from geo.access import Principal
from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class CameraSource:
    id: int
    code: str
    source: str  # the stream URL: write-only everywhere else, read here to open the feed
    in_scope: bool  # within the principal's jurisdiction (access.camera_scope)


def camera_source(principal: Principal, camera_id: int) -> Query[CameraSource | None]:
    """The camera (None when there is no such camera), with the jurisdiction verdict computed
    in SQL by the policy's predicate, so a refusal can be told apart from a missing camera
    (and audited) without the source of a camera elsewhere ever leaving the database."""
    scope = access.camera_scope(principal, "c")
    statement = sql.SQL(
        "SELECT c.id, c.code, CASE WHEN {scope} THEN c.source END, {scope} "
        "FROM cameras c WHERE c.id = %(id)s"
    ).format(scope=sql.SQL(scope))

    def decode(rows: Rows) -> CameraSource | None:
        if not rows:
            return None
        cid, code, source, allowed = rows[0]
        return CameraSource(int(cid), str(code), str(source or ""), bool(allowed))

    return Query(statement, {"id": camera_id}, decode)
