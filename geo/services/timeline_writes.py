"""Timeline events that change no case status (supervision, escalation), many at once: the same
writes as ``geo.services.cases.append_event`` — the event, its audit row, its NOTIFY on
``onemap_case_events``, the evaluation's facts (of the events that change them) — as one
statement each, so the sweep escalating a thousand cases is a few statements, not thousands.
Run in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from geo.access import Principal
from geo.enums import CaseEventType
from geo.services import audit, case_facts
from geo.services.cases import CHANNEL


@dataclass(frozen=True)
class NewEvent:
    case_id: int
    event_type: CaseEventType
    note: str | None = None
    supervision_id: int | None = None
    escalation_level: str | None = None


_INSERT = """
INSERT INTO case_events (case_id, event_type, actor_id, note, at, supervision_id,
  escalation_level)
SELECT r.case_id, r.event_type, %(actor)s, r.note, %(at)s, r.supervision_id, r.level
FROM unnest(%(case_id)s::bigint[], %(event_type)s::text[], %(note)s::text[],
            %(supervision_id)s::bigint[], %(level)s::text[])
     WITH ORDINALITY AS r(case_id, event_type, note, supervision_id, level, n)
ORDER BY r.n
RETURNING id, case_id, event_type
"""


async def append(
    conn: AsyncConnection[Any], events: Sequence[NewEvent], actor: Principal, at: datetime
) -> list[int]:
    """Append ``events`` at ``at`` by ``actor`` (the system's work: no user); their ids."""
    if not events:
        return []
    cur = await conn.execute(
        _INSERT,
        {
            "actor": actor.user_id,
            "at": at,
            "case_id": [e.case_id for e in events],
            "event_type": [e.event_type.value for e in events],
            "note": [e.note for e in events],
            "supervision_id": [e.supervision_id for e in events],
            "level": [e.escalation_level for e in events],
        },
    )
    written = await cur.fetchall()
    entries = [
        audit.Entry(actor.user_id, actor.audit_role, f"case.{kind}", "case", case_id,
                    audit.REQUEST_CLIENT.get(), {"event": int(event_id), "to_status": None})
        for event_id, case_id, kind in written
    ]  # fmt: skip
    await audit.record_many(conn, entries)
    payloads = [
        json.dumps(
            {"event_id": event_id, "case_id": case_id, "event_type": kind, "to_status": None}
        )
        for event_id, case_id, kind in written
    ]
    await conn.execute("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (CHANNEL, payloads))
    changed = {int(case_id) for _, case_id, kind in written if case_facts.changes_facts(kind, None)}
    if changed:
        await case_facts.refresh(conn, sorted(changed))
    return [int(r[0]) for r in written]
