"""The stream service of one process: feeds, sessions, and their writes to the one map.

Built by the app factory, started and closed by the lifespan (closing ends every session, so
every peer connection is closed and every session's end is audited, and gives up this
process's camera leases). It also runs this process's end of the internal hop, through which
other processes pull the relays of the cameras it holds (docs/streams.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.access import Principal
from geo.enums import CameraStatus
from geo.errors import NotFound, Unauthorized
from geo.queries import fetch
from geo.queries.camera_relays import relay_holder
from geo.queries.cameras import camera_source
from geo.queries.sessions import session_live
from geo.services import audit, cameras_status
from server.kernel.auth.session_end import session_end
from server.kernel.events import EventBroker
from server.kernel.settings import StreamSettings
from server.streams.feeds import CameraRef, Feeds
from server.streams.hop import hop_secret
from server.streams.hop_server import HopServer
from server.streams.leases import Ownership
from server.streams.sessions import Session, Sessions
from server.streams.signalling import use_host_addresses

log = logging.getLogger("onemap.streams")


class StreamService:
    def __init__(
        self,
        settings: StreamSettings,
        data_dir: Path,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        broker: EventBroker,
        *,
        signing_key_material: bytes,
    ) -> None:
        self.settings = settings
        self.pool = pool
        configured = settings.internal_secret
        secret = hop_secret(
            configured.get_secret_value().encode() if configured else None, signing_key_material
        )
        self.ownership = Ownership(settings, pool)
        self.feeds = Feeds(
            settings, data_dir, self._write_status, ownership=self.ownership, hop_secret=secret
        )
        self.hop = HopServer(
            settings.internal_host, settings.internal_port, secret, self.feeds.owned_feed
        )
        self.sessions = Sessions(
            self.feeds, settings, self._write_audit, lambda who: session_end(broker, who)
        )
        self._restore_ice: Callable[[], None] = lambda: None

    async def start(self) -> None:
        """At start-up (the lifespan): make ICE gather on the configured host addresses; listen
        on the internal address; renew leases from now on."""
        self._restore_ice = use_host_addresses(self.settings.ice_host_addresses)
        self.ownership.internal_url = await self.hop.start()
        self.ownership.start()
        log.info("relay hop listening", extra={"url": self.ownership.internal_url,
                                               "owner": self.ownership.id})  # fmt: skip

    def relays(self) -> dict[str, object]:
        """For /readyz: this process, its internal address, the cameras it pulls."""
        return {"process": self.ownership.id, "internal_url": self.ownership.internal_url,
                **self.feeds.relays()}  # fmt: skip

    async def camera(self, principal: Principal, camera_id: int, client: str | None) -> CameraRef:
        """The camera to open for ``principal``: NotFound when there is none or it lies outside
        their jurisdiction (decided in SQL by the access policy). The second is audited as a
        refusal, but answered like the first, so ids do not reveal cameras elsewhere."""
        async with self.pool.connection() as conn:
            sid, uid = principal.session_id, principal.user_id
            if (
                sid is not None
                and uid is not None
                and not await fetch(conn, session_live(sid, uid))
            ):
                raise Unauthorized("Your session has been revoked; log in again.")
            found = await fetch(conn, camera_source(principal, camera_id))
        if found is not None and not found.in_scope:
            await self.audit_refusal(principal, camera_id, client, "jurisdiction")
        if found is None or not found.in_scope:
            raise NotFound(f"There is no camera {camera_id} in your jurisdiction.")
        return CameraRef(id=found.id, code=found.code, source=found.source)

    async def owner_url(self, camera_id: int) -> str | None:
        """The public base URL of the process holding the camera's relay, when that is another
        process with a URL of its own and ``redirect_to_owner`` is on (else None: serve here)."""
        own = self.settings.public_url
        if not self.settings.redirect_to_owner or camera_id in self.ownership.owned:
            return None
        async with self.pool.connection() as conn:
            holder = await fetch(conn, relay_holder(camera_id))
        if holder is None or not holder.live or holder.owner == self.ownership.id:
            return None
        if not holder.public_url or holder.public_url == own:
            return None
        return holder.public_url

    async def _write_status(self, camera_id: int, status: CameraStatus) -> None:
        try:
            async with self.pool.connection() as conn:
                await cameras_status.set_status(conn, camera_id, status)
        except NotFound:
            log.warning(
                "camera %s: gone from the one map; status %s not written", camera_id, status
            )
        except Exception:  # the picture matters more than the status line: log, go on
            log.exception("camera %s: status %s not written", camera_id, status)

    async def _write_audit(self, action: str, session: Session, detail: dict[str, Any]) -> None:
        async with self.pool.connection() as conn:
            await audit.record(
                conn,
                actor_id=session.user_id,
                actor_role=session.role,
                action=action,
                object_type="camera",
                object_id=session.camera.id,
                client_addr=session.client,
                detail={"session": session.id, "code": session.camera.code, **detail},
            )

    async def audit_refusal(
        self, principal: Principal, camera_id: int, client: str | None, reason: str
    ) -> None:
        """A logged-in user asked for video they may not see: that is audited too."""
        try:
            async with self.pool.connection() as conn:
                await audit.record(
                    conn,
                    actor_id=principal.user_id,
                    actor_role=principal.audit_role,
                    action="camera.view.refused",
                    object_type="camera",
                    object_id=camera_id,
                    client_addr=client,
                    detail={"reason": reason},
                )
        except Exception:
            log.exception("camera %s: a refusal is not audited", camera_id)

    async def close(self) -> None:
        """At shutdown: end every session (closing its peer connection), stop every feed."""
        await self.sessions.close_all("shutdown")
        await self.hop.close()
        await self.feeds.close()
        await self.ownership.close()
        self._restore_ice()
