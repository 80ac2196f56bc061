"""``/api/v1/me/notifications``: the inbox of status changes of my reports and applications
(changes I made myself left out), newest first, with what I have read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel
from starlette.responses import Response

from geo.queries import fetch
from geo.queries import services as q
from geo.services import notifications
from mobile_api import paging
from mobile_api.contract import CITIZEN, Body, Call, Endpoint


class Notification(BaseModel):
    id: str
    object_type: Literal["report", "application"]
    object_id: str
    event: str
    status: str
    at: datetime
    read: bool


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None
    read_through: datetime | None


class ReadIn(Body):
    through: AwareDatetime


async def inbox(call: Call) -> NotificationPage:
    page: paging.PageQuery = call.query
    async with call.state.pool.connection() as conn:
        rows = await fetch(conn, q.inbox(call.user_id, paging.decode(page.cursor),
                                         page.limit + 1))  # fmt: skip
        seen = await fetch(conn, q.read_through(call.user_id))
    items = [
        Notification(**item, read=seen is not None and at <= seen)
        for item, at, _ in rows[: page.limit]
    ]
    last = rows[page.limit - 1] if len(rows) > page.limit else None
    cursor = paging.encode(last[1], last[2]) if last else None
    return NotificationPage(items=items, read_through=seen, next_cursor=cursor)


async def mark_read(call: Call) -> Response:
    async with call.state.pool.connection() as conn:
        await notifications.mark_read(conn, call.user_id, call.body.through)
    return Response(status_code=204)


endpoints = [
    Endpoint("GET", "/me/notifications", inbox, "My inbox: status changes of my reports and "
             "applications", "me", CITIZEN, query=paging.PageQuery, response=NotificationPage,
             operation_id="listMyNotifications"),
    Endpoint("PUT", "/me/notifications/read", mark_read, "Mark my inbox read up to a time",
             "me", CITIZEN, body=ReadIn, status=204, operation_id="markMyNotificationsRead",
             example={"through": "2026-11-21T10:00:00+08:00"}),
]  # fmt: skip
