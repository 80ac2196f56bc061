"""Warnings (预警发布) in the citizen API: a citizen's inbox of the warnings covering their
places (``GET /warnings``), the warnings in force at a point (public), their browsers' Web Push
subscriptions, and issuing, updating and cancelling for warning officers (ISSUE_WARNINGS).

Writes go through ``geo.services.warnings``; once committed, the message is pushed in the
background to the subscriptions of the citizens in its area (``server.kernel.webpush``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from geo.access import Capability
from geo.params import LonLat
from geo.queries import fetch
from geo.queries import warnings as q
from geo.services import warning_push, warnings
from geo.services.warning_input import WarningDraft
from mobile_api.contract import CITIZEN, PUBLIC, Call, Endpoint, needs
from mobile_api.once import create_once
from mobile_api.warning_models import (
    CancelIn,
    PointQuery,
    SubscriptionIn,
    SubscriptionOut,
    UnsubscribeQuery,
    VapidKey,
    WarningIn,
    WarningList,
    WarningOut,
)

OFFICER = needs(Capability.ISSUE_WARNINGS)
LIMIT = 100


def draft_of(body: WarningIn) -> WarningDraft:
    return WarningDraft(
        status=body.status, category=body.category.value, urgency=body.urgency.value,
        severity=body.severity.value, certainty=body.certainty.value, effective=body.effective,
        onset=body.onset, expires=body.expires,
        texts={lang: t.model_dump() for lang, t in body.texts.items()},
        area_desc=body.area_desc, area=body.area.model_dump(), incident_id=body.incident_id,
    )  # fmt: skip


async def inbox(call: Call) -> WarningList:
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, q.for_citizen(call.user_id, LIMIT))
    return WarningList(items=[WarningOut.of(m) for m in found])


async def at_point(call: Call) -> WarningList:
    point = LonLat(call.query.lon, call.query.lat)
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, q.at_point(point.lon, point.lat, LIMIT))
    return WarningList(items=[WarningOut.of(m) for m in found])


async def _written(call: Call, operation: str, payload: Any, write: Any) -> JSONResponse:
    """Create once (Idempotency-Key), then push what was written."""
    made: list[int] = []

    async def create(conn: Any) -> WarningOut:
        message = await write(conn)
        made.append(message.id)
        return WarningOut.of(message)

    response = await create_once(call, operation, payload, create)
    for warning_id in made:  # empty when the key's earlier response was replayed
        call.state.pusher.schedule(warning_id)
    return response


async def issue(call: Call) -> Response:
    body: WarningIn = call.body
    issuer = call.state.issuer

    async def write(conn: Any) -> Any:
        return await warnings.issue(conn, call.principal, draft_of(body), issuer)

    return await _written(call, "warning.issue", body.model_dump(mode="json"), write)


async def update(call: Call) -> Response:
    body: WarningIn = call.body
    identifier = call.param("identifier")

    async def write(conn: Any) -> Any:
        return await warnings.update(conn, call.principal, identifier, draft_of(body),
                                     call.state.issuer)  # fmt: skip

    payload = {"of": identifier, **body.model_dump(mode="json")}
    return await _written(call, "warning.update", payload, write)


async def cancel(call: Call) -> Response:
    body: CancelIn = call.body
    identifier = call.param("identifier")

    async def write(conn: Any) -> Any:
        return await warnings.cancel(conn, call.principal, identifier, call.state.issuer,
                                     body.note)  # fmt: skip

    return await _written(call, "warning.cancel", {"of": identifier, "note": body.note}, write)


async def vapid_key(call: Call) -> VapidKey:
    return VapidKey(public_key=call.state.pusher.public_key)


async def subscribe(call: Call) -> Response:
    body: SubscriptionIn = call.body
    place = LonLat(body.lon, body.lat) if body.lon is not None and body.lat is not None else None
    async with call.state.pool.connection() as conn:
        sid = await warning_push.subscribe(
            conn, call.principal, body.endpoint, body.keys.p256dh, body.keys.auth, place,
            allow_loopback=call.state.pusher.allow_loopback,
        )  # fmt: skip
    return JSONResponse(SubscriptionOut(id=sid).model_dump(), status_code=201)


async def unsubscribe(call: Call) -> Response:
    async with call.state.pool.connection() as conn:
        await warning_push.unsubscribe(conn, call.principal, call.query.endpoint)
    return Response(status_code=204)


_EXAMPLE = {
    "category": "Met", "urgency": "Expected", "severity": "Severe", "certainty": "Likely",
    "expires": "2026-12-01T20:00:00+08:00",
    "texts": {
        "zh-CN": {"event": "暴雨", "headline": "暴雨橙色预警",
                  "description": "预计未来6小时降雨量将达50毫米以上。",
                  "instruction": "避免前往低洼地带。"},
        "en-US": {"event": "Rainstorm", "headline": "Orange rainstorm warning",
                  "description": "Over 50 mm of rain expected in the next 6 hours.",
                  "instruction": "Keep away from low-lying areas."},
    },
    "area_desc": "兴庆区 / Xingqing District",
    "area": {"type": "Polygon", "coordinates": [[[106.27, 38.46], [106.30, 38.46], [106.30, 38.48],
                                                  [106.27, 38.48], [106.27, 38.46]]]},
}  # fmt: skip

endpoints = [
    Endpoint("GET", "/warnings", inbox, "Warnings in force at my places (my devices' last "
             "positions, my latest check-in and report)", "warnings", CITIZEN,
             response=WarningList, operation_id="listMyWarnings"),
    Endpoint("GET", "/warnings/active", at_point, "Warnings in force at a point", "warnings",
             PUBLIC, query=PointQuery, response=WarningList, operation_id="listWarningsAtPoint"),
    Endpoint("POST", "/warnings", issue, "Issue a warning (CAP Alert)", "warnings", OFFICER,
             body=WarningIn, status=201, response=WarningOut, idempotent=True,
             operation_id="issueWarning", example=_EXAMPLE),
    Endpoint("POST", "/warnings/{identifier}/update", update, "Update a warning (a CAP Update "
             "referencing it)", "warnings", OFFICER, body=WarningIn, status=201,
             response=WarningOut, idempotent=True, operation_id="updateWarning",
             example=_EXAMPLE),
    Endpoint("POST", "/warnings/{identifier}/cancel", cancel, "Cancel a warning (a CAP Cancel "
             "referencing it)", "warnings", OFFICER, body=CancelIn, status=201,
             response=WarningOut, idempotent=True, operation_id="cancelWarning",
             example={"note": "雨势减弱 / The rain has eased."}),
    Endpoint("GET", "/push-subscriptions/key", vapid_key, "The VAPID public key browsers "
             "subscribe with", "warnings", PUBLIC, response=VapidKey,
             operation_id="getPushKey"),
    Endpoint("POST", "/push-subscriptions", subscribe, "Register this browser for warnings by "
             "Web Push", "warnings", CITIZEN, body=SubscriptionIn, status=201,
             response=SubscriptionOut, operation_id="subscribeToWarnings",
             example={"endpoint": "https://push.example.net/send/abc",
                      "keys": {"p256dh": "B" + "A" * 86, "auth": "AAAAAAAAAAAAAAAAAAAAAA"},
                      "lon": 106.28, "lat": 38.47}),
    Endpoint("DELETE", "/push-subscriptions", unsubscribe, "Stop warnings to a browser",
             "warnings", CITIZEN, query=UnsubscribeQuery, status=204,
             operation_id="unsubscribeFromWarnings"),
]  # fmt: skip
