"""Idempotency-Key (IETF draft "The Idempotency-Key HTTP Header Field"): a creating request
runs at most once per (owner, operation, key).

The key's row is written in the same transaction as what the request creates, under a
transaction-scoped advisory lock on the key: a repeat after completion gets the stored
response; a repeat while the first is still running gets 409 (the lock is held); the same key
with another payload gets 422. The unique index is the last line of defence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo.citizen_errors import InFlight, KeyReused


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool


def fingerprint(payload: Any) -> str:
    """SHA-256 of the canonical JSON of what the request asks for."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()


async def stored(
    conn: AsyncConnection[Any], owner: str, operation: str, key: str, print_: str
) -> Outcome | None:
    """The completed response for this key, if any (422 if it was for another payload)."""
    row = await (
        await conn.execute(
            "SELECT fingerprint, status_code, response FROM idempotency_keys "
            "WHERE owner = %s AND operation = %s AND key = %s",
            (owner, operation, key),
        )
    ).fetchone()
    if row is None:
        return None
    if row[0] != print_:
        raise KeyReused(
            "This Idempotency-Key was already used for a different request; use a new key."
        )
    return Outcome(row[1], row[2], replayed=True)


async def run_once(
    conn: AsyncConnection[Any],
    *,
    owner: str,
    operation: str,
    key: str,
    print_: str,
    create: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> Outcome:
    """Run ``create`` (which writes through ``conn``) once for the key, atomically with it."""
    async with conn.transaction():
        row = await (
            await conn.execute(
                "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 7))",
                ("\x1f".join((owner, operation, key)),),
            )
        ).fetchone()
        if row is None or not row[0]:
            raise InFlight(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            )
        earlier = await stored(conn, owner, operation, key, print_)
        if earlier is not None:
            return earlier
        status, body = await create()
        await conn.execute(
            "INSERT INTO idempotency_keys (owner, operation, key, fingerprint, status_code, "
            "response) VALUES (%s, %s, %s, %s, %s, %s)",
            (owner, operation, key, print_, status, Jsonb(body)),
        )
    return Outcome(status, body, replayed=False)
