"""Whether a log-in session may still stream: checked when a subscription or a video session
starts (later revocations arrive as ``NOTIFY onemap_sessions``, migration 0008)."""

from __future__ import annotations

from psycopg import sql

from geo.queries import Query, Rows

_LIVE = sql.SQL(
    "SELECT f.revoked_at IS NULL AND u.status = 'active' FROM refresh_families f "
    "JOIN users u ON u.id = f.user_id WHERE f.id = %(sid)s AND f.user_id = %(uid)s"
)


def session_live(session_id: str, user_id: int) -> Query[bool]:
    """True while the session is neither revoked nor its account disabled; False for a session
    that does not exist (or is not this user's)."""

    def decode(rows: Rows) -> bool:
        return bool(rows and rows[0][0])

    return Query(_LIVE, {"sid": session_id, "uid": user_id}, decode)
