"""What a caller sees at ``/ogc``: the access policy's views (``geo.access``, docs/access.md).

pygeoapi has no authentication, and building one of its instances is slow. So OneMap keeps one
instance per *shape* of catalogue — which collections, each in its public or internal view, and
which are editable — shared by every caller of that shape, and runs each call with the caller's
own views (:data:`REQUEST_VIEWS`): those carry the caller's jurisdiction in their row filter, so
the SQL behind every page — the fast path's and the provider's alike — holds only what the
caller may read. Two dispatchers of different districts share an instance, never their rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from geo import access, catalogue
from geo.access import Principal
from geo.errors import Forbidden, NotFound, Unauthorized
from geo.layers import LayerView

#: The caller's views while a pygeoapi call runs (set in its worker thread by OgcService.call).
REQUEST_VIEWS: ContextVar[Mapping[str, LayerView]] = ContextVar("onemap_ogc_views")


@dataclass(frozen=True, slots=True)
class Shape:
    """The cache key of a pygeoapi instance: no principal, no jurisdiction in it."""

    collections: tuple[tuple[str, bool], ...]  # (layer, internal view?) in listing order
    editable: frozenset[str] = frozenset()
    #: The catalogue registry's version when any of the collections is a catalogue layer
    #: (0 otherwise): a layer's changed metadata is a new configuration.
    catalogue_version: int = 0

    @property
    def key(self) -> str:
        """A short name for this shape (file names): ``+`` marks an internal view."""
        names = [f"{n}+" if internal else n for n, internal in self.collections]
        edit = ["edit-" + "-".join(sorted(self.editable))] if self.editable else []
        return "_".join(names + edit)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One caller's collections: their views (jurisdiction applied) and the instance shape."""

    views: Mapping[str, LayerView]
    shape: Shape


def _can_edit(principal: Principal, layer: str) -> bool:
    try:
        access.editable(principal, layer)
    except (Unauthorized, Forbidden):
        return False
    return True


def catalogue_of(principal: Principal) -> Catalogue:
    views = access.views_for(principal)
    registry = catalogue.current()
    shape = Shape(
        tuple((name, v.internal) for name, v in views.items()),
        frozenset(name for name in views if _can_edit(principal, name)),
        registry.version if any(v.catalogue for v in views.values()) else 0,
    )
    return Catalogue(views, shape)


def view_of(principal: Principal, collection: str) -> LayerView:
    """The caller's view of a collection: NotFound when there is none at all,
    Unauthorized/Forbidden when it exists but is closed to the caller."""
    found = access.view_for(principal, collection)
    if found is None:
        raise NotFound(f"no collection {collection!r}.")
    return found
