"""The health officers' side of the health code: test results, risk grid cells, appeals. Every
read of someone's health data and every decision is audited, in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response

from geo.access import Capability
from geo.citizen_enums import AppealStatus, Colour, RiskLevel, TestResult
from geo.errors import InvalidInput
from geo.services import health_officers as officers
from mobile_api.auth import Phone
from mobile_api.contract import Body, Call, Endpoint, needs
from mobile_api.health_code import Appeal, Created
from mobile_api.once import create_once

MANAGE = needs(Capability.MANAGE_HEALTH)
READ = needs(Capability.READ_HEALTH)


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


async def record_test(call: Call) -> Response:
    body: TestResultIn = call.body

    async def create(conn: Any) -> Created:
        row = await officers.record_test(conn, call.principal, body.phone, body.result,
                                         body.sampled_at, call.client_addr)  # fmt: skip
        return Created(id=row["id"], at=row["at"])

    return await create_once(call, "test_result", body.model_dump(mode="json"), create)


async def set_risk_cell(call: Call) -> Response:
    body: RiskCellIn = call.body
    starts = body.starts_at or datetime.now(UTC)

    async def create(conn: Any) -> Created:
        row = await officers.set_risk_cell(conn, call.principal, body.grid_cell_code,
                                           body.level, starts, body.ends_at, body.note,
                                           call.client_addr)  # fmt: skip
        return Created(**row)

    return await create_once(call, "risk_cell", body.model_dump(mode="json"), create)


async def officer_appeals(call: Call) -> OfficerAppeals:
    async with call.state.pool.connection() as conn:
        found = await officers.appeals(conn, call.principal, call.query.status.value,
                                       call.client_addr)  # fmt: skip
    return OfficerAppeals(items=[OfficerAppeal(**r) for r in found])


async def decide(call: Call) -> Appeal:
    body: DecisionIn = call.body
    try:
        appeal_id = int(call.param("id"))
    except ValueError:
        raise InvalidInput("The appeal id must be a number.") from None
    async with call.state.pool.connection() as conn:
        found = await officers.decide(
            conn, call.principal, appeal_id, upheld=body.decision == "upheld", note=body.note,
            corrected=body.corrected_colour, override_hours=body.override_hours,
            client_addr=call.client_addr,
        )  # fmt: skip
    return Appeal(**found)


endpoints = [
    Endpoint("POST", "/health/test-results", record_test, "Record a test result", "health "
             "officers", MANAGE, body=TestResultIn, status=201, response=Created,
             idempotent=True, operation_id="recordTestResult",
             example={"phone": "13700000001", "result": "negative",
                      "sampled_at": "2026-11-20T09:30:00+08:00"}),
    Endpoint("POST", "/health/risk-cells", set_risk_cell, "Declare a grid cell at risk for a "
             "period", "health officers", MANAGE, body=RiskCellIn, status=201,
             response=Created, idempotent=True, operation_id="declareRiskCell",
             example={"grid_cell_code": "31010100100101", "level": "medium",
                      "ends_at": "2026-11-27T00:00:00+08:00", "note": "密接聚集 Cluster"}),
    Endpoint("GET", "/health/appeals", officer_appeals, "Appeals to decide (audited)",
             "health officers", READ, query=AppealsQuery, response=OfficerAppeals,
             operation_id="listHealthCodeAppeals"),
    Endpoint("POST", "/health/appeals/{id}/decision", decide, "Uphold (with the corrected "
             "colour) or dismiss an appeal", "health officers", MANAGE, body=DecisionIn,
             response=Appeal, operation_id="decideHealthCodeAppeal",
             example={"decision": "upheld", "note": "复核阴性 Negative on review",
                      "corrected_colour": "green", "override_hours": 72}),
]  # fmt: skip
