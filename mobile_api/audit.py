"""``/api/v1/audit``: the audit trail for auditors (``read_audit``), filtered, paged by chain
position (``seq``), or exported as CSV — streamed from a server-side cursor, never built whole.
Every read and every export is itself audited (``audit.read``, ``audit.export``, with the
filters). docs/audit.md describes the rows, the chain and the CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from geo.access import Capability
from geo.errors import InvalidInput
from geo.queries import Query
from geo.queries import audit as q
from geo.services import audit
from mobile_api.contract import Call, Endpoint, needs
from server.kernel import request_class

AUDITORS = needs(Capability.READ_AUDIT)
CSV = "text/csv"

_Text = Annotated[str | None, Field(max_length=200)]


class AuditFilters(BaseModel):
    """The filters (all optional, ANDed). Unknown parameters are refused."""

    actor: Annotated[int | None, Field(ge=1, le=2**63 - 1, description="The acting user's id")] = (
        None
    )
    role: Annotated[str | None, Field(max_length=32, description="The acting role, exactly")] = None
    action: Annotated[str | None, Field(max_length=65, description="An action, exactly "
                      "(camera.view.start) or by prefix (camera.*)")] = None  # fmt: skip
    object_type: Annotated[str | None, Field(max_length=32)] = None
    object_id: _Text = None
    from_: Annotated[str | None, Field(alias="from", max_length=40, description="RFC 3339 "
                     "date-time with an offset; rows at or after it")] = None  # fmt: skip
    to: Annotated[str | None, Field(max_length=40, description="RFC 3339 date-time with an "
                  "offset; rows before it")] = None  # fmt: skip
    client: Annotated[str | None, Field(max_length=49, description="The client's address: an "
                      "IP address or a CIDR block (10.0.0.0/8)")] = None  # fmt: skip

    def parsed(self) -> q.AuditFilter:
        return q.AuditFilter.parse(
            actor=self.actor, role=self.role, action=self.action, object_type=self.object_type,
            object_id=self.object_id, since=self.from_, until=self.to, client=self.client,
        )  # fmt: skip


class AuditQuery(AuditFilters):
    cursor: Annotated[str | None, Field(max_length=100, description="next_cursor of a page")] = None
    limit: Annotated[int, Field(ge=1, le=q.MAX_LIMIT)] = 50
    format: Annotated[Literal["json", "csv"] | None, Field(
        description="csv: every matching row as CSV (as /audit/export); the default is a page "
        "of JSON")] = None  # fmt: skip


class AuditEntry(BaseModel):
    seq: int = Field(description="Position in the hash chain (1, 2, 3 … without gaps)")
    id: int
    at: datetime
    actor_id: int | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str | None
    client_addr: str | None
    detail: dict[str, Any]
    prev_hash: str | None = Field(description="row_hash of the row before (hex)")
    row_hash: str = Field(description="SHA-256 of the row's canonical encoding (hex)")


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = Field(description="The next (older) page; null on the last")


_FILTER_PARAMS = {f.alias or name for name, f in AuditFilters.model_fields.items()}
_LIST_PARAMS = _FILTER_PARAMS | {"cursor", "limit", "format"}


def _only(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(f"Unknown parameter(s) {', '.join(unknown)}; the filters are "
                           f"{', '.join(sorted(_FILTER_PARAMS))}.")  # fmt: skip


def _wants_csv(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt is not None and fmt not in ("json", "csv"):
        raise InvalidInput("format must be json or csv.")
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return CSV in accept and "application/json" not in accept


async def _csv(query: Query[Any], call: Call) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(q.COLUMNS)
    yield buffer.getvalue().encode()
    # An export may read for long: the export class's statement time-out (request_class).
    with request_class.export():
        async with call.state.pool.connection() as conn:
            async for rows in audit.stream(conn, query):
                buffer.seek(0)
                buffer.truncate()
                writer.writerows(q.csv_record(r) for r in rows)
                yield buffer.getvalue().encode()


async def _export(call: Call, where: q.AuditFilter) -> Response:
    async with call.state.pool.connection() as conn:
        query = await audit.start_export(conn, call.principal, where, call.client_addr)
    return StreamingResponse(
        _csv(query, call), media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


async def listing(call: Call) -> AuditPage | Response:
    _only(call.request, _LIST_PARAMS)
    args: AuditQuery = call.query
    where = args.parsed()
    if _wants_csv(call.request):
        if args.cursor is not None:
            raise InvalidInput("cursor pages the JSON list; a CSV export holds every row that "
                               "matches the filters (narrow it with from and to).")  # fmt: skip
        return await _export(call, where)
    async with call.state.pool.connection() as conn:
        found = await audit.read_page(conn, call.principal, where, args.cursor, args.limit,
                                      call.client_addr)  # fmt: skip
    items = [AuditEntry.model_validate({**i, "detail": json.loads(i["detail"])})
             for i in found.items]  # fmt: skip
    return AuditPage(items=items, next_cursor=found.next_cursor)


async def export(call: Call) -> Response:
    _only(call.request, _FILTER_PARAMS)
    args: AuditFilters = call.query
    return await _export(call, args.parsed())


endpoints = [
    Endpoint("GET", "/audit", listing, "The audit trail, newest first, filtered (audited). "
             "CSV instead with ?format=csv or Accept: text/csv (as /audit/export)", "audit",
             AUDITORS, query=AuditQuery, response=AuditPage, media=CSV,
             operation_id="listAuditEntries"),
    Endpoint("GET", "/audit/export", export, "The audit rows that match the filters as CSV, "
             "oldest first, streamed (audited)", "audit", AUDITORS, query=AuditFilters,
             media=CSV, operation_id="exportAuditEntries"),
]  # fmt: skip
