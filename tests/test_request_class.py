"""Statement time-outs by request class: an anonymous caller's statement is cut off after 5 s,
a signed-in user's after 15 s, an export's after 2 min — set on checkout from the request's
class, through the app's own pool, and decided by the principal the auth middleware verified."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.types import Receive, Scope, Send

from geo.access import Principal
from server.kernel.auth.principal import SCOPE_KEY
from server.kernel.db import make_pool
from server.kernel.request_class import (
    CURRENT,
    RequestClass,
    RequestClassMiddleware,
    export,
)
from server.kernel.settings import Settings

pytestmark = pytest.mark.anyio


async def _timeout(pool: Any) -> str:
    async with pool.connection() as conn:
        row = await (await conn.execute("SHOW statement_timeout")).fetchone()
        return str(row[0])


async def test_each_class_gets_its_time_out_on_checkout(settings: Settings) -> None:
    pool = make_pool(settings.database.for_server())
    await pool.open(wait=True)
    try:
        token = CURRENT.set(RequestClass.PUBLIC)
        assert [await _timeout(pool) for _ in range(3)] == ["5s"] * 3
        CURRENT.set(RequestClass.USER)
        assert await _timeout(pool) == "15s"
        with export():
            assert await _timeout(pool) == "2min"
        assert await _timeout(pool) == "15s"
        CURRENT.set(RequestClass.PUBLIC)
        async with pool.connection() as conn:
            with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
                await conn.execute("SELECT pg_sleep(6)")
        CURRENT.reset(token)
    finally:
        await pool.close()


async def test_the_class_follows_the_principal() -> None:
    seen: list[RequestClass] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(CURRENT.get())

    middleware = RequestClassMiddleware(app)
    for principal in (None, Principal(), Principal(user_id=7, roles=frozenset({"citizen"}))):
        scope: dict[str, Any] = {"type": "http"}
        if principal is not None:
            scope[SCOPE_KEY] = principal
        await middleware(scope, None, None)  # type: ignore[arg-type]
    assert seen == [RequestClass.PUBLIC, RequestClass.PUBLIC, RequestClass.USER]
    assert CURRENT.get() is RequestClass.SERVER  # reset after each request
