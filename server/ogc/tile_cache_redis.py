"""The shared tile cache in Redis (``ONEMAP_OGC_TILE_CACHE_URL``), for many server processes.

One Redis hash per tile, ``<prefix>:<database>:<collection>:<z>:<x>:<y>``: a field per variant
(the ETag, a newline, the tile) and ``_g``, the tile's generation. A lookup is one ``HMGET``
(the variant and the generation); an invalidation replaces the hash by one holding only the
next generation, so every variant goes at once; a store (a Lua script) writes only if the
generation is still the one its read started from, so a tile read while a change committed is
never kept. Every hash expires ``ttl_s`` after its last store. Redis being unreachable makes a
request uncached, never failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.ogc.tile_cache import Cached, Coord, Token

log = logging.getLogger("onemap.ogc.tiles")

_STORE = """
if (redis.call('HGET', KEYS[1], '_g') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], '_g', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
_INVALIDATE = """
for _, key in ipairs(KEYS) do
  local g = tonumber(redis.call('HGET', key, '_g') or '0') + 1
  redis.call('DEL', key)
  redis.call('HSET', key, '_g', g)
  redis.call('EXPIRE', key, ARGV[1])
end
return #KEYS
"""


class RedisStore:
    def __init__(self, url: str, prefix: str, ttl_s: int) -> None:
        self._redis: Any = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._ttl = ttl_s
        self._store = self._redis.register_script(_STORE)
        self._invalidate = self._redis.register_script(_INVALIDATE)

    def _key(self, coord: Coord) -> str:
        name, z, x, y = coord
        return f"{self._prefix}:{name}:{z}:{x}:{y}"

    async def lookup(self, coord: Coord, variant: str) -> tuple[Cached | None, Token]:
        try:
            raw, gen = await self._redis.hmget(self._key(coord), [variant, "_g"])
        except RedisError as exc:
            log.warning("tile cache (Redis) unavailable: %s", exc)
            return None, Token(None, 0.0)
        token = Token(gen.decode() if gen is not None else "0", 0.0)
        if raw is None:
            return None, token
        etag, _, data = bytes(raw).partition(b"\n")
        return Cached(data, etag.decode()), token

    async def store(self, coord: Coord, variant: str, cached: Cached, token: Token) -> None:
        if token.seq is None:
            return  # the lookup failed: Redis is away
        value = cached.etag.encode() + b"\n" + cached.data
        try:
            await self._store(keys=[self._key(coord)], args=[token.seq, variant, value, self._ttl])
        except RedisError as exc:
            log.warning("tile cache (Redis) unavailable: %s", exc)

    async def invalidate(self, coords: Iterable[Coord]) -> None:
        keys = [self._key(c) for c in coords]
        for i in range(0, len(keys), 500):
            await self._invalidate(keys=keys[i : i + 500], args=[self._ttl])

    async def clear(self, collection: str | None = None) -> None:
        pattern = f"{self._prefix}:{collection}:*" if collection else f"{self._prefix}:*"
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await self._invalidate(keys=batch, args=[self._ttl])
                batch = []
        if batch:
            await self._invalidate(keys=batch, args=[self._ttl])

    async def close(self) -> None:
        await self._redis.aclose()
