"""Open311 intake: a partner system's service request becomes a case (through the one case
writer, as the server's own work: a partner is no user) plus the partner's extras, together."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo import access
from geo.enums import CasePriority, CaseSource
from geo.params import LonLat
from geo.services.cases import CaseRecord, create_case

_EXTRAS = (
    "INSERT INTO open311_requests (case_id, api_key_id, attributes, media_url) "
    "VALUES (%s, %s, %s, %s)"
)


async def create_request(
    conn: AsyncConnection[Any],
    *,
    key_id: int,
    category: str,
    point: LonLat,
    description: str,
    priority: CasePriority,
    address: str | None,
    attributes: dict[str, Any],
    media_url: str | None,
) -> CaseRecord:
    """The case of a partner's request, in the caller's transaction (the idempotency key's)."""
    case = await create_case(
        conn, actor=access.system(access.Capability.CREATE_CASES), category=category,
        point=point, description=description,
        source=CaseSource.HOTLINE, priority=priority, address=address,
    )  # fmt: skip
    await conn.execute(_EXTRAS, (case.id, key_id, Jsonb(attributes), media_url))
    return case
