"""GraphQL paging as a live board uses it, over HTTP: keyset cursors that never skip or repeat a
row while cases are created and dispatched between pages, orderBy on the fields a board sorts
by, totalCount, and cursors that only page the order that gave them out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.queries import keyset
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import a_point, auth, key, user_with_role

BOARD = """query($after: String, $order: CaseOrder, $first: Int) {
  cases(statuses: [REPORTED], first: $first, after: $after, orderBy: $order) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id publicId status priority reportedAt dueAt } } }"""
CREATE = """mutation($input: CreateCaseInput!) { createCase(input: $input) {
  ... on CasePayload { case { id } } ... on CaseError { code message } } }"""
DISPATCH = """mutation($id: ID!) { dispatchCase(id: $id) {
  ... on CasePayload { case { id status } } ... on CaseError { code message } } }"""


@pytest.fixture(scope="module")
def dispatcher(tokens: TokenService, database_url: str) -> dict[str, str]:
    return auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")


def _gql(client: TestClient, headers: dict[str, str], doc: str, **variables: Any) -> Any:
    r = client.post("/graphql", json={"query": doc, "variables": variables}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def _reported(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id::text FROM cases WHERE status = 'reported'").fetchall()
    return {r[0] for r in rows}


def _pages(client: TestClient, headers: dict[str, str], order: dict[str, str] | None,
           between: Any = None) -> Iterator[list[dict[str, Any]]]:  # fmt: skip
    after = None
    while True:
        page = _gql(client, headers, BOARD, after=after, order=order, first=15)["cases"]
        yield page["nodes"]
        if between is not None:
            between()
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize(
    "order",
    [None, {"field": "REPORTED_AT", "direction": "DESC"}, {"field": "PRIORITY"},
     {"field": "PUBLIC_ID", "direction": "DESC"}],
    ids=["id", "newest first", "priority", "public id desc"],
)  # fmt: skip
def test_a_live_board_visits_every_case_once_while_cases_come_and_go(
    client: TestClient, dispatcher: dict[str, str], database_url: str,
    order: dict[str, str] | None,
) -> None:  # fmt: skip
    """Between every two pages a case is created and one already shown is dispatched (it
    leaves the board): with offset cursors each departure would push an unseen case onto the
    page already read, and it would never be shown."""
    before = _reported(database_url)
    assert len(before) > 50
    seen: list[str] = []
    left: set[str] = set()
    made: list[str] = []
    lon, lat = a_point(database_url, 3)

    def churn() -> None:
        created = _gql(client, dispatcher, CREATE, input={
            "category": "noise", "lon": lon, "lat": lat, "idempotencyKey": key()})  # fmt: skip
        made.append(created["createCase"]["case"]["id"])
        gone = next(i for i in seen if i not in left and i in before)
        _gql(client, dispatcher, DISPATCH, id=gone)
        left.add(gone)

    for nodes in _pages(client, dispatcher, order, churn):
        seen += [n["id"] for n in nodes]
    assert len(seen) == len(set(seen)), "a case was shown twice"
    # Every case reported before paging began was shown (those dispatched had been, first).
    assert before <= set(seen), f"{len(before - set(seen))} cases were skipped"
    assert left and made


@pytest.mark.parametrize(
    ("order", "key"),
    [({"field": "REPORTED_AT", "direction": "DESC"}, lambda n: n["reportedAt"]),
     ({"field": "PRIORITY"}, lambda n: ["LOW", "NORMAL", "HIGH", "URGENT"].index(n["priority"])),
     ({"field": "DUE_AT"}, lambda n: n["dueAt"] or "9999")],
)  # fmt: skip
def test_boards_sort_by_what_they_ask_for(
    client: TestClient, dispatcher: dict[str, str], order: dict[str, str], key: Any
) -> None:
    nodes = [n for page in _pages(client, dispatcher, order) for n in page]
    values = [key(n) for n in nodes]
    if order.get("direction") == "DESC":
        values = [datetime.fromisoformat(v) for v in values]
        assert values == sorted(values, reverse=True)
    else:
        assert values == sorted(values)
    assert len(nodes) > 50


def test_total_count_is_exact_and_costs_nothing_unless_asked(
    client: TestClient, dispatcher: dict[str, str], database_url: str
) -> None:
    page = _gql(client, dispatcher, BOARD, first=5)["cases"]
    assert page["totalCount"] == len(_reported(database_url))
    anonymous = _gql(client, {}, "{ facilities(categories: [HOSPITAL], first: 1) { totalCount } }")
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM facilities WHERE category = 'hospital'")
        hospitals = row.fetchone()
    assert hospitals is not None and anonymous["facilities"]["totalCount"] == hospitals[0]


@pytest.mark.parametrize(
    ("doc", "message"),
    [("{ cases(orderBy: {field: DUE_AT}) { nodes { id } } }", "needs the full record"),
     ("{ facilities(orderBy: {field: DISTANCE}) { nodes { id } } }", "needs a point"),
     ('{ facilities(after: "eyJ4IjoxfQ") { nodes { id } } }', "not a cursor")],
)  # fmt: skip
def test_orders_the_caller_cannot_use_are_typed_errors(
    client: TestClient, doc: str, message: str
) -> None:
    r = client.post("/graphql", json={"query": doc})
    assert r.status_code == 200
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and message in error["message"]


def test_a_cursor_pages_only_the_order_that_gave_it(
    client: TestClient, dispatcher: dict[str, str]
) -> None:
    first = _gql(client, dispatcher, BOARD, first=3, order={"field": "PRIORITY"})
    cursor = first["cases"]["pageInfo"]["endCursor"]
    variables = {"after": cursor, "order": {"field": "REPORTED_AT"}}
    r = client.post("/graphql", headers=dispatcher, json={"query": BOARD, "variables": variables})
    (error,) = r.json()["errors"]
    assert "PRIORITY:ASC" in error["message"] and "REPORTED_AT:ASC" in error["message"]


@pytest.mark.parametrize(
    ("cursor", "order"),
    [(keyset.cursor("REPORTED_AT:ASC", "garbage", 5), {"field": "REPORTED_AT"}),
     (keyset.cursor("ID:ASC", None, 2**70), None),
     (keyset.cursor("PRIORITY:ASC", "9" * 30, 5), {"field": "PRIORITY"})],
)  # fmt: skip
def test_a_forged_cursor_is_a_typed_error_not_a_500(
    client: TestClient, dispatcher: dict[str, str], cursor: str, order: dict[str, str] | None
) -> None:
    variables = {"after": cursor, "order": order}
    r = client.post("/graphql", headers=dispatcher, json={"query": BOARD, "variables": variables})
    assert r.status_code == 200
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
