"""Access tokens: short-lived ES256 JWTs with ``kid``, ``iss``, ``aud``, ``sub``, ``roles``,
``jur`` (the jurisdiction, ``geo.access``), ``iat``, ``exp``, ``jti`` and, for the tokens of a
log-in session, ``sid`` (its refresh-token family: streams end when it is revoked).
Verification accepts only ES256 and only keys in our JWKS; a token without a valid jurisdiction
is refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from geo.access import CITY, Jurisdiction, Principal
from geo.errors import InvalidInput, Unauthorized
from server.kernel.auth.keys import KeySet
from server.kernel.settings import AuthSettings

ALGORITHM = "ES256"


@dataclass(frozen=True)
class TokenService:
    keys: KeySet
    settings: AuthSettings

    def issue_access(
        self,
        user_id: int,
        roles: Iterable[str],
        *,
        jurisdiction: Jurisdiction = CITY,
        ttl_s: int | None = None,
        **claims: Any,
    ) -> str:
        """A signed access token. Log-in passes the account's stored jurisdiction; the default
        (the whole city) is for tools and tests that act as a city-wide user."""
        now = int(time.time())
        payload = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": str(user_id),
            "roles": sorted(set(roles)),
            "jur": jurisdiction.to_claim(),
            "iat": now,
            "exp": now + (ttl_s if ttl_s is not None else self.settings.access_ttl_s),
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(
            payload, self.keys.private_key, algorithm=ALGORITHM, headers={"kid": self.keys.kid}
        )

    def verify_access(self, token: str) -> Principal:
        """The principal a valid access token names; Unauthorized with the reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("The access token is malformed.") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"Access tokens must be signed with {ALGORITHM}.")
        key = self.keys.public_keys.get(str(header.get("kid")))
        if key is None:
            raise Unauthorized("The access token was signed by an unknown key.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The access token has expired; refresh it.") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The access token is invalid: {exc}.") from None
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("The access token carries no valid roles.")
        try:
            user_id = int(claims["sub"])
        except ValueError:
            raise Unauthorized("The access token's subject is not a user.") from None
        try:
            jurisdiction = Jurisdiction.from_claim(claims.get("jur"))
        except InvalidInput as exc:
            raise Unauthorized(f"The access token carries no valid jurisdiction: {exc.message} "
                               "Log in again.") from None  # fmt: skip
        sid = claims.get("sid")
        return Principal(
            user_id=user_id, roles=frozenset(roles), token_id=str(claims["jti"]),
            jurisdiction=jurisdiction, session_id=sid if isinstance(sid, str) else None,
            expires_at=float(claims["exp"]),
        )  # fmt: skip
