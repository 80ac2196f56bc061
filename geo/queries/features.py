"""The areas a spatial search may be bounded by (GraphQL ``within``, ``geo.queries.search``).

The bbox/near/within feature builders that lived here had no caller but their tests; every
surface reads features through its own builder (OGC items, tiles, GraphQL search), each
applying the caller's view and its row filter.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class AreaById:
    """An admin area (``admin_areas``) or a grid cell (``grid_cells``) by id."""

    table: str  # "admin_areas" or "grid_cells"
    id: int

    def __post_init__(self) -> None:
        if self.table not in {"admin_areas", "grid_cells"}:
            raise InvalidInput(f"an area is an admin area or a grid cell, not {self.table!r}.")


@dataclass(frozen=True, slots=True)
class AreaPolygon:
    """A GeoJSON Polygon or MultiPolygon in lon/lat (checked by the surface that parsed it)."""

    geojson: str
