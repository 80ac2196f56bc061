"""The health code (健康码): offline verification with nothing but the JWKS, minimal pairwise
tokens, versioned rules that say which rule fired, audited verification, appeals, history."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from PIL import Image
from starlette.testclient import TestClient

from geo.services.health_code import subject_of
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, key, seeded, unique_phone, user_with_role

CODE = "/api/v1/me/health-code"


def _citizen(database_url: str, tokens: TokenService, n: int) -> tuple[dict[str, str], str]:
    """A seeded citizen of its own for each test (health facts are per person)."""
    phone = f"137{n:08d}"
    uid = int(seeded(database_url, "SELECT id FROM users WHERE phone = %s", phone))
    return auth(tokens, uid, "citizen"), phone


def _create(client: TestClient, path: str, headers: dict[str, str], json: Any) -> Any:
    return client.post(path, headers={**headers, "Idempotency-Key": key()}, json=json)


@pytest.fixture(scope="module")
def officer(database_url: str, tokens: TokenService) -> dict[str, str]:
    return auth(tokens, user_with_role(database_url, "health_officer"), "health_officer")


@pytest.fixture(scope="module")
def verifier(database_url: str, tokens: TokenService) -> dict[str, str]:
    return auth(tokens, user_with_role(database_url, "verifier"), "verifier")


def verify_offline(token: str, jwks: dict[str, Any], audience: str) -> dict[str, Any]:
    """What a verifier's app does with no network and no database: the JWKS and pyjwt."""
    keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys}
    key_ = keys[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key_.key, algorithms=["ES256"], audience=audience,
                                        issuer="onemap")  # fmt: skip
    return claims


def test_the_code_verifies_offline_with_only_the_jwks(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    headers, phone = _citizen(database_url, tokens, 11)
    code = client.get(CODE, headers=headers, params={"qr": "svg,png"})
    assert code.status_code == 200
    body = code.json()
    jwks = client.get("/.well-known/jwks.json").json()
    claims = verify_offline(body["token"], jwks, "onemap-health-code")
    assert set(claims) == {"iss", "aud", "sub", "colour", "rv", "iat", "exp", "jti"}
    assert claims["colour"] == body["colour"] == "green" and claims["rv"] == body["rule_version"]
    assert 0 < claims["exp"] - claims["iat"] <= 300
    # Nothing personal in it: no phone, no name, no user id, no place.
    raw = jwt.decode(body["token"], options={"verify_signature": False})
    uid = seeded(database_url, "SELECT id FROM users WHERE phone = %s", phone)
    assert phone not in str(raw) and claims["sub"] != str(uid)
    # Not an access token: the API refuses it as a Bearer token.
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"}
                      ).status_code == 401  # fmt: skip
    # Tampering is caught offline too.
    head, _, sig = body["token"].split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**raw, "sub": "someone-else"}).encode())
    with pytest.raises(jwt.InvalidSignatureError):
        verify_offline(f"{head}.{forged.decode().rstrip('=')}.{sig}", jwks, "onemap-health-code")
    assert body["qr_svg"].startswith("<svg")
    png = Image.open(io.BytesIO(base64.b64decode(body["qr_png"].split(",", 1)[1])))
    assert png.format == "PNG" and png.size[0] == png.size[1]
    assert "qr_svg" in client.get(CODE, headers=headers).json()  # null unless asked
    assert client.get(CODE, headers=headers).json()["qr_svg"] is None


def test_subjects_are_pairwise_and_stable(
    client: TestClient, database_url: str, tokens: TokenService
) -> None:
    a, _ = _citizen(database_url, tokens, 12)
    b, _ = _citizen(database_url, tokens, 13)

    def sub(h: dict[str, str]) -> str:
        token = client.get(CODE, headers=h).json()["token"]
        return str(jwt.decode(token, options={"verify_signature": False})["sub"])

    assert sub(a) == sub(a) != sub(b)
    secret = b"k" * 32
    assert subject_of(secret, "venues", 1) != subject_of(secret, "transport", 1)


def test_rules_decide_and_say_which_rule_fired(
    client: TestClient, database_url: str, tokens: TokenService, officer: dict[str, str]
) -> None:
    h, phone = _citizen(database_url, tokens, 14)
    assert client.get(CODE, headers=h).json()["rule"]["id"] == "G0"
    declared = client.post("/api/v1/me/declarations", headers={**h, "Idempotency-Key": key()},
                           json={"fever": True, "symptoms": ["cough"]})  # fmt: skip
    assert declared.status_code == 201
    code = client.get(CODE, headers=h).json()
    assert (code["colour"], code["rule"]["id"]) == ("yellow", "Y3")
    assert "declared" in code["reason"]
    now = datetime.now(UTC)
    negative = _create(client, "/api/v1/health/test-results", officer,
                           json={"phone": phone, "result": "negative",
                                 "sampled_at": now.isoformat()})  # fmt: skip
    assert negative.status_code == 201
    assert client.get(CODE, headers=h).json()["colour"] == "green"
    later = (now + timedelta(seconds=1)).isoformat()
    positive = _create(client, "/api/v1/health/test-results", officer,
                       json={"phone": phone, "result": "positive",
                             "sampled_at": later})  # fmt: skip
    assert positive.status_code == 201
    code = client.get(CODE, headers=h).json()
    assert (code["colour"], code["rule"]["id"]) == ("red", "R1")
    rules = client.get("/api/v1/health-codes/rules").json()
    assert rules["version"] == code["rule_version"]
    assert [r["id"] for r in rules["rules"]] == ["A1", "R1", "R2", "Y1", "Y2", "Y3", "G0"]
    history = client.get(f"{CODE}/history", headers=h).json()
    assert [c["rule_id"] for c in history["changes"]][:3] == ["R1", "G0", "Y3"]
    assert seeded(database_url, "SELECT count(*) FROM audit_log WHERE action = "
                  "'health_test.record' AND object_id = (SELECT id::text FROM users "
                  "WHERE phone = %s)", phone) == 2  # fmt: skip


def test_a_check_in_in_a_risk_cell_turns_the_code_red(
    client: TestClient, database_url: str, tokens: TokenService, officer: dict[str, str]
) -> None:
    h, _ = _citizen(database_url, tokens, 15)
    venue, cell = seeded(database_url, "SELECT f.code, g.code FROM facilities f JOIN grid_cells g "
                         "ON g.id = f.grid_cell_id WHERE f.category = 'venue' ORDER BY f.id "
                         "LIMIT 1")  # fmt: skip
    checkin = client.post("/api/v1/me/checkins", headers={**h, "Idempotency-Key": key()},
                          json={"venue_code": venue})  # fmt: skip
    assert checkin.status_code == 201 and checkin.json()["venue"]["code"] == venue
    assert client.get(CODE, headers=h).json()["colour"] == "green"
    risk = {"grid_cell_code": cell, "level": "high",
            "starts_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}  # fmt: skip
    set_ = client.post("/api/v1/health/risk-cells", headers={**officer, "Idempotency-Key": key()},
                       json=risk)  # fmt: skip
    assert set_.status_code == 201
    assert seeded(database_url, "SELECT detail->>'level', detail->>'risk_cell' FROM audit_log "
                  "WHERE action = 'health_risk_cell.set' AND object_id = %s ORDER BY seq DESC "
                  "LIMIT 1", cell) == ("high", str(set_.json()["id"]))  # fmt: skip
    code = client.get(CODE, headers=h).json()
    assert (code["colour"], code["rule"]["id"]) == ("red", "R2")
    assert client.post("/api/v1/me/checkins", headers={**h, "Idempotency-Key": key()},
                       json={"venue_code": "no-such-venue"}).status_code == 404  # fmt: skip


def test_verification_is_audited_and_shows_in_the_holders_history(
    client: TestClient, database_url: str, tokens: TokenService, verifier: dict[str, str]
) -> None:
    h, _ = _citizen(database_url, tokens, 16)
    token = client.get(CODE, headers=h).json()["token"]
    result = client.post("/api/v1/health-codes/verify", headers=verifier, json={"token": token})
    assert result.status_code == 200
    assert result.json()["valid"] is True and result.json()["colour"] == "green"
    assert result.json()["current_colour"] == "green"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert seeded(database_url, "SELECT count(*) FROM audit_log WHERE action = "
                  "'health_code.verify' AND detail->>'jti' = %s", claims["jti"]) == 1  # fmt: skip
    history = client.get(f"{CODE}/history", headers=h).json()
    assert history["verifications"][0]["verifier"] == "演示verifier"
    assert history["verifications"][0]["valid"] is True
    # A citizen cannot verify; a forged or stale token is reported invalid, and audited too.
    assert client.post("/api/v1/health-codes/verify", headers=h,
                       json={"token": token}).status_code == 403  # fmt: skip
    expired = jwt.encode({**claims, "iat": claims["iat"] - 600, "exp": claims["iat"] - 300},
                         tokens.keys.private_key, algorithm="ES256",
                         headers={"kid": tokens.keys.kid})  # fmt: skip
    stale = client.post("/api/v1/health-codes/verify", headers=verifier, json={"token": expired})
    assert stale.json()["valid"] is False and stale.json()["reason"] == "expired"
    junk = client.post("/api/v1/health-codes/verify", headers=verifier, json={"token": "a.b.c"})
    assert junk.status_code == 200 and junk.json()["valid"] is False


def test_an_upheld_appeal_corrects_the_code(
    client: TestClient, database_url: str, tokens: TokenService, officer: dict[str, str]
) -> None:
    h, phone = _citizen(database_url, tokens, 17)
    _create(client, "/api/v1/health/test-results", officer,
                json={"phone": phone, "result": "positive",
                      "sampled_at": datetime.now(UTC).isoformat()})  # fmt: skip
    assert client.get(CODE, headers=h).json()["colour"] == "red"
    appeal = client.post(f"{CODE}/appeals", headers={**h, "Idempotency-Key": key()},
                         json={"reason": "样本被混淆，我在外地"})  # fmt: skip
    assert appeal.status_code == 201
    again = client.post(f"{CODE}/appeals", headers={**h, "Idempotency-Key": key()},
                        json={"reason": "再次申诉"})  # fmt: skip
    assert again.status_code == 409  # one open appeal at a time
    listed = client.get("/api/v1/health/appeals", headers=officer).json()["items"]
    assert appeal.json()["id"] in [a["id"] for a in listed]
    decided = client.post(f"/api/v1/health/appeals/{appeal.json()['id']}/decision",
                          headers=officer,
                          json={"decision": "upheld", "note": "复核为错检",
                                "corrected_colour": "green", "override_hours": 48})  # fmt: skip
    assert decided.status_code == 200 and decided.json()["status"] == "upheld"
    code = client.get(CODE, headers=h).json()
    assert (code["colour"], code["rule"]["id"]) == ("green", "A1")
    mine = client.get(f"{CODE}/appeals", headers=h).json()["items"]
    assert mine[0]["status"] == "upheld" and mine[0]["decision_note"] == "复核为错检"
    assert seeded(database_url, "SELECT count(*) FROM audit_log WHERE action = "
                  "'health_appeal.upheld' AND object_id = %s",
                  str(appeal.json()["id"])) == 1  # fmt: skip


def test_an_unknown_phone_for_a_test_result_is_404(
    client: TestClient, officer: dict[str, str]
) -> None:
    r = _create(client, "/api/v1/health/test-results", officer,
                    json={"phone": unique_phone("1364"), "result": "negative",
                          "sampled_at": datetime.now(UTC).isoformat()})  # fmt: skip
    assert r.status_code == 404
