"""Who is calling, as the auth middleware attaches it to a request or WebSocket scope.

The principal itself (roles, jurisdiction, capabilities) belongs to the access policy,
``geo.access``; this module only finds it on an ASGI scope.
"""

from __future__ import annotations

from typing import Any

from geo.access import ANONYMOUS, Principal

SCOPE_KEY = "onemap.principal"

__all__ = ["ANONYMOUS", "SCOPE_KEY", "Principal", "principal_of"]


def principal_of(scope: Any) -> Principal:
    """The principal of a request or WebSocket (``request.scope``); anonymous when none."""
    found = scope.get(SCOPE_KEY, ANONYMOUS)
    assert isinstance(found, Principal)
    return found
