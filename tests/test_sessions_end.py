"""Live streams last only as long as the right to them: a GraphQL subscription ends, saying why,
when its access token expires, when its log-in session is revoked (logout, refresh-token reuse)
or when the account changes — within seconds, through a real server and a real WebSocket."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from websockets.sync.client import ClientConnection, connect

from server.kernel.auth.tokens import TokenService
from tests.running_server import running_server

PROTOCOL = "graphql-transport-ws"
SUBSCRIBE = "subscription { caseEvents { case { id } event { eventType } } }"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base.replace("http://", "ws://") + "/graphql"


@pytest.fixture
def staff(database_url: str) -> tuple[int, str]:
    """A dispatcher account with a log-in session (a refresh-token family) of its own."""
    family = secrets.token_hex(16)
    phone = "1365" + str(secrets.randbelow(10**7)).zfill(7)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO users (phone, display_name, roles, jurisdiction_scope) "
            "VALUES (%s, '会话测试', '{dispatcher}', 'city') RETURNING id",
            (phone,),
        ).fetchone()
        assert row is not None
        conn.execute("INSERT INTO refresh_families (id, user_id) VALUES (%s, %s)",
                     (family, row[0]))  # fmt: skip
    return int(row[0]), family


@contextmanager
def _subscribe(url: str, token: str) -> Iterator[ClientConnection]:
    with connect(url, subprotocols=[PROTOCOL], open_timeout=10) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init",
                            "payload": {"Authorization": f"Bearer {token}"}}))  # fmt: skip
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        yield ws


def _end(ws: ClientConnection, within_s: float) -> tuple[dict[str, Any], float]:
    """The error that ended the subscription, and how long after the call it came."""
    start = time.monotonic()
    while (left := within_s - (time.monotonic() - start)) > 0:
        message = json.loads(ws.recv(timeout=left))
        payload = message.get("payload")
        errors = payload if message["type"] == "error" else (payload or {}).get("errors")
        if errors:
            return errors[0], time.monotonic() - start
    raise AssertionError(f"the subscription did not end within {within_s} s")


def test_a_subscription_ends_when_its_token_expires(server: str, tokens: TokenService) -> None:
    token = tokens.issue_access(6, ["dispatcher"], ttl_s=3)
    with _subscribe(server, token) as ws:
        error, after = _end(ws, 8)
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "token_expired"}
    assert "refresh it and subscribe again" in error["message"]
    assert after < 5


@pytest.mark.parametrize("reason", ["logout", "reuse"])
def test_a_subscription_ends_when_its_session_is_revoked(
    server: str, tokens: TokenService, staff: tuple[int, str], database_url: str, reason: str
) -> None:
    user, family = staff
    token = tokens.issue_access(user, ["dispatcher"], sid=family)
    with _subscribe(server, token) as ws:
        time.sleep(0.5)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # still streaming
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE refresh_families SET revoked_at = now(), revoked_reason = %s "
                         "WHERE id = %s", (reason, family))  # fmt: skip
        error, after = _end(ws, 5)
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": reason}
    assert after < 3


def test_a_revoked_session_cannot_subscribe(
    server: str, tokens: TokenService, staff: tuple[int, str], database_url: str
) -> None:
    user, family = staff
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE refresh_families SET revoked_at = now(), revoked_reason = 'logout' "
                     "WHERE id = %s", (family,))  # fmt: skip
    with _subscribe(server, tokens.issue_access(user, ["dispatcher"], sid=family)) as ws:
        error, after = _end(ws, 5)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert after < 2


def test_a_subscription_ends_when_the_account_changes(
    server: str, tokens: TokenService, staff: tuple[int, str], database_url: str
) -> None:
    user, family = staff
    with _subscribe(server, tokens.issue_access(user, ["dispatcher"], sid=family)) as ws:
        time.sleep(0.5)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE users SET status = 'disabled' WHERE id = %s", (user,))
        error, after = _end(ws, 5)
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "account_changed"}
    assert after < 3


def test_other_sessions_stream_on(
    server: str, tokens: TokenService, staff: tuple[int, str], database_url: str
) -> None:
    """Revoking one session ends that session's streams only."""
    user, family = staff
    second = secrets.token_hex(16)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO refresh_families (id, user_id) VALUES (%s, %s)", (second, user))
    with _subscribe(server, tokens.issue_access(user, ["dispatcher"], sid=second)) as ws:
        time.sleep(0.5)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE refresh_families SET revoked_at = now(), revoked_reason = "
                         "'logout' WHERE id = %s", (family,))  # fmt: skip
        with pytest.raises(TimeoutError):
            ws.recv(timeout=2)


def test_logging_out_ends_the_sessions_subscriptions(server: str) -> None:
    """Through the real endpoints: the access token a log-in gives names its session, and
    logging out (with the refresh token) ends that session's subscription."""
    base = server.replace("ws://", "http://").removesuffix("/graphql")
    grant = {"grant_type": "password", "phone": "13800000006", "password": "onemap-demo"}
    pair = httpx.post(f"{base}/api/v1/auth/token", json=grant, timeout=10).json()
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert len(claims["sid"]) == 32
    with _subscribe(server, pair["access_token"]) as ws:
        time.sleep(0.5)
        r = httpx.post(f"{base}/api/v1/auth/logout", timeout=10,
                       json={"refresh_token": pair["refresh_token"]})  # fmt: skip
        assert r.status_code == 204
        error, after = _end(ws, 5)
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "logout"}
    assert after < 3
