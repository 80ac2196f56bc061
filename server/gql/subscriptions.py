"""Subscriptions fed by PostgreSQL NOTIFY through the process's EventBroker, so an event made
in any worker process reaches subscribers in every one.

A subscription lasts as long as the subscriber's right to it: it ends, with an
``UNAUTHENTICATED`` error that says why, when the access token expires, when the log-in session
is revoked (logout, refresh-token reuse) or when the account changes — within moments, in every
worker (``server.kernel.auth.session_end``). A client refreshes its token and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any

import strawberry

from geo.access import Capability
from geo.enums import CameraStatus, CaseStatus
from geo.queries.filters import AttributeFilter
from geo.queries.lookups import case_event
from geo.queries.search import rows
from geo.queries.sessions import session_live
from graphql import GraphQLError
from server.gql.context import Context, Info
from server.gql.errors import coded_errors
from server.gql.inputs import to_id
from server.gql.types import Case, CaseEvent
from server.kernel.auth.session_end import explain, session_end


def _ended(reason: str) -> GraphQLError:
    return GraphQLError(f"The subscription has ended: {explain(reason)}.",
                        extensions={"code": "UNAUTHENTICATED", "reason": reason})  # fmt: skip


async def while_signed_in(ctx: Context, channel: str) -> AsyncIterator[dict[str, Any]]:
    """The channel's notices for as long as the subscriber's session lasts."""
    principal = ctx.principal
    sid, uid = principal.session_id, principal.user_id
    if sid is not None and uid is not None and not await ctx.fetch(session_live(sid, uid)):
        raise _ended("revoked")
    ending = asyncio.ensure_future(session_end(ctx.broker, principal))
    notices = ctx.broker.subscribe(channel)
    following: asyncio.Future[dict[str, Any]] | None = None
    try:
        while True:
            following = asyncio.ensure_future(anext(notices))
            await asyncio.wait({following, ending}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                raise _ended(ending.result())
            yield following.result()
    finally:
        ending.cancel()
        if following is not None and not following.done():
            following.cancel()  # and wait for it: the notices cannot close while it runs
            with contextlib.suppress(asyncio.CancelledError):
                await following
        await notices.aclose()  # type: ignore[attr-defined]


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


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Case timeline events as they happen (READ_CASES). Filters combine; each "
        "subscriber gets only events of cases in their jurisdiction."
    )
    async def case_events(
        self, info: Info, grid_cell_id: strawberry.ID | None = None,
        department_id: strawberry.ID | None = None, statuses: list[CaseStatus] | None = None,
    ) -> AsyncGenerator[CaseEventNotice, None]:  # fmt: skip
        ctx = info.context
        with coded_errors():
            ctx.require(Capability.READ_CASES)
            view = ctx.view("cases")  # full, with the subscriber's jurisdiction in its filter
            equals: dict[str, list[Any]] = {}
            if grid_cell_id:
                equals["grid_cell_id"] = [to_id(grid_cell_id, "gridCellId")]
            if department_id:
                equals["department_id"] = [to_id(department_id, "departmentId")]
        wanted = {s.value for s in statuses} if statuses else None
        async for note in while_signed_in(ctx, "onemap_case_events"):
            if wanted is not None and note.get("to_status") not in wanted:
                continue
            # The case is read through the scoped view: no row, no event for this subscriber.
            attrs = AttributeFilter(equals={**equals, "id": [note["case_id"]]})
            found = await ctx.fetch(rows(view, None, attrs, limit=1))
            if not found:
                continue
            row = found[0]
            event = await ctx.fetch(case_event(int(note["event_id"])))
            if event is None:
                continue
            yield CaseEventNotice(event=CaseEvent.from_row(row["id"], event),
                                  case=Case.from_row(row, full=True))  # fmt: skip

    @strawberry.subscription(description="Camera status changes (online/offline) of cameras in "
                             "the caller's jurisdiction (READ_CAMERAS).")  # fmt: skip
    async def camera_status(
        self, info: Info, camera_ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[CameraStatusNotice, None]:
        ctx = info.context
        with coded_errors():
            view = ctx.view("cameras")  # READ_CAMERAS; the jurisdiction is in its row filter
            wanted = {to_id(i, "cameraIds") for i in camera_ids} if camera_ids else None
        async for note in while_signed_in(ctx, "onemap_camera_status"):
            if wanted is not None and note.get("camera_id") not in wanted:
                continue
            attrs = AttributeFilter(equals={"id": [note["camera_id"]]})
            if not await ctx.fetch(rows(view, None, attrs, limit=1)):
                continue  # outside the subscriber's jurisdiction
            seen = note.get("last_seen_at")
            yield CameraStatusNotice(
                camera_id=strawberry.ID(str(note["camera_id"])),
                code=str(note.get("code", "")),
                status=CameraStatus(note["status"]),
                last_seen_at=datetime.fromisoformat(seen) if seen else None,
            )
