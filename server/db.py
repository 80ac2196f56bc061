"""The psycopg 3 connection pool the app shares (opened and closed by the lifespan)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from server.settings import DatabaseSettings


def make_pool(settings: DatabaseSettings) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """A closed pool; ``await pool.open(wait=True)`` before use."""
    return AsyncConnectionPool(
        settings.libpq_url,
        min_size=settings.pool_min_size,
        max_size=max(settings.pool_max_size, settings.pool_min_size),
        kwargs={
            "autocommit": True,
            "connect_timeout": max(1, round(settings.connect_timeout_s)),
            "application_name": "onemap",
            # UTC sessions: times serialise the same whichever path (Python or SQL) renders them.
            "options": f"-c statement_timeout={settings.statement_timeout_ms} -c timezone=UTC",
        },
        timeout=settings.connect_timeout_s,
        open=False,
        name="onemap",
    )
