"""The vector tile cache: in-process by default, shared in Redis when configured, and told of
every change to a feature by PostgreSQL.

**Key.** An entry is one tile (collection, z, x, y) in one *variant*: the caller's data class —
the digest of the view they read, its row filter (their jurisdiction) included, so a public
caller, a city-wide dispatcher and a district's dispatcher never share one — and the filters
they asked for. Two callers share an entry exactly when the same SQL would answer them.

**Invalidation.** Migration 0011's triggers send ``NOTIFY onemap_tile_changes`` with the old and
new positions of every feature a statement writes (cases, facilities, cameras; a case's public
position too); each process's event listener (``server.kernel.events``) hands them to
:meth:`TileCache.changed`, which drops every variant of every tile that draws those points at
every zoom (``geo.queries.tiles.tiles_holding``). A statement that writes more than a hundred
rows drops the layer. A tile read from the database while a change to it commits is not stored
(the generation it started from is checked when storing). While the listener is not connected
nothing is cached, and after it reconnects the cache starts empty: a missed notice never leaves
a stale tile behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import LRUCache
from psycopg.conninfo import conninfo_to_dict

from geo.layers import LayerView
from geo.queries.tiles import Tile, tiles_holding
from server.kernel.events import EventBroker
from server.kernel.settings import Settings

log = logging.getLogger("onemap.ogc.tiles")

CHANNEL = "onemap_tile_changes"
#: A tile read longer ago than this is not stored (the invalidations it may have missed are
#: only remembered this long); far beyond any statement time-out.
KEEP_TOUCHED_S = 300.0
#: Bytes counted per entry beyond its tile (key, ETag, bookkeeping).
ENTRY_OVERHEAD = 200

Coord = tuple[str, int, int, int]  # collection, z, x, y


@dataclass(frozen=True, slots=True)
class Cached:
    data: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class Token:
    """Where a tile's read started: what a store must still find to be allowed."""

    seq: int | str | None
    started: float


def data_class(view: LayerView) -> str:
    """Who may share a cached tile: the same view (columns and row filter, the caller's
    jurisdiction included) reads the same rows."""
    parts = (view.name, view.table, view.columns, view.row_filter, view.internal)
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


class Store(Protocol):
    async def lookup(self, coord: Coord, variant: str) -> tuple[Cached | None, Token]: ...
    async def store(self, coord: Coord, variant: str, cached: Cached, token: Token) -> None: ...
    async def invalidate(self, coords: Iterable[Coord]) -> None: ...
    async def clear(self, collection: str | None = None) -> None: ...
    async def close(self) -> None: ...


class MemoryStore:
    """Least recently used tiles go first, counted in bytes; each entry lives ``ttl_s`` at most."""

    def __init__(self, max_bytes: int, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._lru: LRUCache[Coord, dict[str, tuple[float, Cached]]] = LRUCache(
            max_bytes, getsizeof=_size
        )
        self._seq = 0
        self._touched: dict[Coord, tuple[int, float]] = {}  # coord → (seq, when), oldest first
        self._cleared: dict[str | None, int] = {}  # collection (None: all) → seq of its clear

    async def lookup(self, coord: Coord, variant: str) -> tuple[Cached | None, Token]:
        now = time.monotonic()
        token = Token(self._seq, now)
        found = self._lru.get(coord, {}).get(variant)
        if found is None or now - found[0] > self._ttl:
            return None, token
        return found[1], token

    async def store(self, coord: Coord, variant: str, cached: Cached, token: Token) -> None:
        now = time.monotonic()
        if now - token.started > KEEP_TOUCHED_S:
            return
        assert isinstance(token.seq, int)
        if (
            token.seq != self._seq
            and max(
                self._touched.get(coord, (-1, 0.0))[0],
                self._cleared.get(coord[0], -1),
                self._cleared.get(None, -1),
            )
            > token.seq
        ):
            return  # changed while it was read
        variants = dict(self._lru.pop(coord, {}))
        variants[variant] = (now, cached)
        with contextlib.suppress(ValueError):  # larger than the whole cache: not kept
            self._lru[coord] = variants

    async def invalidate(self, coords: Iterable[Coord]) -> None:
        self._seq += 1
        now = time.monotonic()
        for coord in coords:
            self._lru.pop(coord, None)
            self._touched.pop(coord, None)
            self._touched[coord] = (self._seq, now)
        while self._touched:
            oldest = next(iter(self._touched))
            if now - self._touched[oldest][1] <= KEEP_TOUCHED_S:
                break
            del self._touched[oldest]

    async def clear(self, collection: str | None = None) -> None:
        self._seq += 1
        self._cleared[collection] = self._seq
        if collection is None:
            self._lru.clear()
            return
        for coord in [c for c in self._lru if c[0] == collection]:
            del self._lru[coord]

    async def close(self) -> None:
        self._lru.clear()


def _size(variants: dict[str, tuple[float, Cached]]) -> int:
    return sum(len(c.data) + ENTRY_OVERHEAD for _, c in variants.values())


class TileCache:
    """The cache a tile route asks; ``watch`` feeds it the change notices."""

    def __init__(self, store: Store | None, max_zoom: int) -> None:
        self.store = store
        self.max_zoom = max_zoom
        self.hits = 0
        self.misses = 0
        self._events: EventBroker | None = None
        self._generation = 0
        self._task: asyncio.Task[None] | None = None

    def watch(self, events: EventBroker) -> None:
        """Start listening for changes (in the running loop)."""
        self._events = events
        self._task = asyncio.create_task(self._listen(events), name="onemap-tile-cache")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.store is not None:
            await self.store.close()

    async def _listen(self, events: EventBroker) -> None:
        async for event in events.subscribe(CHANNEL):
            try:
                await self.changed(event)
            except Exception as exc:  # a lost cache must not stop the listener
                log.warning("tile cache invalidation failed: %s", exc)
                await self._drop_all()

    async def _drop_all(self) -> None:
        if self.store is not None:
            with contextlib.suppress(Exception):
                await self.store.clear()

    async def usable(self) -> bool:
        """Cache only while every change is heard: the listener is connected, and the cache
        was emptied since it last (re)connected."""
        events = self._events
        if self.store is None or events is None or not events.live:
            return False
        if events.generation != self._generation:
            if self._generation:
                await self._drop_all()  # notices may have been lost while reconnecting
            self._generation = events.generation
        return True

    async def changed(self, event: dict[str, Any]) -> None:
        """A change notice: ``{"layer": "cases", "points": [[lon, lat], …]}``, or
        ``{"layer": …, "all": true}`` for a statement that wrote many rows."""
        if self.store is None:
            return
        layer = str(event.get("layer", ""))
        if event.get("all") or not isinstance(event.get("points"), list):
            await self.store.clear(layer or None)
            return
        coords = {
            (layer, t.z, t.x, t.y)
            for lon, lat in event["points"]
            for t in tiles_holding(float(lon), float(lat), self.max_zoom)
        }
        await self.store.invalidate(coords)


def coord_of(view: LayerView, tile: Tile) -> Coord:
    return (view.name, tile.z, tile.x, tile.y)


def tile_cache_for(settings: Settings) -> TileCache:
    """The cache the settings ask for: Redis when a URL is given, else in-process (or none)."""
    ogc = settings.ogc
    store: Store | None = None
    if ogc.tile_cache_url:
        from server.ogc.tile_cache_redis import RedisStore  # imports this module

        database = conninfo_to_dict(settings.database.libpq_url).get("dbname", "")
        prefix = f"{ogc.tile_cache_prefix}:{database}"
        store = RedisStore(ogc.tile_cache_url, prefix, ogc.tile_cache_ttl_s)
    elif ogc.tile_cache_mb > 0:
        store = MemoryStore(ogc.tile_cache_mb * 1024 * 1024, ogc.tile_cache_ttl_s)
    return TileCache(store, ogc.tile_max_zoom)
