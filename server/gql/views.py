"""The layer views GraphQL reads: geo.layers' views plus the columns its types resolve."""

from __future__ import annotations

from dataclasses import replace

from geo import layers

#: Anonymous callers and citizens: anonymised, but with the handling department and due date.
PUBLIC_CASES = replace(
    layers.CASES_PUBLIC,
    columns=(*layers.CASES_PUBLIC.columns, "department_id", "due_at", "resolved_at"),
)
#: Staff (row-level rules decide which details each may read): everything, reporter included.
FULL_CASES = replace(layers.CASES, columns=(*layers.CASES.columns, "reporter_id"))
ADMIN_AREAS = layers.ADMIN_AREAS
GRID_CELLS = replace(layers.GRID_CELLS, columns=(*layers.GRID_CELLS.columns, "worker_id"))
PUBLIC_FACILITIES = layers.FACILITIES_PUBLIC
FACILITIES = layers.FACILITIES
CAMERAS = layers.CAMERAS
