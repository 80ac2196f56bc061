"""The layer catalogue (issue 17, item 3): department layers registered at run time.

Any PostGIS table or view registered in ``catalogue_layers`` (``onemap layers register``,
GraphQL ``registerLayer``; ``geo.services.catalogue`` validates and writes) is published
through OGC API - Features and Tiles and GraphQL like a built-in layer, with its metadata.

This module holds the process's **registry**: an immutable snapshot of the registered layers,
loaded from the database at start-up and again whenever a registration changes (``NOTIFY
onemap_catalogue``, heard by every process's event listener). ``geo.access.views_for`` reads
it, so the built-in collections and the registered ones come from one registry: every surface
(OGC collections, tiles, GraphQL, the map view's layer list, a DCAT catalogue over the public
collections) sees both. The metadata fields — ``title``, ``description``, ``owner``,
``data_class``, ``update_frequency``, ``licence``, ``keywords`` — are :class:`CatalogueLayer`'s
(:func:`metadata` for a layer by name).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geo.layers import LayerView

#: The NOTIFY channel a registration change is announced on.
CHANNEL = "onemap_catalogue"
#: Data classes a catalogue layer may have (geo.access.DataClass values).
DATA_CLASSES = ("public", "internal", "restricted")
#: How often a layer's data changes (its ``update_frequency``), DCAT/ISO 19115 words.
FREQUENCIES = ("continual", "daily", "weekly", "monthly", "quarterly", "annual", "irregular",
               "as_needed", "not_planned")  # fmt: skip


@dataclass(frozen=True)
class CatalogueLayer:
    """A registered layer: where its rows are (``view``) and what it is (its metadata)."""

    name: str
    title: str
    description: str
    owner: str  # the owner department's code (departments.code)
    owner_name: str  # and its name
    data_class: str  # public | internal | restricted
    update_frequency: str
    licence: str
    keywords: tuple[str, ...]
    view: LayerView  # the whole relation's view (internal unless public); no row filter
    title_field: str | None = None
    registered_at: str = ""
    updated_at: str = ""

    def metadata(self) -> dict[str, Any]:
        """The metadata as OGC collections (``onemap:`` block), GraphQL and the CLI show it."""
        return {
            "title": self.title,
            "description": self.description,
            "owner": self.owner,
            "owner_name": self.owner_name,
            "data_class": self.data_class,
            "update_frequency": self.update_frequency,
            "licence": self.licence,
            "keywords": list(self.keywords),
            "geometry_type": self.view.geometry_type,
            "source": f"{self.view.schema}.{self.view.table}",
            "srid": self.view.srid,
            "registered_at": self.registered_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Registry:
    """One snapshot of the catalogue: its layers by name, in registration order."""

    layers: Mapping[str, CatalogueLayer] = field(default_factory=dict)
    version: int = 0  # bumped when a reload finds the catalogue changed
    digest: str = ""  # of the rows it was built from


_lock = threading.Lock()
_current = Registry()


def current() -> Registry:
    """The process's registry (read by the access policy on every request)."""
    return _current


def install(registry: Registry) -> None:
    """Replace the process's registry (after loading it: ``geo.services.catalogue.reload``)."""
    global _current
    with _lock:
        _current = registry


def layer(name: str) -> CatalogueLayer | None:
    """A registered layer by name (None: no such layer in the catalogue)."""
    return _current.layers.get(name)


def metadata(name: str) -> dict[str, Any] | None:
    """The metadata of a registered layer (None for a built-in layer)."""
    found = _current.layers.get(name)
    return found.metadata() if found is not None else None
