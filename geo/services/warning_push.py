"""The writer of citizens' push subscriptions (Web Push, RFC 8030/8291/8292) and of what the
push services answered when a warning was sent (``warning_deliveries``).

A subscription is the browser's PushSubscription: its endpoint (the push service's URL) and
keys (``p256dh``: the browser's P-256 public key; ``auth``: a 16-byte secret). Endpoints are
https; plain http is let through only to loopback and only when the settings allow it (dev and
tests, ``ONEMAP_WARNINGS_ALLOW_LOOPBACK_PUSH``). A push service answering 404 or 410 says the
subscription is gone: it is deleted (RFC 8030 §7.3), the delivery stays on record.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

from psycopg import AsyncConnection

from geo import access
from geo.access import Principal
from geo.errors import InvalidInput, NotFound
from geo.params import LonLat
from geo.queries.warnings import Recipient
from geo.warning_enums import PushOutcome

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _key(value: str, name: str, size: int) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size or (name == "p256dh" and raw[0] != 4):
        what = "an uncompressed P-256 point (65 bytes)" if name == "p256dh" else "16 bytes"
        raise InvalidInput(f"keys.{name} must be {what}, base64url-encoded.", field=f"keys.{name}")
    return value.rstrip("=")


def check_endpoint(endpoint: str, allow_loopback: bool) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return endpoint
    if parts.scheme == "http" and allow_loopback and parts.hostname in _LOOPBACK:
        return endpoint
    raise InvalidInput("The endpoint must be the push service's https:// URL.", field="endpoint")


async def subscribe(
    conn: AsyncConnection[Any],
    principal: Principal,
    endpoint: str,
    p256dh: str,
    auth: str,
    place: LonLat | None,
    allow_loopback: bool,
) -> int:
    """Register (or refresh) a browser of the citizen; returns the subscription's id. The same
    endpoint registered again replaces its keys and position."""
    access.require_citizen(principal)
    values = {
        "user": principal.user_id,
        "endpoint": check_endpoint(endpoint, allow_loopback),
        "p256dh": _key(p256dh, "p256dh", 65),
        "auth": _key(auth, "auth", 16),
        "lon": place.lon if place else None,
        "lat": place.lat if place else None,
    }
    cur = await conn.execute(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, geom) VALUES "
        "(%(user)s, %(endpoint)s, %(p256dh)s, %(auth)s, CASE WHEN %(lon)s::float8 IS NOT NULL "
        "THEN ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) END) "
        "ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, "
        "p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, geom = EXCLUDED.geom RETURNING id",
        values,
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def unsubscribe(conn: AsyncConnection[Any], principal: Principal, endpoint: str) -> None:
    """Remove one of the citizen's browsers; NotFound when the endpoint is not theirs."""
    access.require_citizen(principal)
    cur = await conn.execute(
        "DELETE FROM push_subscriptions WHERE endpoint = %s AND user_id = %s",
        (endpoint, principal.user_id),
    )
    if cur.rowcount == 0:
        raise NotFound("You have no push subscription with that endpoint.")


def outcome_of(http_status: int | None) -> PushOutcome:
    if http_status is not None and 200 <= http_status < 300:
        return PushOutcome.DELIVERED
    if http_status in (404, 410):
        return PushOutcome.GONE
    return PushOutcome.FAILED


async def record(
    conn: AsyncConnection[Any],
    warning_id: int,
    to: Recipient,
    http_status: int | None,
    detail: str | None,
) -> PushOutcome:
    """What the push service answered for one subscription; a gone subscription is deleted."""
    outcome = outcome_of(http_status)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO warning_deliveries (warning_id, subscription_id, user_id, outcome, "
            "http_status, detail) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                warning_id,
                to.subscription_id,
                to.user_id,
                outcome.value,
                http_status,
                (detail or "")[:500] or None,
            ),
        )
        if outcome is PushOutcome.GONE:
            await conn.execute(
                "DELETE FROM push_subscriptions WHERE id = %s", (to.subscription_id,)
            )
    return outcome
