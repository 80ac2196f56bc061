"""Who sees which view of which collection at ``/ogc`` (the matrix is in docs/ogc.md).

pygeoapi has no authentication; OneMap picks the set of collections per request from the
principal the auth middleware attached, and a pygeoapi instance configured for exactly that set.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.enums import Role
from geo.errors import Forbidden, Unauthorized
from geo.layers import CAMERAS, INTERNAL_VIEWS, PUBLIC_VIEWS, LayerView
from server.kernel.auth.principal import Principal

#: Full cases (reporter-free but with description, address, assignee) and hazard sources.
STAFF_READERS = frozenset(
    {Role.DISPATCHER, Role.ANALYST, Role.ADMIN, Role.GRID_WORKER, Role.DEPARTMENT_STAFF}
)
#: Camera positions and status (never their source URL).
CAMERA_READERS = frozenset({Role.CAMERA_VIEWER, Role.DISPATCHER, Role.ADMIN})
#: OGC API - Features Part 4 (create, replace, delete) on facilities and cameras.
WRITERS = frozenset({Role.ADMIN})
EDITABLE = frozenset({"facilities", "cameras"})


@dataclass(frozen=True, slots=True)
class Grants:
    internal: bool = False
    cameras: bool = False
    write: bool = False

    @property
    def key(self) -> str:
        """A short name for this grant set (file names, cache keys)."""
        parts = [p for p, on in (("internal", self.internal), ("cameras", self.cameras),
                                 ("write", self.write)) if on]  # fmt: skip
        return "-".join(parts) or "public"

    def views(self) -> dict[str, LayerView]:
        views = dict(INTERNAL_VIEWS if self.internal else PUBLIC_VIEWS)
        views.pop("cameras", None)
        if self.cameras:
            views["cameras"] = CAMERAS
        return views


PUBLIC = Grants()


def grants_of(principal: Principal) -> Grants:
    if not principal.authenticated:
        return PUBLIC
    return Grants(
        internal=principal.has_any(STAFF_READERS),
        cameras=principal.has_any(CAMERA_READERS),
        write=principal.has_any(WRITERS),
    )


def view_for(principal: Principal, collection: str) -> LayerView | None:
    """The view this caller gets; Unauthorized/Forbidden for a restricted collection."""
    grants = grants_of(principal)
    found = grants.views().get(collection)
    if found is None and collection in INTERNAL_VIEWS:
        if not principal.authenticated:
            raise Unauthorized(f"collection {collection!r} needs a staff access token (Bearer).")
        raise Forbidden(f"collection {collection!r} needs one of the roles: "
                        f"{', '.join(sorted(CAMERA_READERS))}.")  # fmt: skip
    return found


def require_writer(principal: Principal) -> None:
    """Unauthorized/Forbidden unless the caller may change features."""
    if not principal.authenticated:
        raise Unauthorized("changing features needs an admin access token (Bearer).")
    if not principal.has_any(WRITERS):
        raise Forbidden("changing features needs the role: admin.")
