"""Viewing sessions: one aiortc peer connection per viewer, audited from start to end.

A session ends when its viewer DELETEs it, when its connection fails or never connects, when it
reaches its maximum length, when the viewer's access token expires or log-in session is revoked
(``server.kernel.auth.session_end``), or at shutdown; each end is audited once with its duration
and reason.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from geo.access import Principal
from geo.errors import InvalidInput, Unavailable
from server.kernel.settings import StreamSettings
from server.streams.feeds import CameraRef, Feed, Feeds
from server.streams.relay import ViewerTrack
from server.streams.signalling import Fragment, Offer, h264_preferences

log = logging.getLogger("onemap.streams")

#: (action, session, detail) → writes one audit row; raising refuses the session.
AuditSink = Callable[[str, "Session", dict[str, Any]], Awaitable[None]]
#: Returns (the reason) when a principal's right to watch ends: token expiry, revocation.
RightEnds = Callable[[Principal], Awaitable[str]]


@dataclass(eq=False)
class Session:
    id: str
    camera: CameraRef
    user_id: int
    role: str
    client: str | None
    pc: RTCPeerConnection
    feed: Feed
    track: ViewerTrack
    remote_ufrag: str | None
    video_mid: str | None
    started: float = field(default_factory=time.monotonic)
    ended: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    watchers: list[asyncio.Future[Any]] = field(default_factory=list)


class Sessions:
    def __init__(
        self, feeds: Feeds, settings: StreamSettings, audit: AuditSink, right_ends: RightEnds
    ) -> None:
        self.feeds = feeds
        self.settings = settings
        self.audit = audit
        self.right_ends = right_ends
        self.by_id: dict[str, Session] = {}
        self._closing: set[asyncio.Task[bool]] = set()
        self._opening = 0

    async def open(
        self, camera: CameraRef, principal: Principal, role: str, client: str | None, offer: Offer
    ) -> tuple[Session, str]:
        """Start a session; returns it with the SDP answer. SourceOffline, InvalidInput or
        Unavailable (too many sessions) when it cannot start."""
        if len(self.by_id) + self._opening >= self.settings.max_sessions:
            raise Unavailable("This server has as many viewers as it takes; try again shortly.")
        self._opening += 1  # counted from here, so concurrent offers cannot overshoot the cap
        try:
            return await self._open(camera, principal, role, client, offer)
        finally:
            self._opening -= 1

    async def _open(
        self, camera: CameraRef, principal: Principal, role: str, client: str | None, offer: Offer
    ) -> tuple[Session, str]:
        feed, track = await self.feeds.watch(camera)
        # No ICE servers: aiortc would otherwise add a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(h264_preferences())  # before the remote description
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc refuses offers with assorted exception types
            await pc.close()
            feed.detach(track)
            log.info("camera %s: offer refused: %r", camera.id, exc)
            raise InvalidInput(f"The offer cannot be answered: {exc}") from None
        assert principal.user_id is not None
        session = Session(
            id=secrets.token_urlsafe(16),
            camera=camera,
            user_id=principal.user_id,
            role=role,
            client=client,
            pc=pc,
            feed=feed,
            track=track,
            remote_ufrag=offer.ice_ufrag,
            video_mid=offer.video_mid,
        )
        try:
            await self.audit("camera.view.start", session, {})
        except Exception:
            await self._teardown(session)
            raise
        self.by_id[session.id] = session
        self._watch(session, principal)
        return session, pc.localDescription.sdp

    def _watch(self, session: Session, principal: Principal) -> None:
        loop = asyncio.get_running_loop()

        async def until_the_right_ends() -> None:
            self.close_soon(session.id, await self.right_ends(principal))

        session.watchers.append(asyncio.ensure_future(until_the_right_ends()))

        @session.pc.on("connectionstatechange")
        def changed() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                self.close_soon(session.id, session.pc.connectionState)

        def unless_connected() -> None:
            if session.pc.connectionState != "connected":
                self.close_soon(session.id, "never_connected")

        session.timers = [
            loop.call_later(self.settings.connect_timeout_s, unless_connected),
            loop.call_later(self.settings.max_session_s, self.close_soon, session.id, "max_length"),
        ]

    async def trickle(self, session: Session, fragment: Fragment) -> None:
        for candidate in fragment.candidates:
            await session.pc.addIceCandidate(candidate)
        if fragment.end_of_candidates:
            await session.pc.addIceCandidate(None)

    def close_soon(self, session_id: str, reason: str) -> None:
        task = asyncio.ensure_future(self.close(session_id, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self, session_id: str, reason: str) -> bool:
        """End a session (False when there is no such session, or it has ended already)."""
        session = self.by_id.pop(session_id, None)
        if session is None or session.ended:
            return False
        await self._teardown(session)
        seconds = round(time.monotonic() - session.started, 3)
        try:
            await self.audit("camera.view.end", session, {"seconds": seconds, "reason": reason})
        except Exception:
            log.exception(
                "camera %s: the end of session %s is not audited", session.camera.id, session.id
            )
        return True

    async def _teardown(self, session: Session) -> None:
        session.ended = True
        for timer in session.timers:
            timer.cancel()
        for watcher in session.watchers:
            watcher.cancel()
        await session.pc.close()
        session.feed.detach(session.track)

    async def close_all(self, reason: str) -> None:
        await asyncio.gather(*(self.close(sid, reason) for sid in list(self.by_id)))
        if self._closing:
            await asyncio.wait(self._closing, timeout=5.0)
