"""Staff tokens, GraphQL over HTTP and cases constructed at known past instants, for the
tests of case clocks and evaluation."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from starlette.testclient import TestClient

from geo.access import Jurisdiction
from geo.services.identity import jurisdiction_of
from server.kernel.auth.tokens import TokenService

SH = ZoneInfo("Asia/Shanghai")
LON, LAT = 121.48, 31.23


def sh(day: str, clock: str) -> str:
    """An instant in Shanghai as the API writes it (UTC ISO 8601)."""
    local = datetime.combine(datetime.fromisoformat(day).date(), time.fromisoformat(clock), SH)
    return local.astimezone(UTC).isoformat()


def post(client: TestClient, token: str | None, document: str, name: str,
          variables: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/graphql", json={"query": document, "operationName": name,
                                      "variables": variables}, headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def staff_token(database_url: str, tokens: TokenService, where: str, *args: Any) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"SELECT id, roles FROM users WHERE {where} ORDER BY id LIMIT 1", args or None
        ).fetchone()
    assert row is not None

    async def jurisdiction() -> Jurisdiction:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await jurisdiction_of(conn, row[0])

    return tokens.issue_access(row[0], row[1], jurisdiction=asyncio.run(jurisdiction()))


def constructed_case(
    database_url: str, category: str, reported: str, dispatched: str,
    lon: float = LON, lat: float = LAT,
) -> int:  # fmt: skip
    """A case dispatched at a known instant: its row and its timeline written as the service
    would have written them then."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO cases (public_id, category, description, status, source, grid_cell_id, "
            "department_id, reported_at, dispatched_at, due_at, updated_at, geom) "
            "SELECT %(pid)s, %(cat)s::text, '时限测试', 'dispatched', 'grid_worker', g.id, "
            "cc.department_id, %(rep)s::timestamptz, %(dis)s::timestamptz, "
            "%(dis)s::timestamptz + make_interval(hours => cc.time_limit_hours), "
            "%(dis)s::timestamptz, "
            "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) "
            "FROM grid_cells g, case_categories cc WHERE cc.code = %(cat)s "
            "AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)) "
            "RETURNING id",
            {"pid": f"T-{secrets.token_hex(6)}", "cat": category, "rep": reported,
             "dis": dispatched, "lon": lon, "lat": lat},
        ).fetchone()  # fmt: skip
        assert row is not None
        conn.execute(
            "INSERT INTO case_events (case_id, event_type, from_status, to_status, at) VALUES "
            "(%(id)s, 'reported', NULL, 'reported', %(rep)s), "
            "(%(id)s, 'dispatched', 'reported', 'dispatched', %(dis)s)",
            {"id": row[0], "rep": reported, "dis": dispatched},
        )
        return int(row[0])
