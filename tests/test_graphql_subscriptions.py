"""Subscriptions over graphql-transport-ws: authenticated on connect, fed by NOTIFY, and an event
made in one server process reaching a subscriber of another."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from websockets.sync.client import connect

from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import operation
from tests.running_server import running_server

PROTOCOL = "graphql-transport-ws"
CREATE = operation("dispatch_flow")
SUBSCRIBE = operation("case_subscription")


def _create_case(post: Any, token: str, category: str) -> str:
    r = post("/graphql", json={"query": CREATE, "operationName": "CreateCase", "variables": {
        "input": {"category": category, "lon": 121.48, "lat": 31.23}}},
        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    payload = r.json()["data"]["createCase"]
    assert payload["__typename"] == "CasePayload", payload
    return str(payload["case"]["id"])


def test_a_subscriber_gets_events_in_process(client: TestClient, tokens: TokenService) -> None:
    dispatcher = tokens.issue_access(6, ["dispatcher"])
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {dispatcher}"}}
        )
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIBE, "variables": {"statuses": ["REPORTED"]}}})  # fmt: skip
        time.sleep(0.3)
        case_id = _create_case(client.post, dispatcher, "garbage_overflow")
        message = ws.receive_json()
        assert message["type"] == "next", message
        notice = message["payload"]["data"]["caseEvents"]
        assert notice["case"]["id"] == case_id
        assert notice["event"]["eventType"] == "REPORTED"
        assert notice["event"]["actor"]["id"] == "6"
        ws.send_json({"id": "1", "type": "complete"})


def _error_code(message: dict[str, Any]) -> str:
    """The code of a refused subscription (an error raised as the stream starts)."""
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert message["type"] in ("error", "next"), message
    assert "data" not in message["payload"] or message["payload"]["data"] is None
    return str(errors[0]["extensions"]["code"])


def test_sockets_without_a_valid_token_get_no_events(
    client: TestClient, tokens: TokenService
) -> None:
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer junk"}})
        closed = ws.receive()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 4403
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
        assert _error_code(ws.receive_json()) == "UNAUTHENTICATED"
    citizen = tokens.issue_access(9_999, ["citizen"])
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"token": citizen}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
        assert _error_code(ws.receive_json()) == "FORBIDDEN"


@pytest.fixture
def two_servers(database_url: str) -> Iterator[list[str]]:
    with running_server(database_url) as a, running_server(database_url) as b:
        yield [a.removeprefix("http://"), b.removeprefix("http://")]


def test_an_event_made_in_one_process_reaches_a_subscriber_of_another(
    two_servers: list[str], tokens: TokenService
) -> None:
    a, b = two_servers
    dispatcher = tokens.issue_access(6, ["dispatcher"])
    with connect(f"ws://{a}/graphql", subprotocols=[PROTOCOL], open_timeout=10) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init",
                            "payload": {"Authorization": f"Bearer {dispatcher}"}}))  # fmt: skip
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        time.sleep(0.5)
        with httpx.Client(base_url=f"http://{b}") as http:
            case_id = _create_case(http.post, dispatcher, "street_light")
        message = json.loads(ws.recv(timeout=10))
    assert message["type"] == "next"
    assert message["payload"]["data"]["caseEvents"]["case"]["id"] == case_id
