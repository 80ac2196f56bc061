"""The psycopg 3 connection pool the app shares (opened and closed by the lifespan)."""

from __future__ import annotations

from server.kernel.health import RECONNECT_TIMEOUT_S, OutageAwarePool
from server.kernel.request_class import Checkout
from server.kernel.settings import DatabaseSettings

#: Session settings for the many short reads the API serves (measured, see docs/ogc.md):
#: a generic plan cannot know a bbox's selectivity (a cached generic plan took 0.8 s where the
#: custom one takes 15 ms); parallel workers and JIT only add cost to many short queries at
#: once; and the GiST indexes sit in memory, so a random page costs about a sequential one
#: (with the default 4 the planner scanned all facilities for a dense tile: 290 ms, not 12 ms).
READ_SESSION_OPTIONS = (
    "-c plan_cache_mode=force_custom_plan -c max_parallel_workers_per_gather=0 -c jit=off "
    "-c random_page_cost=1.1"
)


def make_pool(
    settings: DatabaseSettings, conninfo: str = "", name: str = "onemap"
) -> OutageAwarePool:
    """A closed pool, logged in as the app role (``settings.app_libpq_url``: it may read and
    write rows, never own, truncate or alter; docs/deploy.md); ``await pool.open(wait=True)``
    before use. ``conninfo`` (a read replica's, server/kernel/replicas.py) replaces the URL."""
    return OutageAwarePool(
        conninfo or settings.app_libpq_url,
        min_size=settings.pool_min_size,
        max_size=max(settings.pool_max_size, settings.pool_min_size),
        kwargs={
            "autocommit": True,
            "connect_timeout": max(1, round(settings.connect_timeout_s)),
            "application_name": "onemap",
            # UTC sessions: times serialise the same whichever path (Python or SQL) renders them.
            "options": f"-c statement_timeout={settings.statement_timeout_ms} -c timezone=UTC "
            + READ_SESSION_OPTIONS,
        },
        timeout=settings.connect_timeout_s,
        # A failed reconnection gives up soon, so the next request tries afresh: back within
        # seconds of the server (docs/reliability.md); while it is down, checkouts fail fast.
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        # Each checkout gets its request class's statement time-out (server/kernel/request_class).
        check=Checkout(settings),
        open=False,
        name=name,
    )
