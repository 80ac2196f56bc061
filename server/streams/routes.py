"""WHEP per camera (RFC 9725) and the player page, mounted at ``/streams``.

``POST /cameras/{id}/whep`` (application/sdp offer) → 201 + answer + Location of the session
(or, with ``redirect_to_owner``, 307 to the process that pulls the camera, docs/streams.md);
``PATCH`` the session with a trickle-ICE sdpfrag → 204 (an ICE restart → 422); ``DELETE`` it
(its viewer, or a user manager); ``OPTIONS`` for CORS preflights. ``GET /cameras/{id}`` is the
player. Who may watch which camera is the access policy's (``geo.access``, docs/access.md):
the WATCH_VIDEO capability, and the camera within the viewer's jurisdiction.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import errors as pg_errors
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from geo import access
from geo.access import Capability, Principal
from geo.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    OneMapError,
    Unauthorized,
    Unavailable,
)
from server.kernel.auth.principal import principal_of
from server.kernel.errors import problem, status_of
from server.streams.feeds import SourceOffline
from server.streams.service import StreamService
from server.streams.sessions import Session
from server.streams.signalling import MAX_SDP_BYTES, check_offer, parse_fragment

SDP = "application/sdp"
MAX_ID = 2**63 - 1  # ids are bigint
SDPFRAG = "application/trickle-ice-sdpfrag"
#: Changing or ending *someone else's* viewing session cuts off that user's access to video:
#: an act of managing users, so it takes MANAGE_USERS (a viewer always may end their own).
OTHERS_SESSIONS = Capability.MANAGE_USERS
_HERE = Path(__file__).parent
_PLAYER = (_HERE / "player.html").read_text(encoding="utf-8")
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "media-src 'self' blob:; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'"
)


def _service(request: Request) -> StreamService:
    service = request.app.state.streams
    assert isinstance(service, StreamService)
    return service


def _cors(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin is None or not request.app.state.cors.allows(origin):  # server.kernel.cors
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Location, Accept-Patch, Retry-After, Link",
        "Vary": "Origin",
    }


def _error(request: Request, exc: OneMapError) -> Response:
    response = problem(
        status_of(exc), exc.message, code=exc.code, instance=request.url.path, **exc.detail
    )
    response.headers.update(_cors(request))
    return response


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _body(request: Request) -> str:
    """The body, refused past MAX_SDP_BYTES before it is all read."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_SDP_BYTES:
            raise InvalidInput(f"The body is larger than {MAX_SDP_BYTES} bytes.")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The body is not UTF-8 text.") from None


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def whep(request: Request) -> Response:
    if request.method == "OPTIONS":
        return _preflight(request, "OPTIONS, POST", {"Accept-Post": SDP})
    camera_id = int(request.path_params["camera_id"])
    service = _service(request)
    principal = principal_of(request.scope)
    try:
        try:
            access.require(principal, Capability.WATCH_VIDEO)
        except Forbidden as exc:
            await service.audit_refusal(principal, camera_id, _client(request), "capability")
            raise exc
        if _content_type(request) != SDP:
            return _unsupported(request, SDP)
        offer = check_offer(await _body(request))
        if not 0 < camera_id <= MAX_ID:  # no camera has such an id: never ask the database
            raise NotFound(f"There is no camera {camera_id}.")
        camera = await service.camera(principal, camera_id, _client(request))
        owner = await service.owner_url(camera.id)
        if owner is not None:  # another process pulls it, and may be reached itself
            location = f"{owner.rstrip('/')}/streams/cameras/{camera.id}/whep"
            headers = {"Location": location, **_cors(request)}
            return Response(status_code=307, headers=headers)
        try:
            session, answer = await service.sessions.open(
                camera, principal, principal.audit_role or "", _client(request), offer
            )
        except pg_errors.ForeignKeyViolation:
            raise Unauthorized("The token's user does not exist any more.") from None
        except psycopg.Error:  # viewing is audited: no audit, no video
            raise Unavailable("The audit log cannot be written now; try again shortly.") from None
    except SourceOffline as offline:
        response = problem(
            503,
            f"Camera {camera_id} is offline: its source cannot be reached. Try again later.",
            code="camera_offline",
            instance=request.url.path,
        )
        response.headers["Retry-After"] = str(max(1, round(offline.retry_after_s)))
        response.headers.update(_cors(request))
        return response
    except OneMapError as exc:
        return _error(request, exc)
    location = f"{request.url.path}/{session.id}"
    headers = {"Location": location, "Accept-Patch": SDPFRAG, **_cors(request)}
    return Response(answer, status_code=201, media_type=SDP, headers=headers)


async def whep_session(request: Request) -> Response:
    if request.method == "OPTIONS":
        return _preflight(request, "OPTIONS, PATCH, DELETE", {"Accept-Patch": SDPFRAG})
    service = _service(request)
    try:
        session = _owned_session(request, service)
        if request.method == "DELETE":
            await service.sessions.close(session.id, "deleted")
            return Response(status_code=200, headers=_cors(request))
        if _content_type(request) != SDPFRAG:
            return _unsupported(request, SDPFRAG)
        fragment = parse_fragment(await _body(request), session.video_mid)
        if fragment.ice_ufrag is not None and fragment.ice_ufrag != session.remote_ufrag:
            response = problem(
                422,
                "ICE restarts are not supported: end this session (DELETE) and start a new one.",
                code="ice_restart_unsupported",
                instance=request.url.path,
            )
            response.headers.update(_cors(request))
            return response
        await service.sessions.trickle(session, fragment)
    except OneMapError as exc:
        return _error(request, exc)
    return Response(status_code=204, headers=_cors(request))


def _owned_session(request: Request, service: StreamService) -> Session:
    principal: Principal = access.require(principal_of(request.scope))
    session = service.sessions.by_id.get(request.path_params["session_id"])
    if session is None or session.camera.id != int(request.path_params["camera_id"]):
        raise NotFound("There is no such viewing session (it may have ended).")
    if principal.user_id != session.user_id and not principal.can(OTHERS_SESSIONS):
        raise Forbidden(
            "Only the session's viewer, or a user with the capability "
            f"{OTHERS_SESSIONS.value!r}, may change or end it."
        )
    return session


def _preflight(request: Request, methods: str, extra: dict[str, str]) -> Response:
    headers = {"Allow": methods, **extra, **_cors(request)}
    if "Access-Control-Allow-Origin" in headers:
        headers["Access-Control-Allow-Methods"] = methods
        headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-Match"
        headers["Access-Control-Max-Age"] = "600"
    return Response(status_code=204, headers=headers)


def _unsupported(request: Request, wanted: str) -> Response:
    got = _content_type(request) or "none"
    response = problem(
        415,
        f"Send the body as {wanted} (got {got}).",
        code="unsupported_media_type",
        instance=request.url.path,
    )
    response.headers.update(_cors(request))
    return response


async def player(request: Request) -> Response:
    """The player page. It holds no data: the token comes from the URL fragment or the
    embedding page (postMessage) and is sent only with the WHEP requests."""
    camera_id = int(request.path_params["camera_id"])
    html = _PLAYER.replace("{{camera_id}}", str(camera_id))
    headers = {
        "Content-Security-Policy": _PAGE_CSP,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(html, headers=headers)


routes: list[BaseRoute] = [
    Route("/cameras/{camera_id:int}", player, methods=["GET"]),
    Route("/cameras/{camera_id:int}/whep", whep, methods=["POST", "OPTIONS"]),
    Route(
        "/cameras/{camera_id:int}/whep/{session_id}",
        whep_session,
        methods=["PATCH", "DELETE", "OPTIONS"],
    ),
    Mount("/static", StaticFiles(directory=_HERE / "static"), name="streams-static"),
]
