"""Who is calling: the principal the auth middleware attaches, and role requirements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from geo.errors import Forbidden, Unauthorized

SCOPE_KEY = "onemap.principal"


@dataclass(frozen=True)
class Principal:
    user_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)


ANONYMOUS = Principal()


def principal_of(scope: Any) -> Principal:
    """The principal of a request or WebSocket (``request.scope``); anonymous when none."""
    found = scope.get(SCOPE_KEY, ANONYMOUS)
    assert isinstance(found, Principal)
    return found


def require(principal: Principal, *roles: str) -> Principal:
    """Unauthorized when nobody is logged in; Forbidden without one of ``roles`` (if given)."""
    if not principal.authenticated:
        raise Unauthorized("This needs a logged-in user: send an access token (Bearer).")
    if roles and not principal.has_any(roles):
        raise Forbidden(f"This needs one of the roles: {', '.join(sorted(roles))}.")
    return principal
