"""Subscriptions fed by PostgreSQL NOTIFY through the process's EventBroker, so an event made
in any worker process reaches subscribers in every one."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from psycopg import sql

from geo.enums import CameraStatus, CaseStatus
from geo.queries import Query
from geo.queries.search import AttributeFilter, rows
from server.gql import views
from server.gql.context import Info
from server.gql.errors import coded_errors
from server.gql.inputs import to_id
from server.gql.types import Case, CaseEvent

SUBSCRIBER_ROLES = ("dispatcher", "grid_worker", "department_staff", "admin")
CAMERA_ROLES = ("dispatcher", "camera_viewer", "grid_worker", "admin", "analyst")


@strawberry.type(description="A new step in a case's timeline, with the case as it is now.")
class CaseEventNotice:
    event: CaseEvent
    case: Case


@strawberry.type
class CameraStatusNotice:
    camera_id: strawberry.ID
    code: str
    status: CameraStatus
    last_seen_at: datetime | None


def _event(event_id: int) -> Query[Any]:
    return Query(
        sql.SQL(
            "SELECT id, event_type, from_status, to_status, actor_id, department_id, note, at "
            "FROM case_events WHERE id = %(id)s"
        ),
        {"id": event_id},
        lambda rs: rs[0] if rs else None,
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Case timeline events as they happen (staff). Filters combine; each "
        "subscriber sees only cases they may see in full."
    )
    async def case_events(
        self, info: Info, grid_cell_id: strawberry.ID | None = None,
        department_id: strawberry.ID | None = None, statuses: list[CaseStatus] | None = None,
    ) -> AsyncGenerator[CaseEventNotice, None]:  # fmt: skip
        ctx = info.context
        with coded_errors():
            ctx.require(*SUBSCRIBER_ROLES)
            cell = to_id(grid_cell_id, "gridCellId") if grid_cell_id else None
            dept = to_id(department_id, "departmentId") if department_id else None
        wanted = {s.value for s in statuses} if statuses else None
        async for note in ctx.broker.subscribe("onemap_case_events"):
            if wanted is not None and note.get("to_status") not in wanted:
                continue
            found = await ctx.fetch(
                rows(views.FULL_CASES, None,
                     AttributeFilter(equals={"id": [note["case_id"]]}), limit=1)
            )  # fmt: skip
            if not found:
                continue
            row = found[0]
            if cell is not None and row["grid_cell_id"] != cell:
                continue
            if dept is not None and row["department_id"] != dept:
                continue
            if not await ctx.sees_case(row):
                continue
            event = await ctx.fetch(_event(int(note["event_id"])))
            if event is None:
                continue
            yield CaseEventNotice(event=CaseEvent.from_row(row["id"], event),
                                  case=Case.from_row(row))  # fmt: skip

    @strawberry.subscription(description="Camera status changes (online/offline), staff only.")
    async def camera_status(
        self, info: Info, camera_ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[CameraStatusNotice, None]:
        with coded_errors():
            info.context.require(*CAMERA_ROLES)
            wanted = {to_id(i, "cameraIds") for i in camera_ids} if camera_ids else None
        async for note in info.context.broker.subscribe("onemap_camera_status"):
            if wanted is not None and note.get("camera_id") not in wanted:
                continue
            seen = note.get("last_seen_at")
            yield CameraStatusNotice(
                camera_id=strawberry.ID(str(note["camera_id"])),
                code=str(note.get("code", "")),
                status=CameraStatus(note["status"]),
                last_seen_at=datetime.fromisoformat(seen) if seen else None,
            )
