"""Departments' API keys: created, listed, revoked — the only writer of ``api_keys`` — and
the key a client sends turned into its principal (docs/open-data.md).

A key is ``omk_`` + 40 random URL-safe characters (240 bits), shown once when it is made;
only its SHA-256 is stored (a key that long needs no slow hash: nobody can guess one), and
its first 12 characters (``prefix``) to tell keys apart. Who may grant which dataset is the
access policy's (``geo.access.grants``); every creation and revocation is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from geo import access
from geo.access import Principal
from geo.errors import InvalidInput, NotFound, Unauthorized
from geo.queries import api_keys as q
from geo.queries import fetch
from geo.services import audit, throttles

PREFIX = "omk_"
PREFIX_LENGTH = 12
#: The most requests a minute a key may be given (and the default).
MAX_RATE = 100_000
DEFAULT_RATE = 600


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Created:
    key: str  # shown once, never stored
    row: q.KeyRow


async def create(
    conn: AsyncConnection[Any],
    principal: Principal,
    *,
    department: str,
    name: str,
    datasets: list[str],
    expires_at: datetime | None = None,
    rate_per_minute: int = DEFAULT_RATE,
    client_addr: str | None = None,
) -> Created:
    """A new key of ``department`` (a code) granted ``datasets``; its text is in the result
    and nowhere else. InvalidInput for an unknown department, an empty name, a dataset the
    policy does not let a key have, a past expiry or a rate out of range."""
    granted = access.grants(principal, datasets)
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("Give the key a name of 1–200 characters (what it is for).")
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
        raise InvalidInput("expires_at must be a future instant with its time zone.")
    if not 1 <= rate_per_minute <= MAX_RATE:
        raise InvalidInput(f"rate_per_minute must be between 1 and {MAX_RATE}.")
    key = PREFIX + secrets.token_urlsafe(30)
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO api_keys (department_id, name, prefix, key_hash, datasets, "
            "rate_per_minute, created_by, expires_at) SELECT d.id, %(name)s, %(prefix)s, "
            "%(hash)s, %(datasets)s, %(rate)s, %(by)s, %(expires)s FROM departments d "
            "WHERE d.code = %(dept)s RETURNING id",
            {"name": name, "prefix": key[:PREFIX_LENGTH], "hash": digest(key),
             "datasets": sorted(granted), "rate": rate_per_minute, "by": principal.user_id,
             "expires": expires_at, "dept": department},
        )  # fmt: skip
        row = await cur.fetchone()
        if row is None:
            codes = await conn.execute("SELECT string_agg(code, ', ' ORDER BY code) "
                                       "FROM departments")  # fmt: skip
            known = await codes.fetchone()
            raise InvalidInput(f"No department {department!r}; the departments are "
                               f"{known[0] if known else 'none'}.")  # fmt: skip
        key_id = int(row[0])
        await audit.record(
            conn, actor_id=principal.user_id, actor_role=principal.audit_role,
            action="apikey.create", object_type="api_key", object_id=key_id,
            client_addr=client_addr,
            detail={"department": department, "name": name, "datasets": granted,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                    "rate_per_minute": rate_per_minute},
        )  # fmt: skip
        found = await fetch(conn, q.keys(key_id))
    return Created(key, found[0])


async def listing(
    conn: AsyncConnection[Any], principal: Principal, department: str | None = None
) -> list[q.KeyRow]:
    access.manages_api_keys(principal)
    return await fetch(conn, q.keys(None, department))


async def revoke(
    conn: AsyncConnection[Any], principal: Principal, key_id: int, client_addr: str | None = None
) -> q.KeyRow:
    """Revoke a key (at once: the next request with it is refused). Revoking a revoked key
    changes nothing and is not an error."""
    access.manages_api_keys(principal)
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE api_keys SET revoked_at = now(), revoked_by = %(by)s "
            "WHERE id = %(id)s AND revoked_at IS NULL RETURNING id",
            {"id": key_id, "by": principal.user_id},
        )
        if await cur.fetchone() is not None:
            await audit.record(
                conn, actor_id=principal.user_id, actor_role=principal.audit_role,
                action="apikey.revoke", object_type="api_key", object_id=key_id,
                client_addr=client_addr,
            )  # fmt: skip
        found = await fetch(conn, q.keys(key_id))
    if not found:
        raise NotFound(f"No API key {key_id}.")
    return found[0]


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def principal_of_key(conn: AsyncConnection[Any], key: str) -> Principal:
    """The principal of the key a client sent, after charging its per-minute quota.
    Unauthorized saying why (unknown, revoked, expired); RateLimited past the quota."""
    found = await fetch(conn, q.presented(digest(key)))
    if found is None:
        raise Unauthorized("Unknown API key: check it was copied whole, or ask the city's "
                           "OneMap operators for one.")  # fmt: skip
    if found.revoked_at is not None:
        raise Unauthorized(f"This API key was revoked on {_when(found.revoked_at)}; ask the "
                           "city's OneMap operators for a new one.")  # fmt: skip
    if found.expired and found.expires_at is not None:
        raise Unauthorized(f"This API key expired on {_when(found.expires_at)}; ask the "
                           "city's OneMap operators for a new one.")  # fmt: skip
    charge = throttles.Charge(f"apikey:{found.id}", throttles.Policy(found.rate_per_minute, 60))
    # One pipeline: the transaction's statements go out together, not one round trip each.
    async with conn.pipeline(), conn.transaction():
        # A charge lost in a crash only lets a key make one request more: the commit need not
        # wait for the WAL flush.
        await conn.execute("SET LOCAL synchronous_commit TO off")
        await throttles.reserve(
            conn, [charge],
            message=f"This API key's quota of {found.rate_per_minute} requests a minute is "
            "used up",
        )  # fmt: skip
    return access.api_client(found.id, found.datasets)
