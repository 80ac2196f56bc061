"""Shared by the plotting and replay tests: GraphQL seats with real tokens, an incident made
for the test, counts that show a refusal wrote nothing."""

from __future__ import annotations

from typing import Any

import psycopg
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation
from tests.plan_helpers import FLOOD_NUMBER, user_id

PLOTS = operation("plots")
INCIDENTS = operation("incidents")
PROTOCOL = "graphql-transport-ws"


class Seat:
    """A GraphQL caller with a real access token."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.token = client, token

    def __call__(self, document: str, name: str, **variables: Any) -> dict[str, Any]:
        r = self.client.post("/graphql", json={
            "query": document, "operationName": name, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def data(self, document: str, name: str, **variables: Any) -> Any:
        body = self(document, name, **variables)
        assert not body.get("errors"), body
        return body["data"]


def make_seats(client: TestClient, tokens: TokenService, database_url: str) -> dict[str, Seat]:
    roles = ("dispatcher", "admin", "analyst", "citizen", "camera_viewer", "auditor")
    with psycopg.connect(database_url) as db:
        ids = {r: user_id(db, r) for r in roles}
    return {r: Seat(client, tokens.issue_access(uid, [r])) for r, uid in ids.items()}


def flood_plan(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT id FROM plans WHERE number = %s", (FLOOD_NUMBER,)).fetchone()
    assert row is not None
    return int(row[0])


def activate(seat: Seat, db: psycopg.Connection[Any], lon: float, lat: float,
             level: str = "IV") -> str:  # fmt: skip
    out = seat.data(INCIDENTS, "ActivatePlan", planId=str(flood_plan(db)), level=level,
                    point={"lon": lon, "lat": lat})  # fmt: skip
    return str(out["activatePlan"]["incident"]["id"])


def counts(db: psycopg.Connection[Any]) -> tuple[int, int, int]:
    db.rollback()  # a fresh snapshot
    row = db.execute(
        "SELECT (SELECT count(*) FROM incident_plots), (SELECT count(*) FROM incident_events), "
        "(SELECT coalesce(sum(version), 0) FROM incident_plots)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def square(lon: float, lat: float, d: float = 0.002) -> dict[str, Any]:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}
