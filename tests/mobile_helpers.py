"""Shared helpers of the citizen-API tests: users from the seed, tokens, unique keys."""

from __future__ import annotations

import itertools
import os
import uuid
from typing import Any

import psycopg

from geo.access import CITY, Jurisdiction
from server.kernel.auth.tokens import TokenService

_serial = itertools.count(1)


def key() -> str:
    return uuid.uuid4().hex


def unique_phone(prefix: str = "1360") -> str:
    """A phone no seeded account has (the seed uses 1370…, 1380…, 1381…, 1390…)."""
    return f"{prefix}{os.getpid() % 1000:03d}{next(_serial):04d}"


def seeded(database_url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def user_with_role(database_url: str, role: str) -> int:
    """The demo account for ``role`` (13800000…) or, for citizens, a seeded citizen."""
    if role == "citizen":
        return int(seeded(database_url, "SELECT id FROM users WHERE phone = '13700000001'"))
    return int(seeded(database_url, "SELECT id FROM users WHERE phone LIKE '1380000%%' "
                      "AND roles = ARRAY[%s]::text[] ORDER BY phone LIMIT 1", role))  # fmt: skip


def auth(
    tokens: TokenService, user_id: int, *roles: str, jurisdiction: Jurisdiction = CITY
) -> dict[str, str]:
    token = tokens.issue_access(user_id, roles, jurisdiction=jurisdiction)
    return {"Authorization": f"Bearer {token}"}


def a_point(database_url: str, offset: int = 0) -> tuple[float, float]:
    """A point inside the city (a seeded facility's position)."""
    lon, lat = seeded(database_url, "SELECT ST_X(geom), ST_Y(geom) FROM facilities "
                      "ORDER BY id OFFSET %s LIMIT 1", offset)  # fmt: skip
    return float(lon), float(lat)


def public_case(database_url: str, public_id: str) -> tuple[Any, ...]:
    """The case's row in ``cases_public`` (status, reported_at, lon, lat), as every public
    output must show it."""
    found = seeded(database_url, "SELECT status, reported_at, ST_X(geom), ST_Y(geom) "
                   "FROM cases_public WHERE public_id = %s", public_id)  # fmt: skip
    return tuple(found)
