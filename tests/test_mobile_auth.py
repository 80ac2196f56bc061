"""Logging in from the outside: one-time codes (rate limits, brute force), staff passwords,
refresh-token rotation with family revocation, logout, /me."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.passwords import hash_password
from server.app import create_app
from server.kernel.auth.derived import secret
from server.kernel.settings import AuthSettings, Settings
from tests.mobile_helpers import unique_phone

OTP = "/api/v1/auth/otp"
TOKEN = "/api/v1/auth/token"  # noqa: S105 - a path
REFRESH = "/api/v1/auth/refresh"


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    """The app with tight OTP limits, seen from its own client address (the limits count per
    address, so other modules' logins do not spend this one's allowance). The back-off after
    wrong passwords starts at 60 s, so no wait runs out while a test is still guessing
    (tests/test_auth_limits.py times the default 1, 2, 4 … s)."""
    tight = settings.model_copy(
        update={
            "auth": AuthSettings(
                otp_per_phone=2, otp_per_client=50, otp_max_attempts=3, login_max_failures=3,
                login_backoff_base_s=60,
            )
        }
    )  # fmt: skip
    with TestClient(create_app(tight), client=("10.55.0.1", 40000)) as c:
        yield c


def _code(caplog: pytest.LogCaptureFixture, phone: str) -> str:
    """The development sender's log line for ``phone`` (masked to its last four digits)."""
    lines = [r.getMessage() for r in caplog.records if r.name == "onemap.otp"]
    found = [m for m in lines if phone[-4:] in m]
    assert found, lines
    match = re.search(r": (\d{6}) ", found[-1])
    assert match is not None
    return match.group(1)


def _login(api: TestClient, caplog: pytest.LogCaptureFixture, phone: str) -> dict[str, object]:
    with caplog.at_level(logging.WARNING, logger="onemap.otp"):
        assert api.post(OTP, json={"phone": phone}).status_code == 202
    r = api.post(TOKEN, json={"grant_type": "otp", "phone": phone, "code": _code(caplog, phone)})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_a_citizen_logs_in_with_a_one_time_code(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    phone = unique_phone()
    pair = _login(api, caplog, phone)
    assert pair["token_type"] == "Bearer" and pair["roles"]  # noqa: S105 == ["citizen"]
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    assert me.json()["phone"] == phone and me.json()["roles"] == ["citizen"]
    # The code was single use.
    code = _code(caplog, phone)
    again = api.post(TOKEN, json={"grant_type": "otp", "phone": phone, "code": code})
    assert again.status_code == 401
    assert again.json()["type"] == "urn:onemap:problem:invalid_code"


def test_codes_are_stored_hashed_and_expire(
    api: TestClient, caplog: pytest.LogCaptureFixture, database_url: str, settings: Settings
) -> None:
    phone = unique_phone()
    with caplog.at_level(logging.WARNING, logger="onemap.otp"):
        api.post(OTP, json={"phone": phone})
    code = _code(caplog, phone)
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored = conn.execute("SELECT code_hash FROM otp_codes WHERE phone = %s", (phone,))
        assert code not in str(stored.fetchall())
        conn.execute("UPDATE otp_codes SET expires_at = %s WHERE phone = %s",
                     (datetime.now(UTC) - timedelta(seconds=1), phone))  # fmt: skip
    r = api.post(TOKEN, json={"grant_type": "otp", "phone": phone, "code": code})
    assert r.status_code == 401
    # The hash is keyed: without the deployment's secret a six-digit code cannot be found.
    assert secret(api.app.state.tokens.keys.private_key, "otp-code") != b""  # type: ignore[attr-defined]


def test_code_requests_are_rate_limited_per_phone_and_per_client(
    api: TestClient, settings: Settings
) -> None:
    phone = unique_phone()
    assert [api.post(OTP, json={"phone": phone}).status_code for _ in range(2)] == [202, 202]
    limited = api.post(OTP, json={"phone": phone})
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert 0 < int(limited.headers["retry-after"]) <= 900
    # Per client address: six codes in the window from one address, whatever the phones
    # (another address, so this module's other logins keep their allowance).
    tight = settings.model_copy(update={"auth": AuthSettings(otp_per_client=6)})
    with TestClient(create_app(tight), client=("10.55.0.2", 40000)) as crowd:
        statuses = [crowd.post(OTP, json={"phone": unique_phone()}).status_code
                    for _ in range(7)]  # fmt: skip
    assert statuses == [202] * 6 + [429]


def test_guessing_codes_is_stopped_with_429(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    phone = unique_phone("1361")
    with caplog.at_level(logging.WARNING, logger="onemap.otp"):
        api.post(OTP, json={"phone": phone})
    real = _code(caplog, phone)
    wrong = [f"{n:06d}" for n in range(1000) if f"{n:06d}" != real][:3]
    statuses = [
        api.post(TOKEN, json={"grant_type": "otp", "phone": phone, "code": c}).status_code
        for c in wrong
    ]
    assert statuses == [401, 401, 401]
    # Locked out now, even with the right code.
    blocked = api.post(TOKEN, json={"grant_type": "otp", "phone": phone, "code": real})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


@pytest.fixture(scope="module")
def staff_phone(database_url: str) -> str:
    phone = unique_phone("1362")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (phone, display_name, roles, password_hash) "
            "VALUES (%s, 'test dispatcher', ARRAY['dispatcher'], %s)",
            (phone, hash_password("correct horse")),
        )
    return phone


def test_staff_log_in_with_a_password_and_guessing_is_limited(
    api: TestClient, staff_phone: str, caplog: pytest.LogCaptureFixture
) -> None:
    ok = api.post(TOKEN, json={"grant_type": "password", "phone": staff_phone,
                               "password": "correct horse"})  # fmt: skip
    assert ok.status_code == 200 and ok.json()["roles"] == ["dispatcher"]
    # A staff phone cannot use the citizens' one-time codes.
    with caplog.at_level(logging.WARNING, logger="onemap.otp"):
        api.post(OTP, json={"phone": staff_phone})
    by_code = api.post(TOKEN, json={"grant_type": "otp", "phone": staff_phone,
                                    "code": _code(caplog, staff_phone)})  # fmt: skip
    assert by_code.status_code == 403
    guesses = [{"grant_type": "password", "phone": staff_phone, "password": f"guess {i}"}
               for i in range(4)]  # fmt: skip
    wrong = [api.post(TOKEN, json=g) for g in guesses]
    assert [r.status_code for r in wrong] == [401, 401, 401, 429]
    # Not a lock: a back-off, the first wait of which this module sets to 60 s.
    assert 0 < int(wrong[3].headers["retry-after"]) <= 60


def test_unknown_phone_and_wrong_password_look_the_same(api: TestClient) -> None:
    r = api.post(TOKEN, json={"grant_type": "password", "phone": unique_phone("1363"),
                              "password": "x"})  # fmt: skip
    assert r.status_code == 401 and r.json()["detail"] == "Wrong phone or password."


def _session_audit(database_url: str, user_id: object) -> list[tuple[str, str | None, str]]:
    """(action, client address, method or reason) of the user's session rows, oldest first."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT action, host(client_addr), coalesce(detail->>'method', detail->>'reason') "
            "FROM audit_log WHERE actor_id = %s AND object_type = 'session' ORDER BY seq",
            (user_id,),
        ).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_refresh_rotates_and_reuse_revokes_the_family(
    api: TestClient, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    first = _login(api, caplog, unique_phone())
    second = api.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    third = api.post(REFRESH, json={"refresh_token": second.json()["refresh_token"]})
    assert third.status_code == 200
    # The first token again: stolen or replayed. The whole family dies.
    reuse = api.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["type"] == "urn:onemap:problem:refresh_token_reused"
    latest = api.post(REFRESH, json={"refresh_token": third.json()["refresh_token"]})
    assert latest.status_code == 401
    assert _session_audit(database_url, first["user_id"]) == [
        ("session.login", "10.55.0.1", "otp"), ("session.revoked", "10.55.0.1", "reuse"),
    ]  # fmt: skip


def test_logout_ends_the_session(
    api: TestClient, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    pair = _login(api, caplog, unique_phone())
    body = {"refresh_token": pair["refresh_token"]}
    for _ in range(2):  # a second logout changes nothing and writes nothing
        assert api.post("/api/v1/auth/logout", json=body).status_code == 204
    assert api.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert _session_audit(database_url, pair["user_id"]) == [
        ("session.login", "10.55.0.1", "otp"), ("session.logout", "10.55.0.1", None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [{}, {"phone": "abc"}, {"phone": "1" * 40}, [], "x",
     {"grant_type": "otp", "phone": "13700000001", "code": "12"},
     {"grant_type": "magic", "phone": "13700000001"}],
)  # fmt: skip
def test_bad_bodies_are_400_problems(api: TestClient, body: object) -> None:
    for path in (OTP, TOKEN):
        r = api.post(path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:onemap:problem:invalid_input"


def test_the_cli_creates_a_staff_account_that_logs_in(api: TestClient, database_url: str) -> None:
    phone = unique_phone("1365")
    onemap = str(Path(sys.executable).with_name("onemap"))
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url}
    args = [onemap, "users", "create", "--phone", phone, "--name", "新调度员", "--role",
            "dispatcher", "--password-stdin"]  # fmt: skip
    done = subprocess.run(args, input="a long passphrase\n", env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    again = subprocess.run(args, input="a long passphrase\n", env=env, capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
    assert again.returncode == 2 and "exists already" in again.stderr
    ok = api.post(TOKEN, json={"grant_type": "password", "phone": phone,
                               "password": "a long passphrase"})  # fmt: skip
    assert ok.status_code == 200 and ok.json()["roles"] == ["dispatcher"]
    with psycopg.connect(database_url) as conn:
        made = conn.execute(
            "SELECT actor_id, detail->'roles', detail->>'via', detail ? 'os_user' FROM audit_log "
            "WHERE action = 'user.create' AND object_id = %s", (str(ok.json()["user_id"]),),
        ).fetchall()  # fmt: skip
    assert made == [(None, ["dispatcher"], "cli", True)]  # one row: the refused repeat wrote none
    assert _session_audit(database_url, ok.json()["user_id"]) == [
        ("session.login", "10.55.0.1", "password"),
    ]  # fmt: skip
    help_ = subprocess.run([onemap, "users", "create", "--help"], capture_output=True, text=True,
                           timeout=60, check=False, env=env)  # fmt: skip
    assert "--password " not in help_.stdout  # never a flag: it would land in shell history
