"""Staff reads of an application: it shows the applicant's personal data, so the read is
scoped to the reader's department in SQL and audited in the same transaction."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from geo.access import Capability, Principal, require
from geo.errors import NotFound
from geo.queries import fetch
from geo.queries import services as q
from geo.services import audit


async def staff_read(
    conn: AsyncConnection[Any],
    principal: Principal,
    public_id: str,
    action: str,
    client_addr: str | None,
) -> dict[str, Any]:
    """The application as staff see it; NotFound outside the principal's department."""
    require(principal, Capability.HANDLE_APPLICATIONS)
    async with conn.transaction():
        found = await fetch(conn, q.application(public_id, principal))
        if found is None:
            raise NotFound(f"No application {public_id} in your department.")
        await audit.record(
            conn, actor_id=principal.user_id, actor_role=principal.audit_role, action=action,
            object_type="application", object_id=public_id, client_addr=client_addr,
        )  # fmt: skip
    return found[0]
