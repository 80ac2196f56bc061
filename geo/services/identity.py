"""Identity's writer: one-time codes, password logins, refresh-token families.

Codes and refresh tokens are stored only as keyed hashes. A refresh token is rotated on every
use; presenting one that was already rotated means it leaked (or a client raced itself), so the
whole family is revoked. Every attempt at a secret is charged against its throttle keys in the
database before the secret is evaluated (``geo.services.throttles``): the limits hold across
worker processes and under concurrency. Each failed guess is also a row in ``auth_failures``,
the record of who tried what from where. Each session's start (with its method and address),
logout and revocation for reuse is a row of the hash-chained audit trail (``session.*``),
written in the transaction that makes the change.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from geo import access
from geo.access import NOWHERE, Jurisdiction, Scope
from geo.errors import Forbidden, InvalidInput, Unauthorized
from geo.passwords import hash_password, verify_password
from geo.services import audit, throttles
from geo.services.throttles import Limits

PHONE_PATTERN = r"^\+?[0-9]{6,15}$"
#: Compared against when the phone is unknown, so a miss costs as much time as a hit.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


class InvalidCode(Unauthorized):
    code = "invalid_code"


class RefreshReused(Unauthorized):
    code = "refresh_token_reused"


@dataclass(frozen=True)
class UserRef:
    id: int
    roles: tuple[str, ...]
    display_name: str


def _hash_code(pepper: bytes, phone: str, code: str) -> str:
    return hmac.new(pepper, f"{phone}:{code}".encode(), "sha256").hexdigest()


def _hash_token(token: str) -> str:
    # Refresh tokens carry 256 random bits: a plain hash cannot be reversed by guessing.
    return hashlib.sha256(token.encode()).hexdigest()


async def request_code(
    conn: AsyncConnection[Any],
    *,
    phone: str,
    client_addr: str | None,
    pepper: bytes,
    limits: Limits,
) -> tuple[str, datetime]:
    """A new six-digit code for ``phone`` (to be sent by the caller), within the rate limits."""
    now = datetime.now(UTC)
    code = f"{secrets.randbelow(1_000_000):06d}"
    expires = now + timedelta(seconds=limits.otp_ttl_s)
    async with conn.transaction():
        # The phone's and the address's rows stay locked until the code is stored.
        await throttles.reserve(
            conn, throttles.otp_send_charges(limits, phone, client_addr),
            message="Too many codes for this phone or from this client",
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO otp_codes (phone, code_hash, client_addr, created_at, expires_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (phone, _hash_code(pepper, phone, code), client_addr, now, expires),
        )
    return code, expires


async def _fail(conn: AsyncConnection[Any], phone: str, kind: str, client_addr: str | None) -> None:
    """The record of a failed guess (its throttle charge was made before it was evaluated)."""
    await conn.execute(
        "INSERT INTO auth_failures (phone, kind, client_addr) VALUES (%s, %s, %s)",
        (phone, kind, client_addr),
    )


async def login_with_code(
    conn: AsyncConnection[Any],
    *,
    phone: str,
    code: str,
    client_addr: str | None,
    pepper: bytes,
    limits: Limits,
) -> UserRef:
    """The user a valid code logs in (a citizen account is created on first login)."""
    ticket = await throttles.reserve(
        conn, throttles.otp_code_charges(limits, phone, client_addr),
        message="Too many wrong codes",
    )  # fmt: skip
    row = await (
        await conn.execute(
            "UPDATE otp_codes SET consumed_at = now() WHERE id = ("
            "SELECT id FROM otp_codes WHERE phone = %s AND code_hash = %s "
            "AND consumed_at IS NULL AND expires_at > now() ORDER BY id DESC LIMIT 1 "
            "FOR UPDATE SKIP LOCKED) RETURNING id",
            (phone, _hash_code(pepper, phone, code)),
        )
    ).fetchone()
    if row is None:
        await _fail(conn, phone, "otp", client_addr)
        raise InvalidCode("The code is wrong, used or expired; request a new one.")
    await throttles.release(conn, ticket)
    return await _citizen(conn, phone)


async def _citizen(conn: AsyncConnection[Any], phone: str) -> UserRef:
    row = await (
        await conn.execute(
            "INSERT INTO users (phone, display_name, roles) VALUES (%s, %s, %s) "
            "ON CONFLICT (phone) DO UPDATE SET phone = excluded.phone "
            "RETURNING id, roles, status, display_name, password_hash IS NOT NULL",
            (phone, f"市民{phone[-4:]}", list(access.CITIZEN_ROLES)),
        )
    ).fetchone()
    assert row is not None
    if row[2] != "active":
        raise Forbidden("This account is disabled.")
    if row[4] or not access.is_citizen_account(row[1]):
        raise Forbidden("Staff accounts log in with their password.")
    return UserRef(row[0], tuple(row[1]), row[3])


async def login_with_password(
    conn: AsyncConnection[Any],
    *,
    phone: str,
    password: str,
    client_addr: str | None,
    limits: Limits,
) -> UserRef:
    """The staff account a password logs in. The attempt is charged before argon2 runs; a
    success resets the (account, address) key and vouches for the address (docs/identity.md)."""
    ticket = await throttles.reserve(
        conn, throttles.login_charges(limits, phone, client_addr),
        message="Too many failed logins", trusted_s=limits.login_trusted_s, reset_first=True,
    )  # fmt: skip
    row = await (
        await conn.execute(
            "SELECT id, roles, status, display_name, password_hash FROM users WHERE phone = %s",
            (phone,),
        )
    ).fetchone()
    stored = row[4] if row is not None and row[4] else _DUMMY_HASH
    ok = await asyncio.to_thread(verify_password, stored, password)  # argon2: ~50 ms of CPU
    if row is None or not row[4] or not ok:
        await _fail(conn, phone, "password", client_addr)
        raise Unauthorized("Wrong phone or password.")
    await throttles.release(conn, ticket)
    if row[2] != "active":
        raise Forbidden("This account is disabled.")
    return UserRef(row[0], tuple(row[1]), row[3])


@dataclass(frozen=True)
class SessionTokens:
    """A log-in session (its refresh-token family: the ``sid`` its access tokens carry, so
    streams end when it is revoked) and its current refresh token."""

    session_id: str
    refresh_token: str


async def _audit_session(
    conn: AsyncConnection[Any], user_id: int, roles: Sequence[str], action: str, family: str,
    client_addr: str | None, **detail: Any,
) -> None:  # fmt: skip
    role = access.Principal(user_id, frozenset(roles)).audit_role
    await audit.record(
        conn, actor_id=user_id, actor_role=role, action=action, object_type="session",
        object_id=family, client_addr=client_addr, detail=detail,
    )  # fmt: skip


async def start_session(
    conn: AsyncConnection[Any], user: UserRef, limits: Limits, *, method: str,
    client_addr: str | None,
) -> SessionTokens:  # fmt: skip
    """A new refresh-token family for a login (``method``: otp or password), with its first
    token; audited as ``session.login``."""
    family = secrets.token_hex(16)
    token = secrets.token_urlsafe(32)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO refresh_families (id, user_id) VALUES (%s, %s)", (family, user.id)
        )
        await _insert_token(conn, family, token, limits)
        await _audit_session(conn, user.id, user.roles, "session.login", family, client_addr,
                             method=method)  # fmt: skip
    return SessionTokens(family, token)


async def _insert_token(
    conn: AsyncConnection[Any], family: str, token: str, limits: Limits
) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (family_id, token_hash, expires_at) VALUES (%s, %s, %s)",
        (family, _hash_token(token),
         datetime.now(UTC) + timedelta(seconds=limits.refresh_ttl_s)),
    )  # fmt: skip


async def rotate(
    conn: AsyncConnection[Any], token: str, limits: Limits
) -> tuple[UserRef, SessionTokens]:
    """Trade a refresh token for a new one (and the user to issue an access token for)."""
    reused = False
    async with conn.transaction():
        row = await (
            await conn.execute(
                "SELECT t.id, t.family_id, t.used_at, t.expires_at < now(), f.revoked_at, "
                "u.id, u.roles, u.status, u.display_name FROM refresh_tokens t "
                "JOIN refresh_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id "
                "WHERE t.token_hash = %s FOR UPDATE OF t, f",
                (_hash_token(token),),
            )
        ).fetchone()
        if row is None:
            raise Unauthorized("Unknown refresh token.")
        token_id, family, used_at, expired, revoked_at, uid, roles, status, name = row
        if revoked_at is not None:
            raise Unauthorized("This session has ended; log in again.")
        if used_at is not None:
            reused = True
            await conn.execute(
                "UPDATE refresh_families SET revoked_at = now(), revoked_reason = 'reuse' "
                "WHERE id = %s", (family,),
            )  # fmt: skip
            await _audit_session(conn, uid, roles, "session.revoked", family, None,
                                 reason="reuse")  # fmt: skip
        elif expired:
            raise Unauthorized("The refresh token has expired; log in again.")
        elif status != "active":
            raise Forbidden("This account is disabled.")
        else:
            await conn.execute(
                "UPDATE refresh_tokens SET used_at = now() WHERE id = %s", (token_id,)
            )
            new = secrets.token_urlsafe(32)
            await _insert_token(conn, family, new, limits)
    if reused:  # raised after the commit: the revocation must stick
        raise RefreshReused(
            "This refresh token was already used: the session is revoked; log in again."
        )
    return UserRef(uid, tuple(roles), name), SessionTokens(family, new)


async def logout(conn: AsyncConnection[Any], token: str, client_addr: str | None = None) -> None:
    """End the session the refresh token belongs to (audited as ``session.logout``); a token
    of an ended or unknown session changes nothing."""
    async with conn.transaction():
        ended = await (
            await conn.execute(
                "UPDATE refresh_families f SET revoked_at = now(), revoked_reason = 'logout' "
                "FROM users u WHERE u.id = f.user_id AND f.revoked_at IS NULL "
                "AND f.id = (SELECT family_id FROM refresh_tokens WHERE token_hash = %s) "
                "RETURNING f.id, u.id, u.roles", (_hash_token(token),),
            )
        ).fetchone()  # fmt: skip
        if ended is not None:
            await _audit_session(conn, ended[1], ended[2], "session.logout", ended[0],
                                 client_addr)  # fmt: skip


async def profile(conn: AsyncConnection[Any], user_id: int) -> dict[str, Any]:
    row = await (
        await conn.execute(
            "SELECT u.id, u.phone, u.display_name, u.roles, u.status, d.code FROM users u "
            "LEFT JOIN departments d ON d.id = u.department_id WHERE u.id = %s", (user_id,),
        )
    ).fetchone()  # fmt: skip
    if row is None:
        raise Unauthorized("The user of this token no longer exists.")
    keys = ("id", "phone", "display_name", "roles", "status", "department")
    return dict(zip(keys, row, strict=True))


async def jurisdiction_of(conn: AsyncConnection[Any], user_id: int) -> Jurisdiction:
    """The jurisdiction an account's tokens carry, resolved from what is stored: "own_cells"
    becomes the cells the user is the grid worker of, "department" the user's department."""
    cur = await conn.execute(
        "SELECT u.jurisdiction_scope, u.jurisdiction_ids, u.department_id, "
        "coalesce((SELECT array_agg(g.id ORDER BY g.id) FROM grid_cells g "
        "WHERE g.worker_id = u.id), '{}') FROM users u WHERE u.id = %s",
        (user_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return NOWHERE
    stored, ids, department, cells = row
    if stored == "own_cells":
        return Jurisdiction(Scope.GRID_CELLS, tuple(cells))
    if stored == Scope.DEPARTMENT.value:
        return Jurisdiction(Scope.DEPARTMENT, (department,) if department else ())
    if stored in (Scope.CITY.value, Scope.NONE.value):
        return Jurisdiction(Scope(stored))
    return Jurisdiction(Scope(stored), tuple(ids))


def check_phone(phone: str) -> str:
    if not re.fullmatch(PHONE_PATTERN, phone):
        raise InvalidInput("phone must be 6 to 15 digits, optionally with a leading +.")
    return phone
