"""OGC API - Features Part 4 (create, replace, delete) on facilities and cameras.

Who may write is the access policy's (``geo.access.editable``: the EDIT_FEATURES capability).

Every write goes through the aggregate's writer in ``geo.services``; a bad feature is a 400
with the reason, and nothing is half-written (each writer runs one transaction). The body must
be GeoJSON (415 otherwise) of at most ``MAX_BODY`` bytes, counted while it is read (413 the
moment it passes, before the rest is read); ``geo.ogc.features_in`` checks the rest.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from geo import access
from geo.access import Capability
from geo.citizen_errors import TooLarge, UnsupportedMedia
from geo.errors import Forbidden, NotFound
from geo.ogc.features_in import MAX_BODY, parse_feature
from geo.services import cameras, facilities
from geo.services.facilities import Writer
from server.kernel.auth.principal import Principal, principal_of
from server.ogc.config import base_url
from server.ogc.errors import exception
from server.ogc.params import item_id

#: The layers with a writer service (what the resource supports; who may use it is the policy's).
WRITERS: dict[str, Any] = {"facilities": facilities, "cameras": cameras}
FEATURE_TYPES = ("application/geo+json", "application/json")


def _editable(request: Request) -> tuple[str, Principal] | Response:
    name = request.path_params["collection"]
    principal = principal_of(request.scope)
    access.require(principal, Capability.EDIT_FEATURES)  # 401/403 before "read-only" (405)
    try:
        access.editable(principal, name)
    except Forbidden:
        return exception(405, "InvalidParameterValue", f"collection {name!r} is read-only.")
    return name, principal


def _writer(request: Request, principal: Principal) -> Writer:
    client = request.client.host if request.client else None
    return Writer(principal.user_id, principal.audit_role, client)


async def _feature_body(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in FEATURE_TYPES:
        raise UnsupportedMedia(
            f"send the feature as application/geo+json, not {media[:100] or 'nothing'}."
        )
    too_large = TooLarge(f"the feature is larger than {MAX_BODY} bytes.", limit=MAX_BODY)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def create(request: Request) -> Response:
    checked = _editable(request)
    if isinstance(checked, Response):
        return checked
    name, principal = checked
    feature = parse_feature(await _feature_body(request))
    async with request.app.state.ogc.pool.connection() as conn:
        new_id = await WRITERS[name].create(conn, feature, _writer(request, principal))
    location = f"{base_url(request.app.state.ogc.settings)}/collections/{name}/items/{new_id}"
    return Response(status_code=201, headers={"Location": location})


async def replace_or_delete(request: Request) -> Response:
    checked = _editable(request)
    if isinstance(checked, Response):
        return checked
    name, principal = checked
    raw = request.path_params["item"]
    fid = item_id(raw)
    if fid is None:
        raise NotFound(f"no feature {raw!r} in {name}.")
    writer = WRITERS[name]
    if request.method == "PUT":
        feature = parse_feature(await _feature_body(request))
        async with request.app.state.ogc.pool.connection() as conn:
            await writer.replace(conn, fid, feature, _writer(request, principal))
    else:
        async with request.app.state.ogc.pool.connection() as conn:
            await writer.delete(conn, fid, _writer(request, principal))
    return Response(status_code=204)


def options(request: Request) -> Response:
    name = request.path_params["collection"]
    allow = "GET, HEAD, OPTIONS"
    if name in WRITERS:
        allow += ", PUT, DELETE" if "item" in request.path_params else ", POST"
    return Response(status_code=204, headers={"Allow": allow})
