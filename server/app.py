"""The application factory: ``create_app(settings)`` assembles OneMap from routes and mounts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from geo.migrate import head_revision
from mobile_api import locate
from server import health
from server.db import make_pool
from server.errors import EXCEPTION_HANDLERS
from server.settings import Settings

log = logging.getLogger("onemap.app")


def create_app(settings: Settings) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts."""
    pool = make_pool(settings.database)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=settings.database.connect_timeout_s)
        log.info("database pool open", extra={"max_size": pool.max_size})
        try:
            yield
        finally:
            await pool.close()

    routes: list[BaseRoute] = [
        *health.routes,
        Mount("/api/v1", routes=[*locate.routes]),
    ]
    app = Starlette(
        debug=False,
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.migration_head = head_revision()
    return app
