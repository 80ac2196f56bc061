"""The replay (复盘) in GraphQL: ``incidentReplay(id, from, to)`` — one ordered timeline of the
incident's events, its warnings, video viewed of its cameras, cases and sensor alarms in its
reach — ``incidentStateAt(id, at)`` (its plots, tasks and level at a moment, for scrubbing) and
``incidentReport(id, format)`` (a printable HTML page or the timeline as CSV, audited). Readers
of incidents (READ_PLANS); each source shows what geo.access lets the reader see."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

import strawberry

from geo import access, errors
from geo.incident_report_format import filename, render_csv, render_html
from geo.queries import incidents as incidents_q
from geo.queries import replay as q
from geo.queries.replay_state import state_at
from geo.services import incident_report
from server.gql.context import Info
from server.gql.inputs import to_id
from server.gql.plots import PlotState
from server.gql.scalars import GeoJSON


@strawberry.type(description="One entry of an incident's replay.")
class ReplayEntry:
    at: datetime
    source: str = strawberry.field(
        description="incident, warning, video, case or sensor: where the entry comes from."
    )
    kind: str = strawberry.field(
        description="activated, task_assigned, level_changed, plot_added, closed …; "
        "warning_issued / _updated / _cancelled; video_view_started / _ended; case_<event>; "
        "alarm_raised / alarm_cleared."
    )
    actor_role: str | None = strawberry.field(description="The actor's role (never who).")
    summary_zh: str
    summary_en: str
    geometry: GeoJSON | None

    @classmethod
    def of(cls, e: q.ReplayEntry) -> ReplayEntry:
        return cls(at=e.at, source=e.source, kind=e.kind, actor_role=e.actor_role,
                   summary_zh=e.summary_zh, summary_en=e.summary_en,
                   geometry=GeoJSON(json.loads(e.geometry)) if e.geometry else None)  # fmt: skip


@strawberry.type(description="A task as it stood at a moment of the replay.")
class TaskState:
    task_id: strawberry.ID
    level: str
    text_zh: str
    text_en: str
    department_id: strawberry.ID
    status: str = strawberry.field(description="pending, accepted, done or refused.")
    note: str | None


@strawberry.type(description="An incident as it stood at a moment, from its timeline.")
class IncidentStateAt:
    at: datetime
    level: str | None = strawberry.field(description="None before the activation.")
    closed: bool
    plots: list[PlotState]
    tasks: list[TaskState]


@strawberry.enum
class ReportFormat(Enum):
    HTML = "html"
    CSV = "csv"


@strawberry.type(description="An incident's report, ready to save or print.")
class IncidentReport:
    filename: str
    media_type: str
    content: str


async def _exists(info: Info, incident_id: int) -> None:
    if not await info.context.fetch(incidents_q.incidents(ids=[incident_id], limit=1)):
        raise errors.NotFound(f"No incident with id {incident_id}.")


@strawberry.type
class ReplayQuery:
    @strawberry.field(description="复盘: everything about an incident on one timeline, oldest "
                      "first, between `from` and `to` (both optional).")  # fmt: skip
    async def incident_replay(
        self, info: Info, id: strawberry.ID,
        since: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        until: Annotated[datetime | None, strawberry.argument(name="to")] = None,
    ) -> list[ReplayEntry]:  # fmt: skip
        principal = access.reads_incident_replay(info.context.require())
        incident_id = to_id(id)
        if since is not None and until is not None and since > until:
            raise errors.InvalidInput("`from` is after `to`.", field="from")
        await _exists(info, incident_id)
        found = await info.context.fetch(
            q.for_reader(principal, incident_id, since=since, until=until)
        )
        return [ReplayEntry.of(e) for e in found]

    @strawberry.field(description="The incident's plots, tasks and level as they stood at `at`.")
    async def incident_state_at(
        self, info: Info, id: strawberry.ID, at: datetime
    ) -> IncidentStateAt:
        access.reads_incident_replay(info.context.require())
        incident_id = to_id(id)
        await _exists(info, incident_id)
        s = await info.context.fetch(state_at(incident_id, at))
        return IncidentStateAt(
            at=s.at, level=s.level, closed=s.closed,
            plots=[PlotState.of(p.plot_id, p.geometry, {"symbol": p.symbol, "label": p.label,
                   "style": p.style, "version": p.version}) for p in s.plots],
            tasks=[TaskState(task_id=strawberry.ID(str(t.task_id)), level=t.level,
                             text_zh=t.text_zh, text_en=t.text_en,
                             department_id=strawberry.ID(str(t.department_id)),
                             status=t.status, note=t.note) for t in s.tasks],
        )  # fmt: skip

    @strawberry.field(description="The incident's report: a self-contained HTML page to print "
                      "(plan, place, times, level history, timeline, tasks, summary) or the "
                      "timeline as CSV. Each read is audited.")  # fmt: skip
    async def incident_report(
        self, info: Info, id: strawberry.ID, format: ReportFormat = ReportFormat.HTML
    ) -> IncidentReport:
        principal = info.context.require()
        incident_id = to_id(id)
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            data = await incident_report.read(conn, principal, incident_id, fmt=format.value)
        name = filename(data, format.value)
        if format is ReportFormat.CSV:
            return IncidentReport(filename=name, media_type="text/csv; charset=utf-8",
                                  content=render_csv(data))  # fmt: skip
        return IncidentReport(filename=name, media_type="text/html; charset=utf-8",
                              content=render_html(data, datetime.now(UTC)))  # fmt: skip
