"""``createCase`` answers the case it committed, and retries are safe: the same idempotency
key, sent again (also while the first request is still running), never makes a second case."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from starlette.testclient import TestClient

from geo.access import Jurisdiction, Scope
from server.kernel.auth.tokens import TokenService

CREATE = """mutation($input: CreateCaseInput!) { createCase(input: $input) {
  __typename ... on CasePayload { case { id publicId status } }
  ... on CaseError { code message } } }"""


def _worker(db: psycopg.Connection[Any], tokens: TokenService) -> tuple[dict[str, str], Any]:
    """A grid worker of one cell (as the login gives it) and a point inside that cell."""
    row = db.execute(
        "SELECT id, worker_id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
        "FROM grid_cells WHERE worker_id IS NOT NULL ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    cell, worker, lon, lat = row
    token = tokens.issue_access(
        int(worker), ["grid_worker"], jurisdiction=Jurisdiction(Scope.GRID_CELLS, (int(cell),))
    )
    return {"Authorization": f"Bearer {token}"}, (float(lon), float(lat))


def _made(db: psycopg.Connection[Any], text: str) -> int:
    row = db.execute("SELECT count(*) FROM cases WHERE description = %s", (text,)).fetchone()
    return int(row[0]) if row else 0


def test_a_grid_worker_gets_the_case_it_made(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any]
) -> None:
    headers, (lon, lat) = _worker(db, tokens)
    text = f"路灯不亮 {uuid.uuid4()}"
    made = {"category": "street_light", "lon": lon, "lat": lat, "description": text}
    body = {"query": CREATE, "variables": {"input": made}}
    r = client.post("/graphql", headers=headers, json=body)
    payload = r.json()["data"]["createCase"]
    assert payload["__typename"] == "CasePayload", payload
    assert payload["case"]["status"] == "REPORTED"
    assert _made(db, text) == 1


def test_retries_with_one_key_make_one_case(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any]
) -> None:
    """Eight concurrent sends of one request (a client retrying after time-outs) and two late
    retries: one case, and every answer that is a case names that one."""
    headers, (lon, lat) = _worker(db, tokens)
    text = f"井盖缺失 {uuid.uuid4()}"
    body = {"query": CREATE, "variables": {"input": {
        "category": "manhole_cover", "lon": lon, "lat": lat, "description": text,
        "idempotencyKey": str(uuid.uuid4())}}}  # fmt: skip

    def send(_: int) -> dict[str, Any]:
        answer: dict[str, Any] = client.post("/graphql", headers=headers, json=body).json()
        return answer["data"]["createCase"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    answers += [send(0), send(0)]
    assert _made(db, text) == 1
    ids = {a["case"]["id"] for a in answers if a["__typename"] == "CasePayload"}
    assert len(ids) == 1, answers
    # Those that raced the first one were told to retry, and the late retries got the case.
    assert all(a["__typename"] == "CasePayload" or a["code"] == "IN_PROGRESS" for a in answers)
    assert answers[-1]["__typename"] == "CasePayload"


def test_a_key_reused_for_another_case_is_refused(
    client: TestClient, tokens: TokenService, db: psycopg.Connection[Any]
) -> None:
    headers, (lon, lat) = _worker(db, tokens)
    key = str(uuid.uuid4())
    for text, want in [("第一件", "CasePayload"), ("另一件", "CaseError")]:
        r = client.post("/graphql", headers=headers, json={"query": CREATE, "variables": {
            "input": {"category": "street_light", "lon": lon, "lat": lat,
                      "description": f"{text} {key}", "idempotencyKey": key}}})  # fmt: skip
        got = r.json()["data"]["createCase"]
        assert got["__typename"] == want, got
    assert got["code"] == "KEY_REUSED"
    assert "different request" in got["message"]
