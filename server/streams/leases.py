"""This process's side of the cameras' leases (``geo.services.camera_relays``): who it is,
which cameras it holds, and the heartbeat that keeps holding them.

A feed claims its camera before it opens anything: holding the lease, it pulls the source;
otherwise it pulls the owner's relay over the internal hop (``server.streams.hop``). The
heartbeat renews every held lease in one statement each ``lease_renew_s``; a lease it no
longer holds (another process took it after it expired: this process was stalled, or cut off
from the database for longer than ``lease_ttl_s``) is given up at once — its feed lets the
source go and re-resolves — so two processes never pull one camera for longer than a
heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.errors import OneMapError
from geo.services import camera_relays
from geo.services.camera_relays import Lease
from server.kernel.settings import StreamSettings

log = logging.getLogger("onemap.streams")

#: A claim that lost a race (the winner's row not yet visible) asks again this often.
_CLAIM_TRIES = 5


class LeaseUnavailable(Exception):
    """The lease could not be claimed or looked up (the database did not answer)."""


class Ownership:
    def __init__(
        self, settings: StreamSettings, pool: AsyncConnectionPool[AsyncConnection[Any]]
    ) -> None:
        self.settings = settings
        self.pool = pool
        #: ``host:pid:nonce``: unique per process, even when a pid is reused.
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.internal_url = ""  # set when the internal hop listens
        self.owned: set[int] = set()
        #: Called with a camera whose lease this process has lost.
        self.on_lost: Callable[[int], None] = lambda camera_id: None
        self._renewed_at = time.monotonic()
        self._heartbeat: asyncio.Task[None] | None = None
        # Claims and releases of this process one at a time, so a release of a stopped feed
        # cannot delete the lease a new feed of the same camera has just claimed.
        self._lock = asyncio.Lock()
        self._releasing: set[asyncio.Task[None]] = set()

    async def claim(self, camera_id: int) -> Lease:
        """The camera's lease: this process's (it may pull the source) or the holder's."""
        assert self.internal_url, "the internal hop must listen before leases are claimed"
        for _ in range(_CLAIM_TRIES):
            try:
                async with self._lock, self.pool.connection() as conn:
                    lease = await camera_relays.claim(
                        conn, camera_id, owner=self.id, internal_url=self.internal_url,
                        public_url=self.settings.public_url, ttl_s=self.settings.lease_ttl_s,
                    )  # fmt: skip
                    if lease is not None and lease.mine:
                        if not self.owned:
                            self._renewed_at = time.monotonic()
                        self.owned.add(camera_id)
            except (psycopg.Error, OneMapError) as exc:
                raise LeaseUnavailable(f"the lease cannot be claimed: {exc}") from None
            if lease is not None:
                return lease
            await asyncio.sleep(0.05)
        raise LeaseUnavailable("the lease is changing hands; try again")

    def let_go(self, camera_id: int) -> None:
        """Give the lease up (its feed stopped): another process may take it at once."""
        self.owned.discard(camera_id)
        task = asyncio.ensure_future(self._release(camera_id))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, camera_id: int) -> None:
        try:
            async with self._lock:
                if camera_id in self.owned:  # claimed again meanwhile by a new feed
                    return
                async with self.pool.connection() as conn:
                    await camera_relays.release(conn, [camera_id], owner=self.id)
        except (psycopg.Error, OneMapError) as exc:  # it expires by itself
            log.warning("camera %s: lease not released (%s); it expires", camera_id, exc)

    def start(self) -> None:
        self._heartbeat = asyncio.create_task(self._beat(), name="onemap-relay-leases")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_renew_s)
            await self.renew()

    async def renew(self) -> None:
        """One heartbeat: renew every held lease; give up those held no more."""
        asked = sorted(self.owned)
        if not asked:
            self._renewed_at = time.monotonic()
            return
        try:
            async with self.pool.connection() as conn:
                kept = await camera_relays.renew(
                    conn, asked, owner=self.id, ttl_s=self.settings.lease_ttl_s
                )
        except (psycopg.Error, OneMapError) as exc:
            if time.monotonic() - self._renewed_at < self.settings.lease_ttl_s:
                log.warning("relay leases not renewed (%s); trying again", exc)
                return
            log.error("relay leases not renewed for %.0f s: giving them up", time.monotonic()
                      - self._renewed_at)  # fmt: skip
            kept = set()
        else:
            self._renewed_at = time.monotonic()
        for camera_id in asked:
            if camera_id not in kept and camera_id in self.owned:
                log.warning("camera %s: lease lost; letting its source go", camera_id)
                self.owned.discard(camera_id)
                self.on_lost(camera_id)

    async def close(self) -> None:
        """At shutdown: stop the heartbeat and give every lease up."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self._releasing:
            await asyncio.wait(self._releasing, timeout=2.0)
        held, self.owned = sorted(self.owned), set()
        if held:
            try:
                async with self.pool.connection() as conn:
                    await camera_relays.release(conn, held, owner=self.id)
            except (psycopg.Error, OneMapError) as exc:
                log.warning("relay leases not released at shutdown (%s); they expire", exc)
