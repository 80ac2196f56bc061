"""Reads of departments' API keys and their usage (docs/open-data.md). Keys are looked up by
the SHA-256 of what the client sent; the key itself is never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from psycopg import sql

from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A key as an operator sees it (never the key, never its hash)."""

    id: int
    name: str
    prefix: str
    department: str  # the department's code
    department_name: str
    datasets: list[str]
    rate_per_minute: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


_KEYS = """
SELECT k.id, k.name, k.prefix, d.code, d.name_zh, k.datasets, k.rate_per_minute, k.created_at,
       k.expires_at, k.revoked_at, (SELECT max(u.last_at) FROM api_key_usage u
                                    WHERE u.key_id = k.id)
FROM api_keys k JOIN departments d ON d.id = k.department_id
WHERE (%(id)s::int IS NULL OR k.id = %(id)s) AND (%(dept)s::text IS NULL OR d.code = %(dept)s)
ORDER BY k.id
"""


def keys(key_id: int | None = None, department: str | None = None) -> Query[list[KeyRow]]:
    """Every key (or one, or a department's), oldest first."""
    return Query(
        sql.SQL(_KEYS),
        {"id": key_id, "dept": department},
        lambda rows: [
            KeyRow(r[0], r[1], r[2], r[3], r[4], list(r[5]), r[6], r[7], r[8], r[9], r[10])
            for r in rows
        ],
    )


@dataclass(frozen=True, slots=True)
class Presented:
    """What the key a client sent stands for, and whether it is live now."""

    id: int
    datasets: list[str]
    rate_per_minute: int
    expires_at: datetime | None
    revoked_at: datetime | None
    expired: bool


_PRESENTED = sql.SQL(
    "SELECT id, datasets, rate_per_minute, expires_at, revoked_at, "
    "coalesce(expires_at <= now(), false) FROM api_keys WHERE key_hash = %(hash)s"
)


def presented(key_hash: str) -> Query[Presented | None]:
    """The key whose hash is ``key_hash`` (live or not); None when there is none."""

    def decode(rows: Rows) -> Presented | None:
        if not rows:
            return None
        r = rows[0]
        return Presented(int(r[0]), list(r[1]), int(r[2]), r[3], r[4], bool(r[5]))

    return Query(_PRESENTED, {"hash": key_hash}, decode)


@dataclass(frozen=True, slots=True)
class UsageRow:
    key_id: int
    key_name: str
    department: str
    day: date
    dataset: str
    requests: int
    rows: int
    bytes: int
    last_at: datetime


#: The columns of the usage report (CSV header, JSON keys).
USAGE_COLUMNS = ("key_id", "key_name", "department", "day", "dataset", "requests", "rows",
                 "bytes", "last_at")  # fmt: skip

_USAGE = """
SELECT u.key_id, k.name, d.code, u.day, u.dataset, u.requests, u.rows, u.bytes, u.last_at
FROM api_key_usage u JOIN api_keys k ON k.id = u.key_id JOIN departments d ON d.id = k.department_id
WHERE (%(id)s::int IS NULL OR u.key_id = %(id)s)
  AND (%(dept)s::text IS NULL OR d.code = %(dept)s)
  AND (%(since)s::date IS NULL OR u.day >= %(since)s)
  AND (%(until)s::date IS NULL OR u.day <= %(until)s)
ORDER BY u.day, u.key_id, u.dataset
"""


def usage(
    key_id: int | None = None,
    department: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> Query[list[UsageRow]]:
    """The usage per key, day and dataset, by day."""
    params = {"id": key_id, "dept": department, "since": since, "until": until}
    return Query(sql.SQL(_USAGE), params, lambda rows: [UsageRow(*r) for r in rows])
