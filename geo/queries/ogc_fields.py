"""What OGC clients may ask of a layer's columns: their JSON types, allowed values, time field.

The queryables, the schema, the property filters, ``sortby`` and CQL2 all read this one table,
so a column is filterable exactly when it is published (a column a view hides is unknown here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo import enums
from geo.base_models import BuildingUse
from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.road_models import RoadClass

#: JSON type of every published column (same name, same meaning in every table).
TYPES: dict[str, str] = {
    "code": "string", "name": "string", "name_zh": "string", "name_en": "string",
    "level": "string", "parent_id": "integer", "population": "integer",
    "community_id": "integer", "health_risk": "string", "category": "string",
    "address": "string", "capacity": "integer", "attributes": "object",
    "grid_cell_id": "integer", "heading": "integer", "fov": "integer", "status": "string",
    "last_seen_at": "datetime", "public_id": "string", "description": "string",
    "priority": "string", "source": "string", "department_id": "integer",
    "assignee_id": "integer", "duplicate_of": "integer", "reported_at": "datetime",
    "dispatched_at": "datetime", "due_at": "datetime", "resolved_at": "datetime",
    "closed_at": "datetime", "kind": "string", "state": "string", "facility_id": "integer",
    "road_class": "string", "speed_kmh": "integer", "lanes": "integer", "one_way": "boolean",
    "length_m": "number", "use": "string", "floors": "integer", "height_m": "number",
    "year_built": "integer", "address_id": "integer", "synthetic": "boolean",
}  # fmt: skip

_FACILITY_PUBLIC = [
    c.value for c in enums.FacilityCategory if c not in enums.INTERNAL_FACILITY_CATEGORIES
]

#: Allowed values per (layer, column), published as ``enum`` in the queryables.
ENUMS: dict[tuple[str, str], list[str]] = {
    ("admin_areas", "level"): [v.value for v in enums.AdminLevel],
    ("grid_cells", "health_risk"): [v.value for v in enums.HealthRisk],
    ("facilities", "category"): [v.value for v in enums.FacilityCategory],
    ("facilities_public", "category"): _FACILITY_PUBLIC,
    ("cameras", "status"): [v.value for v in enums.CameraStatus],
    ("cases", "status"): [v.value for v in enums.CaseStatus],
    ("cases_public", "status"): [v.value for v in enums.CaseStatus if v != "duplicate"],
    ("cases", "priority"): [v.value for v in enums.CasePriority],
    ("cases", "source"): [v.value for v in enums.CaseSource],
    ("sensors", "state"): [v.value for v in enums.SensorState],
    ("roads", "road_class"): [v.value for v in RoadClass],
    ("buildings", "use"): [v.value for v in BuildingUse],
}

#: The primary instant of a layer (``datetime=`` filters on it).
TIME_FIELD: dict[str, str] = {"cases": "reported_at"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str


def type_of(view: LayerView, column: str) -> str:
    """The JSON type of a published column: a catalogue layer's as introspected at
    registration, a built-in layer's from :data:`TYPES`."""
    if view.column_types:
        return dict(view.column_types)[column]
    return TYPES[column]


def columns(view: LayerView) -> dict[str, Column]:
    """The published columns of a view, by name (``id`` included)."""
    found = {"id": Column("id", "integer")}
    for name in view.columns:
        found[name] = Column(name, type_of(view, name))
    return found


def enum_of(view: LayerView, column: str) -> list[str] | None:
    scoped = f"{view.name}_public" if not view.internal else view.name
    return ENUMS.get((scoped, column)) or ENUMS.get((view.name, column))


def column(view: LayerView, name: str) -> Column:
    """A published column, or InvalidInput naming the ones there are."""
    found = columns(view).get(name)
    if found is None:
        known = ", ".join(columns(view))
        raise InvalidInput(f"unknown property {name!r} for {view.name}; known: {known}.")
    return found


def parse_value(col: Column, raw: str) -> object:
    """A query-string value typed for ``col`` (InvalidInput when it is not of that type)."""
    if col.type == "integer":
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{col.name} must be an integer, got {raw!r}.") from None
    if col.type == "number":
        try:
            return float(raw)
        except ValueError:
            raise InvalidInput(f"{col.name} must be a number, got {raw!r}.") from None
    if col.type == "boolean":
        if raw.lower() not in ("true", "false"):
            raise InvalidInput(f"{col.name} must be true or false, got {raw!r}.")
        return raw.lower() == "true"
    if col.type == "datetime":
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{col.name} must be an RFC 3339 date-time, got {raw!r}.") from None
        if value.tzinfo is None:
            raise InvalidInput(f"{col.name} needs a time zone (e.g. Z), got {raw!r}.")
        return value
    if col.type == "object":
        raise InvalidInput(f"{col.name} is an object; filter it with CQL2.")
    return raw
