"""When a principal's live streams must end: its access token expires, or its log-in session is
revoked (logout, refresh-token reuse) or its account changes (status, roles, jurisdiction) —
told to every worker by ``NOTIFY onemap_sessions`` (migration 0008).

GraphQL subscriptions and video sessions outlive the request that opened them; they await
:func:`session_end` beside their work and stop when it returns.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from geo.access import Principal
from server.kernel.events import EventBroker

CHANNEL = "onemap_sessions"


def ends_it(principal: Principal, notice: dict[str, Any]) -> bool:
    """Whether a notice on ``onemap_sessions`` ends this principal's streams."""
    sid = notice.get("sid")
    if sid is not None:
        return principal.session_id is not None and sid == principal.session_id
    return principal.user_id is not None and notice.get("user_id") == principal.user_id


async def _revoked(broker: EventBroker, principal: Principal) -> str:
    async for notice in broker.subscribe(CHANNEL):
        if ends_it(principal, notice):
            return str(notice.get("reason") or "revoked")
    return "revoked"  # pragma: no cover - the broker's stream does not end


async def session_end(broker: EventBroker, principal: Principal) -> str:
    """Return (the reason) when the principal's token expires or its session is revoked; never
    for a principal without a token (the anonymous caller, the server itself)."""
    if principal.user_id is None:
        await asyncio.Event().wait()
    watch = asyncio.ensure_future(_revoked(broker, principal))
    try:
        if principal.expires_at is None:
            return await watch
        left = principal.expires_at - time.time()
        done, _ = await asyncio.wait({watch}, timeout=max(0.0, left))
        return watch.result() if done else "token_expired"
    finally:
        watch.cancel()


REASONS = {
    "token_expired": "the access token expired; refresh it and subscribe again",
    "logout": "the session was logged out",
    "reuse": "the session was revoked (a refresh token was reused)",
    "account_changed": "the account's status, roles or jurisdiction changed; log in again",
}


def explain(reason: str) -> str:
    return REASONS.get(reason, "the session was revoked; log in again")
