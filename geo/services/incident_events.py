"""An incident's timeline (``incident_events``, append-only): every step of an incident is one
or more events with its actor and time, audited in the hash-chained trail and NOTIFYed on
``onemap_incident_events`` in the caller's transaction, so subscribers in every worker see
it on commit and the replay (issue 16, item 6) reads one timeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from geo.access import Principal
from geo.plan_enums import IncidentEventType
from geo.services import audit

CHANNEL = "onemap_incident_events"


@dataclass(frozen=True)
class NewEvent:
    event_type: IncidentEventType
    level: str | None = None
    from_level: str | None = None
    task_id: int | None = None
    note: str | None = None
    #: A plot event's plot and, as it is after the event, its geometry (GeoJSON) and
    #: {symbol, label, style, version}.
    plot_id: int | None = None
    geometry: str | None = None
    detail: dict[str, Any] | None = None


_INSERT = """
INSERT INTO incident_events (incident_id, event_type, at, actor_id, actor_role, level,
  from_level, task_id, note, plot_id, geom, detail)
SELECT %(incident)s, r.event_type, %(at)s, %(actor)s, %(role)s, r.level, r.from_level,
  r.task_id, r.note, r.plot_id, ST_SetSRID(ST_GeomFromGeoJSON(r.geometry), 4326), r.detail::jsonb
FROM unnest(%(event_type)s::text[], %(level)s::text[], %(from_level)s::text[],
            %(task_id)s::bigint[], %(note)s::text[], %(plot_id)s::bigint[],
            %(geometry)s::text[], %(detail)s::text[])
     WITH ORDINALITY AS r(event_type, level, from_level, task_id, note, plot_id, geometry,
                          detail, n)
ORDER BY r.n
RETURNING id
"""


async def append(
    conn: AsyncConnection[Any], incident_id: int, events: Sequence[NewEvent], actor: Principal,
    at: datetime,
) -> list[int]:  # fmt: skip
    """Append ``events`` of one incident at ``at`` by ``actor``; their ids, in order."""
    if not events:
        return []
    cur = await conn.execute(_INSERT, {
        "incident": incident_id, "at": at, "actor": actor.user_id, "role": actor.audit_role,
        "event_type": [e.event_type.value for e in events], "level": [e.level for e in events],
        "from_level": [e.from_level for e in events], "task_id": [e.task_id for e in events],
        "note": [e.note for e in events], "plot_id": [e.plot_id for e in events],
        "geometry": [e.geometry for e in events],
        "detail": [json.dumps(e.detail) if e.detail is not None else None for e in events],
    })  # fmt: skip
    ids = [int(r[0]) for r in await cur.fetchall()]
    await audit.record_many(conn, [
        audit.Entry(actor.user_id, actor.audit_role, f"incident.{e.event_type.value}", "incident",
                    incident_id, audit.REQUEST_CLIENT.get(),
                    {"event": i, "task": e.task_id, "level": e.level,
                     **({"plot": e.plot_id} if e.plot_id is not None else {})})
        for i, e in zip(ids, events, strict=True)
    ])  # fmt: skip
    # Small payloads (PostgreSQL's limit is 8,000 bytes): subscribers load what they may see.
    for start in range(0, len(ids), 200):
        payload = json.dumps({"incident_id": incident_id, "event_ids": ids[start : start + 200]})
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
    return ids
