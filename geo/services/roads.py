"""The writer of road conditions (路况): closures (``road_closures``) and congestion
(``road_conditions``) — MANAGE_ROADS, checked before anything is written, audited.

A closure is in force from ``starts_at`` until ``ends_at`` (unset: until reopened); reopening
ends the closures in force now rather than deleting them, so the history stays. Routing
(geo.queries.routing) reads both on every query: a closed road is left out of the graph, a
congested one costs its free-flow time divided by its speed factor.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo import access
from geo.access import Capability, Principal
from geo.errors import Conflict, InvalidInput, NotFound
from geo.queries.roads import CLOSURE_COLUMNS
from geo.queries.routing import IN_FORCE
from geo.services import audit


async def _road(conn: AsyncConnection[Any], road_id: int) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, name_zh, name_en FROM roads WHERE id = %s FOR UPDATE", (road_id,)
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No road with id {road_id}.")
    return dict(row)


async def _audit(conn: AsyncConnection[Any], principal: Principal, action: str, road_id: int,
                 detail: dict[str, Any]) -> None:  # fmt: skip
    await audit.record(conn, actor_id=principal.user_id, actor_role=principal.audit_role,
                       action=action, object_type="road", object_id=road_id, client_addr=None,
                       detail=detail)  # fmt: skip


async def close_road(
    conn: AsyncConnection[Any],
    principal: Principal,
    road_id: int,
    reason: str,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Close road ``road_id`` from now (until ``until``, or until reopened): the closure."""
    access.require(principal, Capability.MANAGE_ROADS)
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 500:
        raise InvalidInput("A closure needs a reason of 1 to 500 characters.", field="reason")
    if until is not None and until.tzinfo is None:
        raise InvalidInput("until needs a time zone (e.g. 2026-12-01T08:00:00+08:00).",
                           field="until")  # fmt: skip
    async with conn.transaction():
        road = await _road(conn, road_id)
        if until is not None:
            cur = await conn.execute("SELECT %s::timestamptz <= now()", (until,))
            past = await cur.fetchone()
            if past and past[0]:
                raise InvalidInput("until must be in the future.", field="until")
        cur = await conn.execute(
            f"SELECT 1 FROM road_closures c WHERE c.road_id = %s AND {IN_FORCE}",  # noqa: S608
            (road_id,),
        )
        if await cur.fetchone() is not None:
            raise Conflict(f"Road {road_id} ({road['name_zh']}) is closed already.")
        async with conn.cursor(row_factory=dict_row) as dcur:
            await dcur.execute(
                "WITH c AS (INSERT INTO road_closures (road_id, reason, ends_at, created_by) "  # noqa: S608
                "VALUES (%s, %s, %s, %s) RETURNING *) "
                f"SELECT {CLOSURE_COLUMNS} FROM c JOIN roads r ON r.id = c.road_id",
                (road_id, reason, until, principal.user_id),
            )
            closure = await dcur.fetchone()
        assert closure is not None
        await _audit(conn, principal, "road.close", road_id,
                     {"closure_id": closure["id"], "reason": reason,
                      "until": until.isoformat() if until else None})  # fmt: skip
    return dict(closure)


async def reopen_road(
    conn: AsyncConnection[Any], principal: Principal, road_id: int
) -> list[dict[str, Any]]:
    """End the closures of road ``road_id`` in force now: the closures ended."""
    access.require(principal, Capability.MANAGE_ROADS)
    async with conn.transaction():
        await _road(conn, road_id)
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "WITH c AS (UPDATE road_closures c SET ends_at = greatest(now(), c.starts_at), "  # noqa: S608
                f"reopened_by = %s WHERE c.road_id = %s AND {IN_FORCE} RETURNING c.*) "
                f"SELECT {CLOSURE_COLUMNS} FROM c JOIN roads r ON r.id = c.road_id ORDER BY c.id",
                (principal.user_id, road_id),
            )
            ended = [dict(r) for r in await cur.fetchall()]
        if not ended:
            raise Conflict(f"Road {road_id} is not closed.")
        await _audit(conn, principal, "road.reopen", road_id,
                     {"closure_ids": [c["id"] for c in ended]})  # fmt: skip
    return ended


async def set_congestion(
    conn: AsyncConnection[Any], principal: Principal, road_id: int, speed_factor: float
) -> dict[str, Any]:
    """Road ``road_id``'s congestion now: traffic moves at ``speed_factor`` (0 < f ≤ 1) of the
    speed limit; 1 clears it."""
    access.require(principal, Capability.MANAGE_ROADS)
    if not math.isfinite(speed_factor) or not 0 < speed_factor <= 1:
        raise InvalidInput("speed_factor must be above 0 and at most 1 (1: free flow).",
                           field="speed_factor")  # fmt: skip
    async with conn.transaction():
        await _road(conn, road_id)
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "INSERT INTO road_conditions (road_id, speed_factor, updated_by) "
                "VALUES (%s, %s, %s) ON CONFLICT (road_id) DO UPDATE SET "
                "speed_factor = excluded.speed_factor, observed_at = now(), "
                "updated_by = excluded.updated_by "
                "RETURNING road_id, speed_factor, observed_at",
                (road_id, speed_factor, principal.user_id),
            )
            row = await cur.fetchone()
        assert row is not None
        await _audit(conn, principal, "road.congestion", road_id, {"speed_factor": speed_factor})
    return dict(row)
