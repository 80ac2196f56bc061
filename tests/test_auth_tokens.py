"""ES256 access tokens and the JWKS: issue, verify offline, and refuse the classic attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from geo.access import Capability, Jurisdiction, Scope, require
from geo.errors import Forbidden, Unauthorized
from server.app import create_app
from server.kernel.auth.keys import load_keys
from server.kernel.auth.principal import principal_of
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import AuthSettings, Settings


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256(signing_input: str, secret: bytes) -> str:
    """The key-confusion attack: an HMAC 'signature' keyed with our public key."""
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_jwks_verifies_an_access_token_offline(client: TestClient, tokens: TokenService) -> None:
    token = tokens.issue_access(42, ["dispatcher"])
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/jwk-set+json")
    jwks = jwt.PyJWKSet.from_dict(r.json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(token, key.key, algorithms=["ES256"], audience="onemap", issuer="onemap")
    assert claims["sub"] == "42"
    assert claims["roles"] == ["dispatcher"]
    assert claims["exp"] - claims["iat"] == 900
    assert set(claims) >= {"iss", "aud", "sub", "roles", "iat", "exp", "jti"}
    assert all("d" not in k for k in r.json()["keys"])  # no private parts


def test_a_valid_token_becomes_the_principal(tokens: TokenService) -> None:
    p = tokens.verify_access(tokens.issue_access(7, ["grid_worker", "analyst"]))
    assert p.user_id == 7
    assert p.roles == {"grid_worker", "analyst"}
    assert p.jurisdiction == Jurisdiction(Scope.CITY)
    assert require(p, Capability.READ_INTERNAL) is p  # the analyst's and the worker's
    with pytest.raises(Forbidden, match="edit_features"):
        require(p, Capability.EDIT_FEATURES)


def test_the_token_carries_the_jurisdiction(tokens: TokenService) -> None:
    district = Jurisdiction(Scope.DISTRICT, (3, 5))
    p = tokens.verify_access(tokens.issue_access(7, ["dispatcher"], jurisdiction=district))
    assert p.jurisdiction == district


def test_a_token_without_a_valid_jurisdiction_is_refused(tokens: TokenService) -> None:
    for claim in (None, {"scope": "galaxy"}, {"scope": "district", "ids": ["1"]}):
        token = tokens.issue_access(7, ["dispatcher"], jur=claim)
        with pytest.raises(Unauthorized, match="jurisdiction"):
            tokens.verify_access(token)


def _attacks(tokens: TokenService) -> dict[str, str]:
    good = tokens.issue_access(1, ["admin"])
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    public_pem = tokens.keys.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other_key = ec.generate_private_key(ec.SECP256R1())
    kid = tokens.keys.kid
    return {
        "alg none": f"{_b64({'alg': 'none', 'kid': kid})}.{payload}.",
        "HS256 with the public key": _hs256(f"{_b64({'alg': 'HS256', 'kid': kid})}.{payload}",
                                            public_pem),
        "expired": tokens.issue_access(1, ["admin"], ttl_s=-10),
        "wrong audience": jwt.encode({**claims, "aud": "elsewhere"}, tokens.keys.private_key,
                                     algorithm="ES256", headers={"kid": kid}),
        "wrong issuer": jwt.encode({**claims, "iss": "mallory"}, tokens.keys.private_key,
                                   algorithm="ES256", headers={"kid": kid}),
        "unknown kid": jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": "nope"}),
        "our kid, another key": jwt.encode(claims, other_key, algorithm="ES256",
                                           headers={"kid": kid}),
        "tampered payload": f"{header}.{_b64({**claims, 'roles': ['admin', 'x']})}.{signature}",
        "garbage": "not.a.token",
        "no roles": jwt.encode({k: v for k, v in claims.items() if k != "roles"},
                               tokens.keys.private_key, algorithm="ES256", headers={"kid": kid}),
    }  # fmt: skip


ATTACKS = [
    "alg none", "HS256 with the public key", "expired", "wrong audience", "wrong issuer",
    "unknown kid", "our kid, another key", "tampered payload", "garbage", "no roles",
]  # fmt: skip


@pytest.mark.parametrize("attack", ATTACKS)
def test_forged_or_stale_tokens_are_refused(
    tokens: TokenService, client: TestClient, attack: str
) -> None:
    token = _attacks(tokens)[attack]
    with pytest.raises(Unauthorized):
        tokens.verify_access(token)
    # Over HTTP: 401 problem+json with a Bearer challenge, even on a public route.
    r = client.get("/healthz", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"


def test_the_middleware_attaches_the_principal(settings: Settings, tokens: TokenService) -> None:
    async def whoami(request: Request) -> JSONResponse:
        p = require(principal_of(request.scope), Capability.DISPATCH)
        return JSONResponse({"user": p.user_id, "roles": sorted(p.roles)})

    app = create_app(settings)
    app.router.routes.append(Route("/whoami", whoami))
    with TestClient(app) as c:
        anonymous = c.get("/whoami")
        citizen = c.get(
            "/whoami", headers={"Authorization": f"Bearer {tokens.issue_access(5, ['citizen'])}"}
        )
        staff = c.get(
            "/whoami", headers={"Authorization": f"Bearer {tokens.issue_access(9, ['dispatcher'])}"}
        )
    assert anonymous.status_code == 401
    assert citizen.status_code == 403
    assert "dispatch" in citizen.json()["detail"]
    assert staff.json() == {"user": 9, "roles": ["dispatcher"]}


def test_dev_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_keys(AuthSettings(), tmp_path)
    key_file = tmp_path / "keys" / "jwt-es256.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = load_keys(AuthSettings(), tmp_path)
    assert again.kid == first.kid


def test_retired_keys_stay_in_the_jwks_and_still_verify(tmp_path: Path) -> None:
    old = TokenService(load_keys(AuthSettings(), tmp_path / "old"), AuthSettings())
    old_token = old.issue_access(3, ["analyst"])
    old_pub = tmp_path / "old.pub.pem"
    old_pub.write_bytes(
        old.keys.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    rotated = AuthSettings(retired_public_key_files=[old_pub])
    new = TokenService(load_keys(rotated, tmp_path / "new"), rotated)
    assert {k["kid"] for k in new.keys.jwks()["keys"]} == {new.keys.kid, old.keys.kid}
    assert new.verify_access(old_token).user_id == 3
    assert jwt.get_unverified_header(new.issue_access(3, []))["kid"] == new.keys.kid
