"""Health-code tokens: ES256 JWTs of at most five minutes that carry only a pairwise subject,
the colour, the rule version and a ``jti`` — no name, phone, ID number or location. Signed by
the same key as access tokens (same JWKS) but with their own audience, so neither can stand in
for the other. Kept short: the token is what the QR code encodes."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from server.kernel.auth.keys import KeySet

ALGORITHM = "ES256"


class InvalidHealthToken(Exception):
    def __init__(self, reason: str, claims: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claims = claims or {}


@dataclass(frozen=True)
class HealthTokens:
    keys: KeySet
    issuer: str
    audience: str
    ttl_s: int

    def issue(self, subject: str, colour: str, rule_version: str) -> tuple[str, int]:
        now = int(time.time())
        exp = now + min(self.ttl_s, 300)
        claims = {"iss": self.issuer, "aud": self.audience, "sub": subject, "colour": colour,
                  "rv": rule_version, "iat": now, "exp": exp,
                  "jti": secrets.token_urlsafe(12)}  # fmt: skip
        token = jwt.encode(claims, self.keys.private_key, algorithm=ALGORITHM,
                           headers={"kid": self.keys.kid})  # fmt: skip
        return token, exp

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; InvalidHealthToken with the reason (and any claims
        that could be read from a genuine but expired token) otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidHealthToken("malformed") from None
        key = self.keys.public_keys.get(str(header.get("kid")))
        if header.get("alg") != ALGORITHM or key is None:
            raise InvalidHealthToken("unknown signing key or algorithm")
        options: jwt.types.Options = {"require": ["exp", "iat", "sub", "jti", "iss", "aud"]}
        try:
            return dict(jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.audience,
                                   issuer=self.issuer, options=options))  # fmt: skip
        except jwt.ExpiredSignatureError:
            lenient: jwt.types.Options = {**options, "verify_exp": False}
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.audience,
                                issuer=self.issuer, options=lenient)  # fmt: skip
            raise InvalidHealthToken("expired", dict(claims)) from None
        except jwt.InvalidTokenError as exc:
            raise InvalidHealthToken(f"invalid: {exc}") from None
