"""An incident's report (复盘报告): what the printable report shows — the plan, the place and
times, the level history, the timeline as the reader may see it, the tasks with their outcomes
and the summary — read once and audited (``incident.report.read``), since it gathers who did
what. Rendered by geo/incident_report_format.py (HTML, CSV) for GraphQL and the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from geo import access
from geo.access import Principal
from geo.errors import NotFound
from geo.queries import fetch, replay
from geo.queries import incidents as incidents_q
from geo.queries.lookups import by_ids
from geo.queries.plans import VersionRow, version_by_id
from geo.services import audit


@dataclass(frozen=True)
class ReportData:
    incident: incidents_q.IncidentRow
    version: VersionRow
    plan_number: str
    entries: list[replay.ReplayEntry]
    tasks: list[incidents_q.TaskRow]
    departments: dict[int, tuple[str, str]]  # id → (name zh, name en)


async def read(
    conn: AsyncConnection[Any], principal: Principal, incident_id: int, *, fmt: str
) -> ReportData:
    """The report's content for ``principal`` (READ_PLANS), the read audited."""
    access.reads_incident_replay(principal)
    found = await fetch(conn, incidents_q.incidents(ids=[incident_id], limit=1))
    if not found:
        raise NotFound(f"No incident with id {incident_id}.")
    incident = found[0]
    version = await fetch(conn, version_by_id(incident.plan_version_id))
    assert version is not None
    cur = await conn.execute("SELECT number FROM plans WHERE id = %s", (incident.plan_id,))
    row = await cur.fetchone()
    assert row is not None
    entries = await fetch(conn, replay.for_reader(principal, incident_id))
    tasks = await fetch(conn, incidents_q.tasks([incident_id]))
    ids = sorted({t.department_id for t in tasks})
    departments = {
        d[0]: (d[2], d[3]) for d in await fetch(conn, by_ids("department", ids)) if d is not None
    }
    await audit.record(
        conn, actor_id=principal.user_id, actor_role=principal.audit_role,
        action="incident.report.read", object_type="incident", object_id=incident_id,
        client_addr=None, detail={"format": fmt, "entries": len(entries)},
    )  # fmt: skip
    return ReportData(incident, version, str(row[0]), entries, tasks, departments)
