"""The steps a case popup offers come from the server: ``Case.allowedActions`` lists what the
workflow allows from the case's status and the policy lets the caller do, within their
jurisdiction. Held against the workflow itself: every listed step succeeds and every other one
is refused, for each role and status (each attempt rolled back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo import access
from geo.access import Jurisdiction, Principal
from geo.enums import CaseStatus
from geo.errors import OneMapError
from geo.services import collaboration
from geo.services.cases import TRANSITIONS, allowed_actions, transition
from geo.services.identity import jurisdiction_of
from server.gql.types import CaseAction
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation

AConn = psycopg.AsyncConnection[Any]
DETAIL = operation("case_detail")
FLOW = operation("dispatch_flow")
#: Demo accounts (README): dispatcher, department staff, analyst, and the dispatcher of the
#: first district only.
PHONES = {
    "dispatcher": "13800000006",
    "department_staff": "13800000005",
    "analyst": "13800000002",
    "district_dispatcher": "13800000010",
}


def test_the_schema_names_every_step_of_the_workflow() -> None:
    assert [a.value for a in CaseAction] == [*TRANSITIONS, *collaboration.ACTIONS]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AConn]:
    async with (
        await psycopg.AsyncConnection.connect(database_url) as c,
        c.transaction(force_rollback=True),
    ):
        yield c


#: The grid worker of the cell with the most cases (the demo grid worker holds no cell).
BUSIEST_WORKER = (
    "SELECT u.id, u.roles FROM users u JOIN grid_cells g ON g.worker_id = u.id "
    "JOIN cases c ON c.grid_cell_id = g.id GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT 1"
)


async def _principal(conn: AConn, who: str) -> Principal:
    """The principal a log-in would make: the account's roles and stored jurisdiction."""
    if who == "grid_worker":
        row = await (await conn.execute(BUSIEST_WORKER)).fetchone()
    else:
        query = "SELECT id, roles FROM users WHERE phone = %s"
        row = await (await conn.execute(query, [PHONES[who]])).fetchone()
    assert row is not None
    return Principal(row[0], frozenset(row[1]), None, await jurisdiction_of(conn, row[0]))


async def _steps_that_succeed(conn: AConn, actor: Principal, case_id: int, other: int) -> list[str]:
    done = []
    for step in TRANSITIONS:
        try:
            async with conn.transaction(force_rollback=True):
                await transition(conn, case_id, step, actor, note="试", duplicate_of=other)
        except OneMapError:
            continue
        done.append(step)
    return done


@pytest.mark.anyio
@pytest.mark.parametrize("who", ["dispatcher", "department_staff", "grid_worker"])
async def test_allowed_actions_are_exactly_the_steps_the_workflow_accepts(
    conn: AConn, who: str
) -> None:
    actor = await _principal(conn, who)
    scope = access.case_scope(actor, "c")
    checked = 0
    for status in CaseStatus:
        rows = await (
            await conn.execute(
                f"SELECT c.id FROM cases c WHERE c.status = %s AND ({scope}) ORDER BY c.id LIMIT 2",
                [status.value],
            )
        ).fetchall()
        if not rows:
            continue
        other = await (
            await conn.execute(
                "SELECT id FROM cases WHERE status = 'reported' AND id <> %s ORDER BY id LIMIT 1",
                [rows[0][0]],
            )
        ).fetchone()
        assert other is not None
        succeeded = await _steps_that_succeed(conn, actor, rows[0][0], other[0])
        assert allowed_actions(actor, status) == succeeded, (who, status)
        checked += 1
    # The city (and a department) has cases of nearly every status; one cell only a few.
    assert checked >= (1 if who == "grid_worker" else 5), (who, checked)


def _user_id(database_url: str, phone: str) -> tuple[int, list[str]]:
    with psycopg.connect(database_url) as c:
        row = c.execute("SELECT id, roles FROM users WHERE phone = %s", [phone]).fetchone()
    assert row is not None
    return int(row[0]), list(row[1])


async def _jurisdiction(database_url: str, user_id: int) -> Jurisdiction:
    async with await psycopg.AsyncConnection.connect(database_url) as c:
        return await jurisdiction_of(c, user_id)


def _token(tokens: TokenService, database_url: str, who: str) -> str:
    """A token as a log-in would give it: the account's roles and jurisdiction."""
    uid, roles = _user_id(database_url, PHONES[who])
    jurisdiction = asyncio.run(_jurisdiction(database_url, uid))
    return tokens.issue_access(uid, roles, jurisdiction=jurisdiction)


def _post(client: TestClient, token: str | None, body: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/graphql", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _actions(client: TestClient, token: str | None, case_id: str) -> Any:
    doc = "query($id: ID!) { case(id: $id) { status allowedActions } }"
    return _post(client, token, {"query": doc, "variables": {"id": case_id}})


def test_the_case_detail_lists_the_callers_steps(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    dispatcher = _token(tokens, database_url, "dispatcher")
    new = {"category": "garbage_overflow", "lon": 121.4751, "lat": 31.2351, "description": "按钮"}
    created = _post(
        client,
        dispatcher,
        {"query": FLOW, "operationName": "CreateCase", "variables": {"input": new}},
    )
    case_id = created["data"]["createCase"]["case"]["id"]
    detail = _post(client, dispatcher, {"query": DETAIL, "variables": {"id": case_id}})
    assert "errors" not in detail, detail
    assert detail["data"]["case"]["allowedActions"] == [
        "DISPATCH", "REJECT", "MARK_DUPLICATE", "BLOW_WHISTLE", "COMMENT"]  # fmt: skip

    # Anyone without the steps' capabilities, or reading only the public record: none.
    assert _actions(client, None, case_id)["data"]["case"]["allowedActions"] == []
    analyst = _token(tokens, database_url, "analyst")
    assert _actions(client, analyst, case_id)["data"]["case"]["allowedActions"] == []

    # 不予受理, then reopen: the contract's documents, and the steps follow the status.
    rejected = _post(
        client,
        dispatcher,
        {
            "query": FLOW,
            "operationName": "RejectCase",
            "variables": {"id": case_id, "reason": "重复上报"},
        },
    )
    assert rejected["data"]["rejectCase"]["case"]["status"] == "REJECTED"
    assert _actions(client, dispatcher, case_id)["data"]["case"]["allowedActions"] == [
        "REOPEN", "COMMENT"]  # fmt: skip
    reopened = _post(
        client,
        dispatcher,
        {
            "query": FLOW,
            "operationName": "ReopenCase",
            "variables": {"id": case_id, "note": "并非重复"},
        },
    )
    assert reopened["data"]["reopenCase"]["case"]["status"] == "REPORTED"
    missing = _post(
        client,
        dispatcher,
        {"query": FLOW, "operationName": "ReopenCase", "variables": {"id": case_id}},
    )
    assert "note" in missing["errors"][0]["message"]  # required: said before anything runs


def test_a_citizen_reads_their_own_reports_in_full_with_no_steps(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    with psycopg.connect(database_url) as c:
        row = c.execute(
            "SELECT u.id, u.roles FROM cases k JOIN users u ON u.id = k.reporter_id "
            "WHERE u.roles = ARRAY['citizen']::text[] AND k.status = 'reported' LIMIT 1"
        ).fetchone()
    assert row is not None
    token = tokens.issue_access(row[0], list(row[1]))
    doc = "{ myCases(first: 20) { nodes { status description allowedActions } } }"
    answer = _post(client, token, {"query": doc})
    nodes = answer["data"]["myCases"]["nodes"]
    assert nodes and all(n["description"] is not None for n in nodes)  # their own, in full
    assert {"REPORTED"} <= {n["status"] for n in nodes}
    assert all(n["allowedActions"] == [] for n in nodes)  # reporting is not handling


def test_outside_the_jurisdiction_there_is_no_case_and_no_step(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    narrow = _token(tokens, database_url, "district_dispatcher")
    with psycopg.connect(database_url) as c:
        row = c.execute(
            "SELECT c.id FROM cases c JOIN users u ON u.phone = %s WHERE c.status = 'reported' "
            "AND c.district_id <> ALL(u.jurisdiction_ids) ORDER BY c.id LIMIT 1",
            [PHONES["district_dispatcher"]],
        ).fetchone()
    assert row is not None
    answer = _actions(client, narrow, str(row[0]))
    assert answer["data"] is None or answer["data"]["case"] is None
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
