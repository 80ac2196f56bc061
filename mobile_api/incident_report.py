"""``GET /api/v1/incidents/{id}/report``: an incident's report (复盘报告) for the command centre's
staff (``read_plans``) — a self-contained HTML page a browser opens and prints, or the timeline
as CSV (``?format=csv``). Each read is audited (``incident.report.read``); the content is the
same as GraphQL ``incidentReport`` (docs/emergency.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from geo.access import Capability
from geo.errors import NotFound
from geo.incident_report_format import filename, render_csv, render_html
from geo.services import incident_report
from mobile_api.contract import Call, Endpoint, needs

HTML = "text/html"
CSV = "text/csv"


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["html", "csv"] = "html"


async def report(call: Call) -> Response:
    args: ReportQuery = call.query
    raw = call.param("id")
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise NotFound(f"No incident with id {raw[:40]!r}.")
    async with call.state.pool.connection() as conn:
        data = await incident_report.read(conn, call.principal, int(raw), fmt=args.format)
    name = filename(data, args.format)
    if args.format == "csv":
        body, media, disposition = render_csv(data), f"{CSV}; charset=utf-8", "attachment"
    else:
        body = render_html(data, datetime.now(UTC))
        media, disposition = f"{HTML}; charset=utf-8", "inline"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'{disposition}; filename="{name}"', "Cache-Control": "no-store",
        # The page is printed, never scripted: nothing may run or load in it.
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})  # fmt: skip


endpoints = [
    Endpoint("GET", "/incidents/{id}/report", report, "An incident's report (复盘): a printable "
             "HTML page (plan, place, times, level history, timeline, tasks, summary) or the "
             "timeline as CSV with ?format=csv (audited)", "incidents",
             needs(Capability.READ_PLANS), query=ReportQuery, media=(HTML, CSV),
             operation_id="getIncidentReport"),
]  # fmt: skip
