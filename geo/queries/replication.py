"""Streaming replication's positions: where the primary's WAL ends, how far a hot standby has
replayed it and how old that is (read replicas, docs/scale.md).

LSNs come back as text (``16/B374D848``); :func:`lsn_value` turns one into a number that
compares as PostgreSQL's ``pg_lsn`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from geo.queries import Query, Rows


def lsn_value(text: str) -> int:
    """``'16/B374D848'`` → 0x16_B374D848; ValueError when it is not an LSN."""
    high, sep, low = text.strip().partition("/")
    if not sep or not high or not low or len(high) > 8 or len(low) > 8:
        raise ValueError(f"not an LSN: {text[:40]!r}")
    return (int(high, 16) << 32) | int(low, 16)


def lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def current_lsn() -> Query[int]:
    """The primary's WAL write position now: a write committed before it is at or below it."""
    return Query(
        sql.SQL("SELECT pg_current_wal_lsn()::text"), {}, lambda rows: lsn_value(rows[0][0])
    )


@dataclass(frozen=True, slots=True)
class StandbyStatus:
    in_recovery: bool
    #: How far it has replayed (None on a primary).
    replay_lsn: int | None
    #: Seconds since the last transaction it replayed was committed on the primary (None
    #: before it replayed any).
    replay_age_s: float | None
    paused: bool


def _status(rows: Rows) -> StandbyStatus:
    recovery, lsn, age, paused = rows[0]
    return StandbyStatus(bool(recovery), None if lsn is None else lsn_value(lsn), age, bool(paused))


def standby_status() -> Query[StandbyStatus]:
    """A replica's own view of its replay (asked on the replica)."""
    statement = sql.SQL(
        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
        "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
        "pg_is_in_recovery() AND pg_is_wal_replay_paused()"
    )
    return Query(statement, {}, _status)


def read_mark(user_id: int) -> Query[int | None]:
    """The WAL position a signed-in user's reads must see (their last write's, while it
    holds; None: none), asked on the primary (geo/services/read_marks.py writes it)."""
    statement = sql.SQL("SELECT lsn FROM read_marks WHERE user_id = %(user)s AND until > now()")
    return Query(statement, {"user": user_id}, lambda rows: int(rows[0][0]) if rows else None)
