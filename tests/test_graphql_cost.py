"""Every GraphQL operation is priced before it runs (server/gql/cost.py): over the caller's
budget it is refused with the figures and nothing is executed; ``caseStats`` never answers more
buckets than asked for, and never a silently cut list."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from geo.access import CITY
from server.kernel.auth.tokens import TokenService

PAGE = "f{i}: facilities(first: $n) {{ nodes {{ id nameZh category address geometry }} }}"


def _aliases(count: int) -> str:
    return "query($n: Int) { " + " ".join(PAGE.format(i=i) for i in range(count)) + " }"


def _post(client: TestClient, query: str, headers: Any = None, **variables: Any) -> Any:
    r = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_anonymous_alias_storm_is_refused_with_its_price(client: TestClient) -> None:
    body = _post(client, _aliases(30), n=1000)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > error["extensions"]["budget"] == 25_000
    assert "smaller pages" in error["message"]


def test_the_price_follows_the_page_size_asked_for(client: TestClient) -> None:
    """The same document with small pages is within budget and answers."""
    body = _post(client, _aliases(30), n=5)
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["f29"]["nodes"]) == 5


def test_staff_have_a_larger_budget(client: TestClient, tokens: TokenService) -> None:
    analyst = {"Authorization": "Bearer " + tokens.issue_access(9001, ["analyst"],
                                                                jurisdiction=CITY)}  # fmt: skip
    body = _post(client, _aliases(5), analyst, n=900)  # priced 27,135: over 25,000
    assert "errors" not in body, body.get("errors")
    assert len(body["data"]["f4"]["nodes"]) == 900
    assert _post(client, _aliases(5), n=900)["errors"][0]["extensions"]["code"] == (
        "QUERY_TOO_COSTLY"
    )


STATS = """query($limit: Int!) { caseStats(groupBy: [GRID_CELL, CATEGORY, STATUS, DAY],
  limit: $limit) { gridCellId category status day count } }"""


def test_case_stats_refuses_more_buckets_than_asked_for(client: TestClient) -> None:
    body = _post(client, STATS, limit=100)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "More than 100 buckets" in error["message"]


def test_case_stats_answers_within_its_limit(client: TestClient) -> None:
    body = _post(client, "{ caseStats(groupBy: [STATUS]) { status count } }")
    buckets = body["data"]["caseStats"]
    assert 1 <= len(buckets) <= 10
    assert sum(b["count"] for b in buckets) > 0
    too_many = _post(client, STATS, limit=0)["errors"][0]
    assert too_many["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 1 and 10,000" in too_many["message"]


def test_the_full_case_record_is_refused_once_not_per_row(
    client: TestClient, tokens: TokenService
) -> None:
    """A caller whose case view is the public record asking for its text gets one FORBIDDEN
    error up front (not one per row, which made a cheap query expensive to answer)."""
    query = "{ cases(first: 200) { nodes { id address description } } }"
    body = _post(client, query)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "Case.address, Case.description" in error["message"]
    analyst = {"Authorization": "Bearer " + tokens.issue_access(9001, ["analyst"],
                                                                jurisdiction=CITY)}  # fmt: skip
    assert len(_post(client, query, analyst)["errors"]) == 1
    dispatcher = {"Authorization": "Bearer " + tokens.issue_access(9001, ["dispatcher"],
                                                                   jurisdiction=CITY)}  # fmt: skip
    nodes = _post(client, query, dispatcher)["data"]["cases"]["nodes"]
    assert len(nodes) == 200 and all(isinstance(n["description"], str) for n in nodes)
