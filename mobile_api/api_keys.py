"""``/api/v1/admin/api-keys``: departments' API keys for machine clients, for the city's
operators (``manage_api_keys``, docs/open-data.md) — create one (its key is in the answer and
nowhere else), list them, revoke one, and the usage report (数据共享情况通报) as JSON or CSV.

Creating a key takes no ``Idempotency-Key``, unlike the other creating POSTs: the idempotency
store keeps the response to replay it, and the response holds the key, which must never be
stored. A retried creation makes a second key; the first is revoked like any other.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response

from geo import access
from geo.access import Capability
from geo.errors import InvalidInput
from geo.queries import api_keys as q
from geo.queries import fetch
from geo.services import api_keys
from mobile_api.contract import Body, Call, Endpoint, needs

OPERATORS = needs(Capability.MANAGE_API_KEYS)
CSV = "text/csv"
_Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]


class KeyIn(Body):
    department: _Code = Field(description="The department's code (departments.code)")
    name: Annotated[str, Field(min_length=1, max_length=200, description="What it is for")]
    datasets: Annotated[list[_Code], Field(min_length=1, max_length=50,
                        description="The datasets it may read (layer names)")]  # fmt: skip
    expires_at: AwareDatetime | None = Field(default=None, description="When it stops working")
    rate_per_minute: Annotated[int, Field(ge=1, le=api_keys.MAX_RATE)] = api_keys.DEFAULT_RATE


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    department: str
    datasets: list[str]
    state: Literal["active", "expired", "revoked"]
    rate_per_minute: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class CreatedKey(KeyOut):
    key: str = Field(description="The key itself: shown this once, never stored")


class KeyList(BaseModel):
    items: list[KeyOut]


class KeysQuery(BaseModel):
    department: _Code | None = None


class UsageQuery(BaseModel):
    key_id: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None
    department: _Code | None = None
    since: date | None = Field(default=None, description="From this day (UTC)")
    until: date | None = Field(default=None, description="Up to this day, included")
    format: Literal["json", "csv"] = "json"


class UsageOut(BaseModel):
    key_id: int
    key_name: str
    department: str
    day: date
    dataset: str
    requests: int
    rows: int = Field(description="Features served")
    bytes: int = Field(description="Bytes of the response bodies")
    last_at: datetime


class UsageReport(BaseModel):
    items: list[UsageOut]


def _out(k: q.KeyRow) -> dict[str, object]:
    return {
        "id": k.id, "name": k.name, "prefix": k.prefix, "department": k.department,
        "datasets": k.datasets, "state": k.state(datetime.now(UTC)),
        "rate_per_minute": k.rate_per_minute, "created_at": k.created_at,
        "expires_at": k.expires_at, "revoked_at": k.revoked_at, "last_used_at": k.last_used_at,
    }  # fmt: skip


async def create(call: Call) -> CreatedKey:
    body: KeyIn = call.body
    async with call.state.pool.connection() as conn:
        made = await api_keys.create(
            conn, call.principal, department=body.department, name=body.name,
            datasets=list(body.datasets), expires_at=body.expires_at,
            rate_per_minute=body.rate_per_minute, client_addr=call.client_addr,
        )  # fmt: skip
    return CreatedKey.model_validate({**_out(made.row), "key": made.key})


async def listing(call: Call) -> KeyList:
    args: KeysQuery = call.query
    async with call.state.pool.connection() as conn:
        found = await api_keys.listing(conn, call.principal, args.department)
    return KeyList(items=[KeyOut.model_validate(_out(k)) for k in found])


async def revoke(call: Call) -> KeyOut:
    raw = call.param("id")
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise InvalidInput(f"{raw!r} is not an API key id.")
    async with call.state.pool.connection() as conn:
        row = await api_keys.revoke(conn, call.principal, int(raw), call.client_addr)
    return KeyOut.model_validate(_out(row))


async def usage(call: Call) -> UsageReport | Response:
    args: UsageQuery = call.query
    access.manages_api_keys(call.principal)
    async with call.state.pool.connection() as conn:
        rows = await fetch(conn, q.usage(args.key_id, args.department, args.since, args.until))
    items = [UsageOut.model_validate(r, from_attributes=True) for r in rows]
    if args.format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=q.USAGE_COLUMNS)
        writer.writeheader()
        writer.writerows(i.model_dump(mode="json") for i in items)
        return Response(buffer.getvalue(), media_type=f"{CSV}; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="api-key-usage.csv"'})  # fmt: skip
    return UsageReport(items=items)


endpoints = [
    Endpoint("GET", "/admin/api-keys", listing, "Departments' API keys (never a key itself)",
             "open data", OPERATORS, query=KeysQuery, response=KeyList,
             operation_id="listApiKeys"),
    Endpoint("POST", "/admin/api-keys", create, "Create a department's API key granted a set of "
             "datasets; the key is in this answer only (not idempotent: the key is never stored)",
             "open data", OPERATORS, body=KeyIn, status=201, response=CreatedKey,
             operation_id="createApiKey",
             example={"department": "emergency_management", "name": "应急局数据同步 sync",
                      "datasets": ["facilities", "buildings"], "rate_per_minute": 600}),
    Endpoint("POST", "/admin/api-keys/{id}/revoke", revoke, "Revoke an API key (at once)",
             "open data", OPERATORS, response=KeyOut, operation_id="revokeApiKey"),
    Endpoint("GET", "/admin/api-keys/usage", usage, "API keys' usage per day and dataset "
             "(数据共享情况通报): requests, features, bytes, last use; CSV with ?format=csv",
             "open data", OPERATORS, query=UsageQuery, response=UsageReport, media=CSV,
             operation_id="reportApiKeyUsage"),
]  # fmt: skip
