"""A department's API key on a request (docs/open-data.md): ``X-API-Key: omk_…``,
``Authorization: ApiKey omk_…`` or ``Authorization: Bearer omk_…`` (a bearer credential with
the keys' prefix is a key, not a JWT: what GDAL sends with ``GDAL_HTTP_AUTH=BEARER``). The key
is checked in the database on every request (one indexed read and its per-minute quota,
``geo.services.api_keys``), so a revocation takes effect at once, in every process."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.types import Scope

from geo.access import Principal
from geo.services import api_keys

HEADER = b"x-api-key"
SCHEME = "apikey"


def api_key(scope: Scope) -> str | None:
    """The API key the request carries, if any."""
    for name, value in scope.get("headers", []):
        if name == HEADER and bytes(value).strip():
            return bytes(value).decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, key = bytes(value).decode("latin-1").partition(" ")
            key = key.strip()
            if key and (
                scheme.lower() == SCHEME
                or (scheme.lower() == "bearer" and key.startswith(api_keys.PREFIX))
            ):
                return key
    return None


class ApiKeys:
    """Turns a key into its principal through the app's pool."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self.pool = pool

    async def principal(self, key: str) -> Principal:
        async with self.pool.connection() as conn:
            return await api_keys.principal_of_key(conn, key)
