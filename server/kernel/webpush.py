"""Web Push of warnings to citizens' browsers (RFC 8030 push, RFC 8291 aes128gcm payloads,
RFC 8292 VAPID), with pywebpush.

The VAPID key is made on first run in the data directory (``vapid-p256.pem``, mode 0600) by
whichever process comes first, as the development JWT key is; browsers subscribe with its
public half (:attr:`Pusher.public_key`, served at ``GET /api/v1/push-subscriptions/key``).

After a message is committed, :meth:`Pusher.schedule` sends it in a task of its own, never on
the request's time: each subscription of each citizen with a place in the area gets one
encrypted POST, a few at a time, and the push service's answer is recorded
(``geo.services.warning_push.record``: a 404/410 deletes the subscription).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async

from geo.queries import fetch
from geo.queries.warnings import CapMessage, Recipient, message_by_id, recipients
from geo.services import warning_push
from server.kernel.once_files import read_or_create
from server.kernel.settings import Settings

log = logging.getLogger("onemap.webpush")
VAPID_KEY_NAME = "vapid-p256.pem"
#: A push service keeps an undelivered message at most this long (RFC 8030 TTL).
MAX_TTL_S = 28 * 86_400


def _new_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def vapid_key(settings: Settings) -> Vapid:
    path = settings.warnings.vapid_private_key_file or settings.data.dir / VAPID_KEY_NAME
    return Vapid.from_pem(read_or_create(Path(path), _new_key_pem))


def payload(message: CapMessage) -> str:
    """What the browser's service worker receives: enough to show the notification."""
    return json.dumps(
        {
            "identifier": message.identifier,
            "msgType": message.msg_type,
            "severity": message.severity,
            "urgency": message.urgency,
            "expires": message.expires.isoformat(),
            "headline": {lang: t["headline"] for lang, t in message.texts.items()},
            "url": f"/cap/alerts/{message.identifier}.xml",
        },
        ensure_ascii=False,
    )


class Pusher:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool[AsyncConnection[Any]]):
        self.settings = settings.warnings
        self.allow_loopback = settings.warnings.allow_loopback_push or settings.server.dev_mode
        self.pool = pool
        self.vapid = vapid_key(settings)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def public_key(self) -> str:
        """The applicationServerKey browsers subscribe with (base64url, uncompressed point)."""
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def schedule(self, warning_id: int) -> None:
        """Send the message in the background (call after its transaction committed)."""
        task = asyncio.get_running_loop().create_task(self._deliver(warning_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, warning_id: int) -> None:
        try:
            async with self.pool.connection() as conn:
                message = await fetch(conn, message_by_id(warning_id))
                to = await fetch(conn, recipients(warning_id))
            if message is None or message.status != "Actual":
                return  # exercises and tests reach no citizen's phone
            ttl = int(min(MAX_TTL_S, max(0, (message.expires - message.sent).total_seconds())))
            gate = asyncio.Semaphore(self.settings.push_concurrency)
            timeout = aiohttp.ClientTimeout(total=self.settings.push_timeout_s)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                sends = [self._one(session, gate, message, r, ttl) for r in to]
                await asyncio.gather(*sends)
        except Exception:  # a background task: log it, never lose it silently
            log.exception("warning push failed", extra={"warning_id": warning_id})

    async def _one(
        self,
        session: aiohttp.ClientSession,
        gate: asyncio.Semaphore,
        message: CapMessage,
        to: Recipient,
        ttl: int,
    ) -> None:
        info = {"endpoint": to.endpoint, "keys": {"p256dh": to.p256dh, "auth": to.auth}}
        status: int | None
        async with gate:
            try:
                response = await webpush_async(
                    info,
                    payload(message),
                    vapid_private_key=self.vapid,
                    vapid_claims={"sub": self.settings.vapid_subject},
                    ttl=ttl,
                    headers={"Urgency": "high" if message.urgency == "Immediate" else "normal"},
                    aiohttp_session=session,
                )
                status, detail = getattr(response, "status", None), None
            except WebPushException as exc:
                status = exc.response.status if exc.response is not None else None
                detail = str(exc).splitlines()[0]
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                status, detail = None, f"{type(exc).__name__}: {exc}"
        async with self.pool.connection() as conn:
            await warning_push.record(conn, message.id, to, status, detail)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
