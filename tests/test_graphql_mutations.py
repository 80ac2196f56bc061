"""The case workflow through GraphQL mutations: the documented flow and typed errors."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.access import Jurisdiction
from geo.services.identity import jurisdiction_of
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation

FLOW = operation("dispatch_flow")


def _call(client: TestClient, token: str | None, name: str, variables: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/graphql", json={"query": FLOW, "operationName": name,
                                      "variables": variables}, headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def _jurisdiction(database_url: str, user_id: int) -> Jurisdiction:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await jurisdiction_of(conn, user_id)


@pytest.fixture(scope="module")
def people(database_url: str) -> dict[str, tuple[int, list[str], Jurisdiction]]:
    """Accounts with the jurisdiction their log-in gives: the grid worker is the one of the
    cell the flow reports in; the handler is staff of the department it is routed to."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (roles[1]) roles[1], id, roles FROM users "
            "WHERE phone LIKE '1380000%' ORDER BY roles[1], id"
        ).fetchall()
        worker = conn.execute(
            "SELECT u.id, u.roles FROM grid_cells g JOIN users u ON u.id = g.worker_id WHERE "
            "ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(121.48, 31.23), 4326)) LIMIT 1"
        ).fetchone()
        handler = conn.execute(
            "SELECT u.id, u.roles FROM users u JOIN case_categories c ON c.department_id = "
            "u.department_id WHERE c.code = 'road_damage' AND u.phone LIKE '1381%' LIMIT 1"
        ).fetchone()
    assert handler is not None and worker is not None
    found = {r[0]: (r[1], r[2]) for r in rows}
    found["handler"] = (handler[0], handler[1])
    found["grid_worker"] = (worker[0], worker[1])
    return {k: (uid, roles, asyncio.run(_jurisdiction(database_url, uid)))
            for k, (uid, roles) in found.items()}  # fmt: skip


def _token(tokens: TokenService, people: dict[str, Any], who: str) -> str:
    uid, roles, jurisdiction = people[who]
    return tokens.issue_access(uid, roles, jurisdiction=jurisdiction)


def test_the_dispatch_resolve_close_flow(
    client: TestClient, tokens: TokenService, people: dict[str, Any]
) -> None:
    worker = _token(tokens, people, "grid_worker")
    dispatcher = _token(tokens, people, "dispatcher")
    handler = _token(tokens, people, "handler")
    created = _call(client, worker, "CreateCase", {"input": {
        "category": "road_damage", "lon": 121.48, "lat": 31.23, "description": "路面坑洼",
    }})  # fmt: skip
    assert created["__typename"] == "CasePayload"
    case = created["case"]
    assert case["status"] == "REPORTED"

    dispatched = _call(client, dispatcher, "DispatchCase",
                       {"id": case["id"], "assigneeId": str(people["handler"][0])})  # fmt: skip
    assert dispatched["case"]["status"] == "DISPATCHED"
    assert dispatched["case"]["dueAt"]
    assert _call(client, handler, "StartCase", {"id": case["id"]})["case"]["status"] == (
        "IN_PROGRESS")  # fmt: skip
    resolved = _call(client, handler, "ResolveCase",
                     {"id": case["id"], "note": "已修补", "photoRefs": ["p1.jpg"]})  # fmt: skip
    assert resolved["case"]["resolvedAt"]
    closed = _call(client, dispatcher, "CloseCase", {"id": case["id"], "note": "核查通过"})
    assert closed["case"]["status"] == "CLOSED"

    r = client.post(
        "/graphql",
        json={"query": operation("case_detail"), "variables": {"id": case["id"]}},
        headers={"Authorization": f"Bearer {dispatcher}"},
    )
    events = r.json()["data"]["case"]["events"]
    assert [e["eventType"] for e in events] == [
        "REPORTED", "DISPATCHED", "STARTED", "RESOLVED", "CLOSED"]  # fmt: skip
    assert "照片: p1.jpg" in events[3]["note"]


@pytest.mark.parametrize(
    ("who", "name", "variables", "code"),
    [
        (None, "CreateCase", {"input": {"category": "noise", "lon": 121.48, "lat": 31.23}},
         "UNAUTHENTICATED"),
        ("analyst", "CreateCase", {"input": {"category": "noise", "lon": 121.48, "lat": 31.23}},
         "FORBIDDEN"),
        ("grid_worker", "CreateCase", {"input": {"category": "noise", "lon": 120.0, "lat": 30.0}},
         "OUTSIDE_CITY"),
        ("grid_worker", "CreateCase", {"input": {"category": "dragons", "lon": 121.48,
                                                 "lat": 31.23}}, "INVALID_INPUT"),
        ("dispatcher", "CloseCase", {"id": "999999999"}, "NOT_FOUND"),
        ("dispatcher", "StartCase", {"id": "abc"}, "INVALID_INPUT"),
        ("grid_worker", "DispatchCase", {"id": "1"}, "FORBIDDEN"),
    ],
)  # fmt: skip
def test_failures_are_typed_errors(
    client: TestClient, tokens: TokenService, people: dict[str, Any],
    who: str | None, name: str, variables: dict[str, Any], code: str,
) -> None:  # fmt: skip
    token = _token(tokens, people, who) if who else None
    result = _call(client, token, name, variables)
    assert result["__typename"] == "CaseError"
    assert result["code"] == code
    assert result["message"]


def test_an_illegal_transition_is_a_typed_error(
    client: TestClient, tokens: TokenService, people: dict[str, Any], database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM cases WHERE status = 'closed' LIMIT 1").fetchone()
    assert row is not None
    result = _call(client, _token(tokens, people, "dispatcher"), "DispatchCase",
                   {"id": str(row[0])})  # fmt: skip
    assert result == {"__typename": "CaseError", "code": "ILLEGAL_TRANSITION",
                      "message": result["message"]}  # fmt: skip
    assert "is closed" in result["message"]
