"""Creating endpoints through ``geo.services.idempotency``: one helper, one behaviour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel
from starlette.responses import JSONResponse

from geo.services import idempotency
from mobile_api.contract import Call

Create = Callable[[AsyncConnection[Any]], Awaitable[BaseModel]]


async def create_once(call: Call, operation: str, payload: Any, create: Create) -> JSONResponse:
    """201 with what ``create`` made, or the stored response of an earlier run of this key."""
    assert call.idempotency_key is not None
    async with call.state.pool.connection() as conn:

        async def run() -> tuple[int, dict[str, Any]]:
            return 201, (await create(conn)).model_dump(mode="json")

        outcome = await idempotency.run_once(
            conn, owner=f"user:{call.user_id}", operation=operation, key=call.idempotency_key,
            print_=idempotency.fingerprint(payload), create=run,
        )  # fmt: skip
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)
