"""The OGC service: its pools, the city's extents, and one pygeoapi ``API`` per catalogue shape.

pygeoapi's framework-free core (``pygeoapi.api.API`` and the functions of ``pygeoapi.api.*``
returning ``(headers, status, content)``) runs in worker threads (``anyio.to_thread``) so its
synchronous work never blocks the event loop that also carries WebSockets and video. Its
configuration and OpenAPI document are built from OneMap's settings when first needed and
written to the data directory for operators to read.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import psycopg
import yaml
from psycopg import AsyncConnection, Connection
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from starlette.requests import Request
from starlette.responses import Response

from geo.queries import fetch
from geo.queries.ogc_meta import case_times, city_extent
from geo.services.api_key_usage import UsageRecorder
from geo.services.audit import GroupWriter
from server.kernel.db import READ_SESSION_OPTIONS
from server.kernel.events import EventBroker
from server.kernel.health import RECONNECT_TIMEOUT_S, OutageAwarePool
from server.kernel.read_your_writes import reads_of
from server.kernel.replicas import ReadRouter, login_url
from server.kernel.request_class import Checkout
from server.kernel.settings import Settings
from server.ogc import config as cfg
from server.ogc import html, openapi_doc
from server.ogc.access import REQUEST_VIEWS, Catalogue, Shape
from server.ogc.tile_cache import tile_cache_for

with warnings.catch_warnings():
    # pygeoapi 0.24's models use pydantic's class-based config (a deprecation warning at
    # import); import every API module now so no later lazy import trips "warnings as errors".
    warnings.simplefilter("ignore", DeprecationWarning)
    from pygeoapi import api as pygeoapi_api  # type: ignore[import-untyped]
    from pygeoapi.api import itemtypes, tiles  # type: ignore[import-untyped]
    from pygeoapi.openapi import get_oas  # type: ignore[import-untyped]

    pygeoapi_api.all_apis()

from server.ogc import provider

__all__ = ["OgcService", "itemtypes", "pygeoapi_api", "tiles"]

log = logging.getLogger("onemap.ogc")
SESSION_OPTIONS = READ_SESSION_OPTIONS  # server/db.py says why


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """pygeoapi's API() calls logging.basicConfig; OneMap owns logging, so give it a no-op."""
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard is not None:
            root.removeHandler(guard)


class OgcService:
    def __init__(
        self,
        settings: Settings,
        events: EventBroker | None = None,
        reads: ReadRouter | None = None,
    ) -> None:
        self.settings = settings
        #: Read replicas (docs/scale.md): the router's, and a sync pool per replica (same
        #: order) for pygeoapi's provider.
        self.reads = reads
        #: Vector tiles already built, dropped when a feature in them changes (``events``
        #: carries the notices; without it nothing is cached).
        self.tiles = tile_cache_for(settings)
        self._events = events
        db = settings.database
        kwargs = {
            "autocommit": True,
            "connect_timeout": max(1, round(db.connect_timeout_s)),
            "application_name": "onemap-ogc",
            "options": f"-c statement_timeout={db.statement_timeout_ms} {SESSION_OPTIONS}",
        }
        # Each checkout gets the request class's statement time-out (public, user, export).
        checkout = Checkout(db)
        # Outage-aware like the app's pool: checkouts fail fast while the database is down and
        # reconnection is retried within seconds (docs/reliability.md).
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] = OutageAwarePool(
            db.libpq_url, min_size=1, max_size=settings.ogc.pool_size, kwargs=kwargs,
            timeout=db.connect_timeout_s, open=False, name="onemap-ogc", check=checkout,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
        )  # fmt: skip
        self.sync_pool: ConnectionPool[Connection[Any]] = ConnectionPool(
            db.libpq_url, min_size=1, max_size=settings.ogc.sync_pool_size, kwargs=kwargs,
            timeout=db.connect_timeout_s, open=False, name="onemap-ogc-sync",
            check=checkout.sync, reconnect_timeout=RECONNECT_TIMEOUT_S,
        )  # fmt: skip
        self.replica_sync_pools: list[ConnectionPool[Connection[Any]]] = [
            ConnectionPool(
                login_url(url, db.libpq_url), min_size=1, max_size=settings.ogc.sync_pool_size,
                kwargs=kwargs, timeout=db.connect_timeout_s, open=False,
                name=f"onemap-ogc-sync-replica-{i}", check=checkout.sync,
                reconnect_timeout=RECONNECT_TIMEOUT_S,
            )
            for i, url in enumerate(db.replica_urls if reads is not None else [])
        ]  # fmt: skip
        #: Reads of internal views are audited through this (group commit: server/ogc/audit.py).
        self.audit = GroupWriter(self.pool)
        #: What API keys read (docs/open-data.md), written in batches.
        self.usage = UsageRecorder(self.pool.connection, settings.ogc.key_usage_flush_s)
        self.pool_key = uuid.uuid4().hex
        self.extent = [121.40, 31.16, 121.58, 31.32]
        self.times: dict[str, Any] = {}
        self._apis: dict[Shape, Any] = {}
        self._lock = threading.Lock()
        if settings.log.level != "DEBUG":
            # pygeoapi logs every client error (a 400) at ERROR with its stack.
            logging.getLogger("pygeoapi").setLevel(logging.CRITICAL)

    async def open(self) -> None:
        timeout = self.settings.database.connect_timeout_s
        await self.pool.open(wait=True, timeout=timeout)
        await anyio.to_thread.run_sync(lambda: self.sync_pool.open(wait=True, timeout=timeout))
        provider.POOLS[self.pool_key] = self.sync_pool
        for i, replica_pool in enumerate(self.replica_sync_pools):
            replica_pool.open(wait=False)  # a replica down at start is not our outage
            provider.POOLS[self._replica_key(i)] = replica_pool
        if self._events is not None:
            self.tiles.watch(self._events)
        self.usage.start()
        try:
            async with self.pool.connection() as conn:
                extent = await fetch(conn, city_extent())
                if extent is not None:
                    self.extent = list(extent)
                # keyed by table: a collection's temporal extent is that of the table it reads
                for table, (begin, end) in (await fetch(conn, case_times())).items():
                    self.times[table] = cfg.temporal(begin, end)
        except psycopg.Error as exc:  # not migrated yet: /readyz says so; keep the defaults
            log.warning("OGC extents unavailable: %s", exc)

    async def close(self) -> None:
        provider.POOLS.pop(self.pool_key, None)
        for i, replica_pool in enumerate(self.replica_sync_pools):
            provider.POOLS.pop(self._replica_key(i), None)
            await anyio.to_thread.run_sync(replica_pool.close)
        await self.tiles.close()
        await self.usage.close()
        await self.audit.close()
        await self.pool.close()
        await anyio.to_thread.run_sync(self.sync_pool.close)

    def _replica_key(self, index: int) -> str:
        return f"{self.pool_key}:replica:{index}"

    def _read_pool_key(self, request: Request) -> str | None:
        """The provider's pool for this request's reads: a replica's within the lag bound
        (docs/scale.md), or None (the primary's)."""
        reads = reads_of(request.scope)
        replica = reads.replica() if reads is not None else None
        if replica is None or self.reads is None or not self.replica_sync_pools:
            return None
        return self._replica_key(self.reads.replicas.index(replica))

    # --- pygeoapi ------------------------------------------------------------------------

    def config(self, shape: Shape) -> dict[str, Any]:
        config = cfg.pygeoapi_config(self.settings, shape, self.extent, self.times)
        for resource in config["resources"].values():
            for p in resource["providers"]:
                p["data"].update(
                    pool=self.pool_key, count_cap=self.settings.ogc.count_cap,
                    count_budget_ms=self.settings.ogc.count_budget_ms,
                )  # fmt: skip
        return config

    def api(self, shape: Shape) -> Any:
        """The pygeoapi API for a catalogue shape, built once (in a worker thread: it is slow)."""
        with self._lock:
            found = self._apis.get(shape)
            if found is None:
                config = self.config(shape)
                document = openapi_doc.document(get_oas(config), list(config["resources"]))
                self._write(shape, config, document)
                with _quiet_root_logger():
                    found = pygeoapi_api.API(config, document)
                # pygeoapi 0.24's tile-matrix-set pages pass its whole template configuration
                # where the templates' is expected: without this they used its CDN templates.
                found.tpl_config["path"] = config["server"]["templates"]["path"]
                if shape.catalogue_version:  # instances of older catalogues are not used again
                    for old in [s for s in self._apis if s.catalogue_version > 0]:
                        if old.catalogue_version < shape.catalogue_version:
                            del self._apis[old]
                self._apis[shape] = found
            return found

    def _write(self, shape: Shape, config: dict[str, Any], document: dict[str, Any]) -> None:
        """The generated files, for operators (and pygeoapi's own CLI tools)."""
        folder = self.settings.data.dir / "ogc"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"pygeoapi-{shape.key}.yml").write_text(
                yaml.safe_dump(json.loads(json.dumps(config, default=str)), allow_unicode=True)
            )
            (folder / f"openapi-{shape.key}.json").write_text(json.dumps(document))
        except OSError as exc:  # a read-only data dir must not stop the service
            log.warning("could not write the generated OGC files: %s", exc)

    async def call(
        self, request: Request, catalogue: Catalogue, function: Callable[..., Any], *args: Any
    ) -> Response:
        """Run one pygeoapi API function in a worker thread; its answer as a Response.

        The instance is shared by the catalogue's shape; the caller's own views (with their
        jurisdiction) are set in the worker thread itself, where the provider reads them.
        """
        api = await anyio.to_thread.run_sync(self.api, catalogue.shape)
        api_request = await pygeoapi_api.APIRequest.from_starlette(request, api.locales)

        pool_key = self._read_pool_key(request)

        def run() -> Any:
            token = REQUEST_VIEWS.set(catalogue.views)
            pool_token = provider.REQUEST_POOL.set(pool_key)
            try:
                return function(api, api_request, *args)
            finally:
                provider.REQUEST_POOL.reset(pool_token)
                REQUEST_VIEWS.reset(token)

        headers, status, content = await anyio.to_thread.run_sync(run)
        headers.pop("X-Powered-By", None)
        return html.secure(Response(content, status_code=int(status), headers=headers))
