"""``/api/v1/staff/applications``: department staff handle their own department's applications
(an admin any). Reading an application shows the applicant's personal data: audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from geo.citizen_enums import ApplicationStatus
from geo.enums import Role
from geo.errors import NotFound
from geo.queries import fetch
from geo.queries import services as q
from geo.services import applications as apps
from geo.services import audit
from mobile_api import paging
from mobile_api.contract import Body, Call, Endpoint
from mobile_api.services import ApplicationDetail, ApplicationPage, page_of

STAFF = (Role.DEPARTMENT_STAFF.value, Role.ADMIN.value)


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
            call.user_id, status, paging.decode(args.cursor), args.limit + 1))  # fmt: skip
    return page_of(rows, args.limit)


async def _visible(call: Call, conn: Any, department_id: int) -> bool:
    if call.principal.has_any([Role.ADMIN.value]):
        return True
    row = await (
        await conn.execute("SELECT department_id FROM users WHERE id = %s", (call.user_id,))
    ).fetchone()
    return row is not None and row[0] == department_id


async def _read(call: Call, conn: Any, action: str) -> ApplicationDetail:
    found = await fetch(conn, q.application(call.param("id"), True))
    if found is None or not await _visible(call, conn, found[2]):
        raise NotFound(f"No application {call.param('id')} in your department.")
    await audit.record(
        conn, actor_id=call.user_id, actor_role=call.acting_role,
        action=action, object_type="application", object_id=call.param("id"),
        client_addr=call.client_addr,
    )  # fmt: skip
    return ApplicationDetail.model_validate(found[0])


async def one(call: Call) -> ApplicationDetail:
    async with call.state.pool.connection() as conn, conn.transaction():
        return await _read(call, conn, "application.view")


async def act(call: Call) -> ApplicationDetail:
    body: ActionIn = call.body
    async with call.state.pool.connection() as conn, conn.transaction():
        await apps.act(
            conn, call.param("id"), body.action, actor_id=call.user_id,
            roles=call.principal.roles, note=body.note, missing=list(body.missing),
            calendar=call.state.calendar,
        )  # fmt: skip
        return await _read(call, conn, f"application.{body.action}")


endpoints = [
    Endpoint("GET", "/staff/applications", department, "My department's applications",
             "staff", STAFF, query=StaffQuery, response=ApplicationPage),
    Endpoint("GET", "/staff/applications/{id}", one, "An application of my department "
             "(audited)", "staff", STAFF, response=ApplicationDetail),
    Endpoint("POST", "/staff/applications/{id}/actions", act, "Move an application: accept, "
             "reject, request materials (补正, once), review, approve, deny, complete",
             "staff", STAFF, body=ActionIn, response=ApplicationDetail),
]  # fmt: skip
