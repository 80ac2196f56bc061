"""The health officers' side of the health code: test results, risk grid cells, appeals. Every
read of someone's health data and every decision is audited, in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response

from geo.citizen_enums import AppealStatus, Colour, RiskLevel, TestResult
from geo.enums import Role
from geo.errors import InvalidInput
from geo.services import audit
from geo.services import health_code as hc
from mobile_api.auth import Phone
from mobile_api.contract import Body, Call, Endpoint
from mobile_api.health_code import _APPEAL_COLUMNS, Appeal, Created
from mobile_api.once import create_once

OFFICER = (Role.HEALTH_OFFICER.value, Role.ADMIN.value)


class TestResultIn(Body):
    phone: Phone
    result: TestResult
    sampled_at: AwareDatetime


class RiskCellIn(Body):
    grid_cell_code: Annotated[str, Field(min_length=1, max_length=32)]
    level: RiskLevel
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime
    note: Annotated[str | None, Field(max_length=1000)] = None


class AppealsQuery(BaseModel):
    status: AppealStatus = AppealStatus.OPEN


class OfficerAppeal(Appeal):
    user_id: int
    display_name: str
    colour: Colour | None
    rule_id: str | None


class OfficerAppeals(BaseModel):
    items: list[OfficerAppeal]


class DecisionIn(Body):
    decision: Literal["upheld", "dismissed"]
    note: Annotated[str, Field(min_length=1, max_length=2000)]
    corrected_colour: Colour | None = None
    override_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 72


async def _audit(call: Call, conn: Any, action: str, object_type: str, object_id: Any) -> None:
    await audit.record(
        conn, actor_id=call.user_id, actor_role=call.acting_role,
        action=action, object_type=object_type, object_id=object_id, client_addr=call.client_addr,
    )  # fmt: skip


async def record_test(call: Call) -> Response:
    body: TestResultIn = call.body

    async def create(conn: Any) -> Created:
        row = await hc.record_test(conn, call.user_id, body.phone, body.result, body.sampled_at)
        await _audit(call, conn, "health_test.record", "user", row["user_id"])
        return Created(id=row["id"], at=row["at"])

    return await create_once(call, "test_result", body.model_dump(mode="json"), create)


async def set_risk_cell(call: Call) -> Response:
    body: RiskCellIn = call.body
    starts = body.starts_at or datetime.now(UTC)

    async def create(conn: Any) -> Created:
        row = await hc.set_risk_cell(conn, call.user_id, body.grid_cell_code, body.level, starts,
                                     body.ends_at, body.note)  # fmt: skip
        return Created(**row)

    return await create_once(call, "risk_cell", body.model_dump(mode="json"), create)


async def officer_appeals(call: Call) -> OfficerAppeals:
    async with call.state.pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            f"SELECT {_APPEAL_COLUMNS}, a.user_id, u.display_name, s.colour, s.rule_id "  # noqa: S608
            "FROM health_appeals a JOIN users u ON u.id = a.user_id "
            "LEFT JOIN health_status s ON s.user_id = a.user_id WHERE a.status = %s "
            "ORDER BY a.id LIMIT 200", (call.query.status.value,),
        )  # fmt: skip
        rows = await cur.fetchall()
        await _audit(call, conn, "health_appeals.list", "health_appeal", None)
    keys = list(OfficerAppeal.model_fields)
    return OfficerAppeals(items=[OfficerAppeal(**dict(zip(keys, r, strict=True))) for r in rows])


async def decide(call: Call) -> Appeal:
    body: DecisionIn = call.body
    try:
        appeal_id = int(call.param("id"))
    except ValueError:
        raise InvalidInput("The appeal id must be a number.") from None
    async with call.state.pool.connection() as conn, conn.transaction():
        await hc.decide_appeal(conn, call.user_id, appeal_id, body.decision == "upheld", body.note,
                               body.corrected_colour, body.override_hours)  # fmt: skip
        await _audit(call, conn, f"health_appeal.{body.decision}", "health_appeal", appeal_id)
        cur = await conn.execute(
            f"SELECT {_APPEAL_COLUMNS} FROM health_appeals a WHERE a.id = %s",  # noqa: S608
            (appeal_id,),
        )
        row = await cur.fetchone()
    assert row is not None
    return Appeal(**dict(zip(list(Appeal.model_fields), row, strict=True)))


endpoints = [
    Endpoint("POST", "/health/test-results", record_test, "Record a test result", "health "
             "officers", OFFICER, body=TestResultIn, status=201, response=Created,
             idempotent=True),
    Endpoint("POST", "/health/risk-cells", set_risk_cell, "Declare a grid cell at risk for a "
             "period", "health officers", OFFICER, body=RiskCellIn, status=201,
             response=Created, idempotent=True),
    Endpoint("GET", "/health/appeals", officer_appeals, "Appeals to decide (audited)",
             "health officers", OFFICER, query=AppealsQuery, response=OfficerAppeals),
    Endpoint("POST", "/health/appeals/{id}/decision", decide, "Uphold (with the corrected "
             "colour) or dismiss an appeal", "health officers", OFFICER, body=DecisionIn,
             response=Appeal),
]  # fmt: skip
