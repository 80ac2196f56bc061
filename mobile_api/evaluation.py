"""``GET /api/v1/evaluation``: the evaluation figures (考核) of the caller's jurisdiction as JSON,
CSV or an Excel workbook (XLSX) — the table GraphQL ``evaluation`` answers, for the offices
that file it (docs/evaluation.md)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any, Literal

import xlsxwriter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from geo.access import Capability
from geo.queries.evaluation import DIMENSIONS, FIGURES
from geo.services.evaluation import RATES, Period, day_range, figures
from mobile_api.contract import Call, Endpoint, needs

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The table's columns, in order: the key, its name, the counts, the times, the rates.
COLUMNS = ("key", "label", *FIGURES, "mean_handle_minutes", "median_handle_minutes",
           *(name for name, _, _ in RATES))  # fmt: skip


class EvaluationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    group_by: Literal[tuple(DIMENSIONS)]  # type: ignore[valid-type]
    from_: Annotated[date | None, Field(alias="from", description="First day (inclusive)")] = None
    to: Annotated[date | None, Field(description="Last day (inclusive)")] = None
    period: Annotated[
        Literal["day", "week", "month"] | None,
        Field(description="The day, week or month holding `date`"),
    ] = None
    date_: Annotated[date | None, Field(alias="date")] = None
    format: Annotated[Literal["json", "csv", "xlsx"], Field(
        description="json (default), csv, or xlsx (an Excel workbook)")] = "json"  # fmt: skip


class EvaluationRowOut(BaseModel):
    key: str | None = Field(description="The key's id or code; null on the total row")
    label: str | None
    total: bool
    received: int
    resolved: int
    handled_on_time: int
    closed: int
    closed_on_time: int
    overdue: int
    reopened: int
    transferred: int
    returned: int
    rated: int
    satisfied: int
    mean_handle_minutes: float | None
    median_handle_minutes: float | None
    handled_on_time_rate: float | None
    closed_on_time_rate: float | None
    reopened_rate: float | None
    transferred_rate: float | None
    returned_rate: float | None
    satisfaction_rate: float | None


class EvaluationOut(BaseModel):
    group_by: str
    since: datetime
    until: datetime
    rows: list[EvaluationRowOut]


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows([r[c] for c in COLUMNS] for r in rows)
    return ("\ufeff" + buffer.getvalue()).encode()  # a BOM: Excel reads the Chinese names


def _xlsx(rows: list[dict[str, Any]], title: str) -> bytes:
    out = io.BytesIO()
    with xlsxwriter.Workbook(out, {"in_memory": True}) as book:
        sheet = book.add_worksheet("evaluation")
        bold = book.add_format({"bold": True})
        percent = book.add_format({"num_format": "0.0%"})
        sheet.write_row(0, 0, COLUMNS, bold)
        rates = {name for name, _, _ in RATES}
        for n, row in enumerate(rows, start=1):
            for col, name in enumerate(COLUMNS):
                value = row[name] if name != "label" or not row["total"] else title
                if value is None:
                    continue
                sheet.write(n, col, value, percent if name in rates else None)
        sheet.freeze_panes(1, 2)
    return out.getvalue()


async def table(call: Call) -> EvaluationOut | Response:
    args: EvaluationQuery = call.query
    period = None if args.period is None else Period(args.period)
    zone = call.state.zone
    since, until = day_range(zone, args.from_, args.to, period, args.date_)
    async with call.state.pool.connection() as conn:  # a filed table has the median too
        rows = await figures(conn, call.principal, args.group_by, since, until, zone,
                             median=True)  # fmt: skip
    if args.format == "json":
        return EvaluationOut(group_by=args.group_by, since=since, until=until,
                             rows=[EvaluationRowOut.model_validate(r) for r in rows])  # fmt: skip
    last = until.date().toordinal() - 1
    name = f"evaluation-{args.group_by}-{since.date()}-{date.fromordinal(last)}"
    if args.format == "csv":
        body, media = _csv(rows), f"{CSV}; charset=utf-8"
    else:
        body, media = _xlsx(rows, "合计 total"), XLSX
    ext = "csv" if args.format == "csv" else "xlsx"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}.{ext}"',
        "Cache-Control": "no-store"})  # fmt: skip


endpoints = [
    Endpoint("GET", "/evaluation", table, "Evaluation figures (考核) of the caller's "
             "jurisdiction by one dimension over whole days: JSON, CSV or XLSX (docs/"
             "evaluation.md)", "evaluation", needs(Capability.EVALUATE), query=EvaluationQuery,
             response=EvaluationOut, media=(CSV, XLSX), operation_id="getEvaluation"),
]  # fmt: skip
