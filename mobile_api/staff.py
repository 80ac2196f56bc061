"""``/api/v1/staff/applications``: staff who handle applications see and move those of their
jurisdiction's department (a city-wide account any), filtered in SQL. Reading an application
shows the applicant's personal data: audited, in the same transaction as the read."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from geo.access import Capability
from geo.citizen_enums import ApplicationStatus
from geo.queries import fetch
from geo.queries import services as q
from geo.services import applications as apps
from geo.services.staff_applications import staff_read
from mobile_api import paging
from mobile_api.contract import Body, Call, Endpoint, needs
from mobile_api.services import ApplicationDetail, ApplicationPage, page_of

STAFF = needs(Capability.HANDLE_APPLICATIONS)


class StaffQuery(paging.PageQuery):
    status: ApplicationStatus | None = None


class ActionIn(Body):
    action: Literal["accept", "reject", "request_materials", "start_review", "approve", "deny",
                    "complete"]  # fmt: skip
    note: Annotated[str | None, Field(max_length=2000)] = None
    missing: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=30)] = Field(
        default=[], description="request_materials: every missing material's code, all at once"
    )


async def department(call: Call) -> ApplicationPage:
    args: StaffQuery = call.query
    status = args.status.value if args.status else None
    async with call.state.pool.connection() as conn:
        rows = await fetch(conn, q.department_applications(
            call.principal, status, paging.decode(args.cursor), args.limit + 1))  # fmt: skip
    return page_of(rows, args.limit)


async def one(call: Call) -> ApplicationDetail:
    async with call.state.pool.connection() as conn:
        found = await staff_read(conn, call.principal, call.param("id"), "application.view",
                                 call.client_addr)  # fmt: skip
    return ApplicationDetail.model_validate(found)


async def act(call: Call) -> ApplicationDetail:
    body: ActionIn = call.body
    async with call.state.pool.connection() as conn, conn.transaction():
        await apps.act(
            conn, call.param("id"), body.action, actor=call.principal, note=body.note,
            missing=list(body.missing), calendar=call.state.calendar,
        )  # fmt: skip
        found = await staff_read(conn, call.principal, call.param("id"),
                                 f"application.{body.action}", call.client_addr)  # fmt: skip
    return ApplicationDetail.model_validate(found)


endpoints = [
    Endpoint("GET", "/staff/applications", department, "My department's applications",
             "staff", STAFF, query=StaffQuery, response=ApplicationPage,
             operation_id="listDepartmentApplications"),
    Endpoint("GET", "/staff/applications/{id}", one, "An application of my department "
             "(audited)", "staff", STAFF, response=ApplicationDetail,
             operation_id="getDepartmentApplication"),
    Endpoint("POST", "/staff/applications/{id}/actions", act, "Move an application: accept, "
             "reject, request materials (补正, once), review, approve, deny, complete",
             "staff", STAFF, body=ActionIn, response=ApplicationDetail,
             operation_id="actOnApplication",
             example={"action": "request_materials", "note": "租赁合同缺盖章页 Lease unsigned",
                      "missing": ["lease"]}),
]  # fmt: skip
