"""GET /api/v1/evaluation: the evaluation table as JSON, CSV and an Excel workbook read back by
GDAL (its XLSX driver, through pyogrio) — the same numbers as GraphQL ``evaluation`` — and the
refusals for citizens, anonymous callers and bad input."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pyogrio.raw
import pytest
from starlette.testclient import TestClient

from mobile_api.evaluation import COLUMNS
from server.kernel.auth.tokens import TokenService
from tests.case_helpers import post, staff_token
from tests.gql_helpers import operation

SH = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/evaluation"


@pytest.fixture(scope="module")
def dispatcher(database_url: str, tokens: TokenService) -> str:
    return staff_token(database_url, tokens, "phone LIKE '1380000%' AND roles[1] = 'dispatcher' "
                       "AND jurisdiction_scope = 'city'")  # fmt: skip


def _get(client: TestClient, token: str | None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(URL, params=params, headers=headers)


MONTH = {"group_by": "department", "from": "2026-10-01", "to": "2026-10-31"}


def test_json_is_the_graphql_table(client: TestClient, dispatcher: str) -> None:
    r = _get(client, dispatcher, **MONTH)
    assert r.status_code == 200, r.text
    rest = r.json()["rows"]
    body = post(client, dispatcher, operation("evaluation"), "Evaluation",
                {"groupBy": "DEPARTMENT", "from": "2026-10-01", "to": "2026-10-31"})  # fmt: skip
    gql = body["data"]["evaluation"]["rows"]
    ours = [(x["key"], x["received"], x["overdue"], x["medianHandleMinutes"]) for x in gql]
    assert ours == [(x["key"], x["received"], x["overdue"], x["median_handle_minutes"])
                    for x in rest]  # fmt: skip
    assert rest[0]["total"] and rest[0]["received"] > 0


def test_csv_and_xlsx_hold_the_same_rows(client: TestClient, dispatcher: str,
                                         tmp_path: Path) -> None:  # fmt: skip
    rows = _get(client, dispatcher, **MONTH).json()["rows"]
    r = _get(client, dispatcher, **MONTH, format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "evaluation-department-2026-10-01-2026-10-31.csv" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS
    assert [int(line[2]) for line in table[1:]] == [x["received"] for x in rows]

    x = _get(client, dispatcher, **MONTH, format="xlsx")
    assert x.status_code == 200
    book = tmp_path / "evaluation.xlsx"
    book.write_bytes(x.content)
    meta, _fids, _geometry, fields = pyogrio.raw.read(book)
    names = list(meta["fields"])
    assert names[:3] == ["key", "label", "received"]
    received = [int(v) for v in fields[names.index("received")]]
    assert received == [x["received"] for x in rows]
    assert str(fields[names.index("label")][0]).startswith("合计")


def test_refusals_and_bad_input(client: TestClient, tokens: TokenService,
                                dispatcher: str, database_url: str) -> None:  # fmt: skip
    assert _get(client, None, **MONTH).status_code == 401
    with psycopg.connect(database_url) as conn:
        citizen = conn.execute("SELECT id FROM users WHERE roles = '{citizen}' LIMIT 1").fetchone()
    assert citizen is not None
    refused = _get(client, tokens.issue_access(citizen[0], ["citizen"]), **MONTH)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    cases = (({**MONTH, "group_by": "planet"}, "group_by"),
             ({**MONTH, "to": "2026-09-01"}, "before"),
             ({"group_by": "category", "period": "week"}, "period and date"))  # fmt: skip
    for params, words in cases:
        bad = _get(client, dispatcher, **params)
        assert bad.status_code in (400, 422), bad.text
        assert words in bad.text
    today = datetime.now(SH).date().isoformat()
    assert _get(client, dispatcher, group_by="worker", period="day", date=today).status_code == 200
