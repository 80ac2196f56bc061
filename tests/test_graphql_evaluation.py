"""Evaluation (考核) through GraphQL over HTTP with real tokens: figures of constructed cases
with known answers move as docs/evaluation.md says, the drill-down lists exactly the cases
behind a figure, and jurisdictions and capabilities hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.access import Jurisdiction, Scope
from server.kernel.auth.tokens import TokenService
from tests.case_helpers import constructed_case, post, sh, staff_token
from tests.gql_helpers import operation

EVAL = operation("evaluation")
FLOW = operation("dispatch_flow")
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def dispatcher(database_url: str, tokens: TokenService) -> str:
    return staff_token(database_url, tokens, "phone LIKE '1380000%' AND roles[1] = 'dispatcher' "
                       "AND jurisdiction_scope = 'city'")  # fmt: skip


@pytest.fixture(scope="module")
def place(database_url: str) -> dict[str, Any]:
    """A spot in a community where no case was reported today nor in April 2026 (the seed's
    history starts in May): its figures are the constructed cases' alone."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT g.community_id, s.parent_id, ST_X(ST_PointOnSurface(g.geom)), "
            "ST_Y(ST_PointOnSurface(g.geom)) FROM grid_cells g "
            "JOIN admin_areas m ON m.id = g.community_id JOIN admin_areas s ON s.id = m.parent_id "
            "WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.community_id = g.community_id "
            "AND c.reported_at > now() - interval '2 days') ORDER BY g.code DESC LIMIT 1"
        ).fetchone()  # fmt: skip
    assert row is not None
    return {"community": str(row[0]), "district": row[1], "lon": row[2], "lat": row[3]}


def _gql(client: TestClient, token: str | None, name: str, variables: dict[str, Any],
         document: str = EVAL) -> dict[str, Any]:  # fmt: skip
    return post(client, token, document, name, variables)


def _step(client: TestClient, token: str, name: str, **variables: Any) -> dict[str, Any]:
    body = _gql(client, token, name, variables, FLOW)
    result = next(iter(body["data"].values()))
    assert result["__typename"] == "CasePayload", body
    return result["case"]  # type: ignore[no-any-return]


def _row(body: dict[str, Any], key: str) -> dict[str, Any]:
    assert "errors" not in body, body
    rows = {r["key"]: r for r in body["data"]["evaluation"]["rows"]}
    return rows[key]


def _today() -> str:
    return datetime.now(SH).date().isoformat()


def test_todays_figures_of_constructed_cases(
    client: TestClient, dispatcher: str, place: dict[str, Any], database_url: str
) -> None:
    at = {"lon": place["lon"], "lat": place["lat"]}
    ids = []
    for n in range(4):
        case = {"category": _category(database_url), **at, "description": f"考核测试 {n}"}
        made = _gql(client, dispatcher, "CreateCase", {"input": case}, FLOW)
        ids.append(made["data"]["createCase"]["case"]["id"])
    a, b, c, _d = ids
    # a: dispatched, started, resolved, closed (on time); b: resolved then reopened;
    # c: rejected; d: left reported.
    for case in (a, b):
        _step(client, dispatcher, "DispatchCase", id=case)
        _step(client, dispatcher, "StartCase", id=case)
        _step(client, dispatcher, "ResolveCase", id=case, note="已处置")
    _step(client, dispatcher, "CloseCase", id=a)
    _step(client, dispatcher, "ReopenCase", id=b, note="核查不通过")
    _step(client, dispatcher, "RejectCase", id=c, reason="不属于受理范围")

    body = _gql(client, dispatcher, "Evaluation",
                {"groupBy": "COMMUNITY", "period": "DAY", "date": _today()})  # fmt: skip
    row = _row(body, place["community"])
    assert row["label"] and row["total"] is False
    got = {k: row[k] for k in ("received", "resolved", "handledOnTime", "closed",
                               "closedOnTime", "overdue", "reopened", "transferred",
                               "returned", "rated")}  # fmt: skip
    # b's resolution was undone by the reopen: resolved counts a (and b only while resolved).
    assert got == {"received": 4, "resolved": 1, "handledOnTime": 1, "closed": 1,
                   "closedOnTime": 1, "overdue": 0, "reopened": 1, "transferred": 0,
                   "returned": 0, "rated": 0}  # fmt: skip
    assert (row["handledOnTimeRate"], row["closedOnTimeRate"], row["reopenedRate"]) == (
        1.0, 1.0, 0.25)  # fmt: skip
    total = body["data"]["evaluation"]["rows"][0]
    assert total["total"] is True and total["key"] is None
    assert total["received"] >= 4

    # The drill-down lists exactly the cases behind a figure.
    def behind(figure: str) -> list[str]:
        out = _gql(client, dispatcher, "EvaluationCases", {
            "groupBy": "COMMUNITY", "key": place["community"], "figure": figure,
            "period": "DAY", "date": _today()})  # fmt: skip
        assert "errors" not in out, out
        return [x["id"] for x in out["data"]["evaluationCases"]["cases"]]

    assert behind("RECEIVED") == sorted(ids, key=int)
    assert behind("CLOSED") == [a]
    assert behind("REOPENED") == [b]
    # a page of one, then the next
    first = _gql(client, dispatcher, "EvaluationCases", {
        "groupBy": "COMMUNITY", "key": place["community"], "figure": "RECEIVED",
        "period": "DAY", "date": _today(), "first": 1})["data"]["evaluationCases"]  # fmt: skip
    assert [x["id"] for x in first["cases"]] == [min(ids, key=int)]
    assert first["nextAfter"] == min(ids, key=int)


def _category(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT category FROM case_stage_limits WHERE stage = 'handle' "
                           "ORDER BY category LIMIT 1").fetchone()  # fmt: skip
    assert row is not None
    return str(row[0])


def test_a_late_case_counts_as_overdue_on_the_day_its_deadline_passed(
    client: TestClient, dispatcher: str, place: dict[str, Any], database_url: str
) -> None:
    # Dispatched Friday 3 April 2026 17:00 with 8 working hours: 清明 (Monday 6 April) is off,
    # so the limit ran out Tuesday 7 April 17:00. Handled now: late.
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT category FROM case_stage_limits WHERE stage = 'handle' "
            "AND amount = 8 AND unit = 'working_hours' LIMIT 1"
        ).fetchone()
    assert row is not None
    case = str(constructed_case(database_url, row[0], sh("2026-04-03", "15:00"),
                                sh("2026-04-03", "17:00"), place["lon"], place["lat"]))  # fmt: skip
    _step(client, dispatcher, "StartCase", id=case)
    _step(client, dispatcher, "ResolveCase", id=case, note="已处置")

    on = {"groupBy": "COMMUNITY", "period": "DAY", "date": "2026-04-07"}
    row7 = _row(_gql(client, dispatcher, "Evaluation", on), place["community"])
    assert (row7["overdue"], row7["received"], row7["resolved"]) == (1, 0, 0)
    april = {"groupBy": "COMMUNITY", "from": "2026-04-01", "to": "2026-04-30"}
    assert _row(_gql(client, dispatcher, "Evaluation", april), place["community"])["received"] == 1
    today = _row(_gql(client, dispatcher, "Evaluation",
                      {"groupBy": "COMMUNITY", "period": "DAY", "date": _today()}),
                 place["community"])  # fmt: skip
    assert today["resolved"] >= 1 and today["handledOnTime"] < today["resolved"]
    out = _gql(client, dispatcher, "EvaluationCases", {**on, "key": place["community"],
                                                       "figure": "OVERDUE"})  # fmt: skip
    assert [x["id"] for x in out["data"]["evaluationCases"]["cases"]] == [case]


def test_other_jurisdictions_see_nothing_and_citizens_are_refused(
    client: TestClient, tokens: TokenService, database_url: str, place: dict[str, Any]
) -> None:
    april = {"groupBy": "DISTRICT", "from": "2026-04-01", "to": "2026-04-30"}
    with psycopg.connect(database_url) as conn:
        other = conn.execute(
            "SELECT id FROM admin_areas WHERE level = 'district' AND id <> %s ORDER BY code "
            "LIMIT 1", (place["district"],)).fetchone()  # fmt: skip
        citizen = conn.execute("SELECT id FROM users WHERE roles = '{citizen}' LIMIT 1").fetchone()
    assert other is not None and citizen is not None
    district = Jurisdiction(Scope.DISTRICT, (other[0],))
    outsider = tokens.issue_access(_dispatcher_id(database_url), ["dispatcher"],
                                   jurisdiction=district)  # fmt: skip
    rows = _gql(client, outsider, "Evaluation", april)["data"]["evaluation"]["rows"]
    assert str(place["district"]) not in {r["key"] for r in rows}

    citizen_token = tokens.issue_access(citizen[0], ["citizen"])
    refused = _gql(client, citizen_token, "Evaluation", april)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = _gql(client, None, "Evaluation", april)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_bad_ranges_are_typed_errors(client: TestClient, dispatcher: str) -> None:
    for variables, words in (
        ({"groupBy": "CATEGORY", "from": "2026-05-02", "to": "2026-05-01"}, "before"),
        ({"groupBy": "CATEGORY", "period": "WEEK"}, "period and date"),
        ({"groupBy": "CATEGORY", "from": "2016-01-01", "to": "2026-12-31"}, "ten years"),
    ):
        body = _gql(client, dispatcher, "Evaluation", variables)
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert words in error["message"]


def _dispatcher_id(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE roles[1] = 'dispatcher' LIMIT 1").fetchone()
    assert row is not None
    return int(row[0])
