"""The health officers' audited work: every read of someone's health data and every decision
is written to the audit log in the same transaction, so neither happens without the other."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from geo.access import Principal
from geo.citizen_enums import Colour, RiskLevel, TestResult
from geo.queries import fetch
from geo.queries import health_appeals as q
from geo.services import audit
from geo.services import health_code as hc


async def audited(
    conn: AsyncConnection[Any],
    principal: Principal,
    action: str,
    object_type: str,
    object_id: Any,
    client_addr: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        conn, actor_id=principal.user_id, actor_role=principal.audit_role, action=action,
        object_type=object_type, object_id=object_id, client_addr=client_addr, detail=detail,
    )  # fmt: skip


async def record_test(
    conn: AsyncConnection[Any],
    principal: Principal,
    phone: str,
    result: TestResult,
    sampled_at: datetime,
    client_addr: str | None,
) -> dict[str, Any]:
    assert principal.user_id is not None
    async with conn.transaction():
        row = await hc.record_test(conn, principal.user_id, phone, result, sampled_at)
        await audited(conn, principal, "health_test.record", "user", row["user_id"], client_addr)
    return row


async def set_risk_cell(
    conn: AsyncConnection[Any],
    principal: Principal,
    cell_code: str,
    level: RiskLevel,
    starts_at: datetime,
    ends_at: datetime,
    note: str | None,
    client_addr: str | None,
) -> dict[str, Any]:
    """Declare a grid cell at risk (it changes the codes of everyone who passed through it)."""
    assert principal.user_id is not None
    async with conn.transaction():
        row = await hc.set_risk_cell(conn, principal.user_id, cell_code, level, starts_at,
                                     ends_at, note)  # fmt: skip
        await audited(conn, principal, "health_risk_cell.set", "grid_cell", cell_code,
                      client_addr, {"risk_cell": row["id"], "level": level.value,
                                    "starts_at": starts_at.isoformat(),
                                    "ends_at": ends_at.isoformat()})  # fmt: skip
    return row


async def appeals(
    conn: AsyncConnection[Any], principal: Principal, status: str, client_addr: str | None
) -> list[dict[str, Any]]:
    """The appeals of a status with the appellants' codes (health data: audited)."""
    async with conn.transaction():
        found = await fetch(conn, q.by_status(status))
        await audited(conn, principal, "health_appeals.list", "health_appeal", None, client_addr)
    return found


async def decide(
    conn: AsyncConnection[Any],
    principal: Principal,
    appeal_id: int,
    *,
    upheld: bool,
    note: str,
    corrected: Colour | None,
    override_hours: int,
    client_addr: str | None,
) -> dict[str, Any]:
    """Uphold or dismiss an open appeal; the appeal as it now is."""
    assert principal.user_id is not None
    async with conn.transaction():
        await hc.decide_appeal(conn, principal.user_id, appeal_id, upheld, note, corrected,
                               override_hours)  # fmt: skip
        action = f"health_appeal.{'upheld' if upheld else 'dismissed'}"
        await audited(conn, principal, action, "health_appeal", appeal_id, client_addr)
        (appeal,) = await fetch(conn, q.one(appeal_id))
    return appeal
