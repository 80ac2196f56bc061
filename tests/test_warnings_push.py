"""Web Push of warnings (issue 16 item 5) through a real push service on 127.0.0.1: it receives
the POSTs, checks the VAPID signature against the key the app publishes, and decrypts the
aes128gcm body with ``http_ece`` using the browser's private key, made here; a 410 answer
removes the subscription."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from server.app import create_app
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings
from server.kernel.warning_settings import WarningSettings
from tests.mobile_helpers import auth, key
from tests.warning_helpers import far_facility, inside_facility, new_user, square, warning_body


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service: ``/ok/<name>`` answers 201, ``/gone/<name>`` 410 (RFC 8030 §7.3)."""

    def __init__(self) -> None:
        self.received: dict[str, tuple[dict[str, str], bytes]] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                service.received[self.path] = (
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                self.send_response(410 if self.path.startswith("/gone/") else 201)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, paths: set[str], seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while not paths <= set(self.received) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert paths <= set(self.received), (paths, set(self.received))


class Browser:
    """A browser's push subscription: its P-256 key pair and auth secret."""

    def __init__(self, service: PushService, path: str) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.path = path
        self.endpoint = service.url + path
        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.keys = {"p256dh": b64(point), "auth": b64(self.auth)}

    def decrypt(self, body: bytes) -> Any:
        plain = http_ece.decrypt(
            body, private_key=self.private, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@pytest.fixture(scope="module")
def push_client(settings: Settings) -> Iterator[TestClient]:
    """The app as a developer runs it: push endpoints on loopback allowed."""
    local = settings.model_copy(update={"warnings": WarningSettings(allow_loopback_push=True)})
    with TestClient(create_app(local), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService()
    service.thread.start()
    try:
        yield service
    finally:
        service.server.shutdown()
        service.server.server_close()


def subscribe(
    client: TestClient, headers: dict[str, str], browser: Browser, lon: float, lat: float
) -> None:
    r = client.post(
        "/api/v1/push-subscriptions",
        headers=headers,
        json={"endpoint": browser.endpoint, "keys": browser.keys, "lon": lon, "lat": lat},
    )
    assert r.status_code == 201, r.text


def deliveries(database_url: str, warning: str, wanted: int) -> list[tuple[Any, ...]]:
    """(endpoint path, outcome, http status) of the message's deliveries, once all are in."""
    deadline = time.monotonic() + 15
    while True:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT d.user_id, d.outcome, d.http_status FROM warning_deliveries d "
                "JOIN warnings w ON w.id = d.warning_id WHERE w.identifier = %s "
                "ORDER BY d.user_id",
                (warning,),
            ).fetchall()
        if len(rows) >= wanted or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_a_warning_is_pushed_encrypted_to_browsers_in_the_area(
    push_client: TestClient,
    push_service: PushService,
    database_url: str,
    tokens: TokenService,
) -> None:
    _, lon, lat = inside_facility(database_url, offset=7)
    _, far_lon, far_lat = far_facility(database_url, lon, lat)
    tag = key()[:8]
    inside, outside, stale = (new_user(database_url, "citizen") for _ in range(3))
    near = Browser(push_service, f"/ok/{tag}-inside")
    far = Browser(push_service, f"/ok/{tag}-outside")
    expired = Browser(push_service, f"/gone/{tag}-stale")
    subscribe(push_client, auth(tokens, inside, "citizen"), near, lon, lat)
    subscribe(push_client, auth(tokens, outside, "citizen"), far, far_lon, far_lat)
    subscribe(push_client, auth(tokens, stale, "citizen"), expired, lon + 0.001, lat)

    officer = auth(tokens, new_user(database_url, "warning_officer"), "warning_officer")
    body = warning_body(square(lon, lat), urgency="Immediate")
    r = push_client.post(
        "/api/v1/warnings", json=body, headers={**officer, "Idempotency-Key": key()}
    )
    assert r.status_code == 201, r.text
    identifier = r.json()["identifier"]

    push_service.wait_for({near.path, expired.path})
    headers, encrypted = push_service.received[near.path]
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high" and int(headers["ttl"]) > 0
    message = near.decrypt(encrypted)
    assert message["identifier"] == identifier
    assert message["headline"]["zh-CN"] == body["texts"]["zh-CN"]["headline"]
    assert message["headline"]["en-US"] == body["texts"]["en-US"]["headline"]
    assert message["severity"] == "Severe"
    assert message["url"] == f"/cap/alerts/{identifier}.xml"

    # VAPID (RFC 8292): signed by the key the app publishes, for this push service
    scheme, _, params = headers["authorization"].partition(" ")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    published = push_client.get("/api/v1/push-subscriptions/key").json()["public_key"]
    assert scheme == "vapid" and fields["k"] == published
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(published))
    claims = jwt.decode(fields["t"], public, algorithms=["ES256"], audience=push_service.url)
    assert claims["sub"].startswith("mailto:")

    assert far.path not in push_service.received  # outside the area: nothing sent

    recorded = deliveries(database_url, identifier, 2)
    assert recorded == sorted([(inside, "delivered", 201), (stale, "gone", 410)])
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT endpoint FROM push_subscriptions WHERE endpoint = ANY(%s)",
            ([near.endpoint, far.endpoint, expired.endpoint],),
        ).fetchall()
    assert {e for (e,) in left} == {near.endpoint, far.endpoint}  # the 410 one is gone

    # the inbox shows it to the citizen in the area (their device's position) only
    mine = push_client.get("/api/v1/warnings", headers=auth(tokens, inside, "citizen")).json()
    assert identifier in {w["identifier"] for w in mine["items"]}
    theirs = push_client.get("/api/v1/warnings", headers=auth(tokens, outside, "citizen")).json()
    assert identifier not in {w["identifier"] for w in theirs["items"]}
