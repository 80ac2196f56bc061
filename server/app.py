"""The application factory: ``create_app(settings)`` assembles OneMap from routes and mounts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from geo.migrate import head_revision
from geo.services import case_facts, sensor_observations
from geo.services.audit import GroupWriter
from mobile_api import api as citizen_api
from server.cap import routes as cap_routes
from server.gql.view import OneMapGraphQL, graphql_routes
from server.kernel import catalogue as catalogue_follow
from server.kernel import health, sweeper
from server.kernel.auth import routes as auth_routes
from server.kernel.auth.api_keys import ApiKeys
from server.kernel.auth.keys import load_keys
from server.kernel.auth.middleware import AuthMiddleware
from server.kernel.auth.tokens import TokenService
from server.kernel.cors import CorsMiddleware, CorsPolicy
from server.kernel.db import make_pool
from server.kernel.errors import EXCEPTION_HANDLERS
from server.kernel.events import EventBroker
from server.kernel.read_your_writes import ReadYourWritesMiddleware
from server.kernel.replicas import ReadRouter
from server.kernel.request_class import RequestClassMiddleware
from server.kernel.settings import Settings
from server.mapview import routes as mapview_routes
from server.ogc import html as ogc_html
from server.ogc.core import OgcService
from server.ogc.open_data import open_app
from server.ogc.routes import ogc_app
from server.reference import routes as reference_routes
from server.sta import lead as sensor_lead
from server.sta import routes as sta_routes
from server.streams import routes as stream_routes
from server.streams.service import StreamService

log = logging.getLogger("onemap.app")


def create_app(settings: Settings) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts."""
    # The server logs in as the app role only (docs/deploy.md): every pool below, the OGC
    # service's and the event listener's included, gets that login, never the owner's.
    settings = settings.model_copy(update={"database": settings.database.for_server()})
    case_facts.configure(settings.clock.rules())  # evaluation facts on the city's calendar
    pool = make_pool(settings.database)
    reads = ReadRouter(settings.database, pool)  # read replicas, if any (docs/scale.md)
    tokens = TokenService(load_keys(settings.auth, settings.data.dir), settings.auth)
    broker = EventBroker(settings.database.app_libpq_url)
    # One relay per camera across processes; the hop between them is keyed off the JWT key.
    streams = StreamService(settings.streams, settings.data.dir, pool, broker,
                            signing_key_material=tokens.keys.private_material())  # fmt: skip
    # its own async + sync pools (OGC session settings); its tile cache hears of changes
    ogc = OgcService(settings, broker, reads)
    sta_audit = GroupWriter(pool)  # reads of internal sensor data (server/sta/audit.py)
    cors = CorsPolicy.of(settings.server)  # which other origins' pages may call us

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=settings.database.connect_timeout_s)
        log.info("database pool open", extra={"max_size": pool.max_size})
        await _observation_partitions(pool, settings.sta.partitions_ahead_months)
        await reads.open()
        await catalogue_follow.load(pool)  # department layers (docs/catalogue.md)
        await ogc.open()
        await streams.start()  # its internal hop listens; camera leases are renewed
        await broker.start()
        catalogue_task = catalogue_follow.start(pool, broker)
        sweeps = sweeper.start(pool, settings)  # supervision (督办): one process at a time
        # MQTT ingest, broker ACLs, observation retention: one process at a time
        sensors_lead = sensor_lead.start(pool, settings, broker)
        try:
            yield
        finally:
            if sweeps is not None:
                sweeps.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeps
            await sensor_lead.stop(sensors_lead)
            await catalogue_follow.stop(catalogue_task)
            await broker.stop()
            await streams.close()  # ends every viewing session: every peer connection closed
            await ogc.close()
            await reads.close()
            await sta_audit.close()
            await pool.close()

    routes: list[BaseRoute] = [
        *health.routes,
        *auth_routes.routes,
        Mount("/api/v1", routes=citizen_api.routes(settings, tokens, pool)),
        citizen_api.open311_mount(settings, tokens, pool),
        Mount("/streams", routes=stream_routes.routes),
        Mount("/ogc/static", app=ogc_html.static_files()),  # the OGC pages' CSS and scripts
        Mount("/ogc", app=ogc_app(ogc)),
        Mount("/open", app=open_app(ogc)),  # the open-data catalogue (docs/open-data.md)
        sta_routes.root_route(pool, sta_audit, settings.sta),  # SensorThings (docs/sensors.md)
        Mount(sta_routes.PREFIX, routes=sta_routes.routes(pool, sta_audit, settings.sta)),
        Mount(cap_routes.PREFIX, routes=cap_routes.routes(settings, pool)),  # CAP warnings feed
        *graphql_routes(OneMapGraphQL(settings, pool, broker, tokens, cors)),
        *reference_routes.routes,  # /docs: the API reference pages
        *mapview_routes.routes,  # `/` and `/mapview`: last, so no other route is shadowed
    ]
    app = Starlette(
        debug=False,
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            # Outermost: preflights are answered before anything else, and every answer to an
            # allowed origin (a 401 included) carries its CORS headers.
            Middleware(CorsMiddleware, policy=cors),
            # A Bearer token, or a department's API key (checked in the database: docs/open-data.md)
            Middleware(AuthMiddleware, tokens=tokens, keys=ApiKeys(pool)),
            # The request's class (public, user) follows the principal: statement time-outs.
            Middleware(RequestClassMiddleware),
            # Reads that tolerate lag go to a replica, but a writer's to the primary after it.
            Middleware(ReadYourWritesMiddleware, router=reads),
        ],
        lifespan=lifespan,
    )
    app.state.cors = cors
    app.state.settings = settings
    app.state.pool = pool
    app.state.reads = reads
    app.state.tokens = tokens
    app.state.streams = streams
    app.state.ogc = ogc
    app.state.migration_head = head_revision()
    app.state.instance = secrets.token_hex(4)  # names this process in /readyz (docs/scale.md)
    return app


async def _observation_partitions(
    pool: AsyncConnectionPool[AsyncConnection[Any]], months_ahead: int
) -> None:
    """Observations' monthly partitions ahead (docs/sensors.md); a database not yet migrated
    is told by /readyz, not by a failed start."""
    try:
        async with pool.connection() as conn:
            made = await sensor_observations.ensure_partitions(conn, months_ahead)
        if made:
            log.info("observation partitions made", extra={"count": made})
    except psycopg.Error as exc:
        log.warning("observation partitions not checked: %s", exc)
