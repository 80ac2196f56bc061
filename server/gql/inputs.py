"""GraphQL inputs for spatial and attribute filters, converted to geo's typed values.

Invalid values raise geo's InvalidInput with a message a person can act on; the error
extension turns it into a BAD_USER_INPUT error.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from geo.errors import InvalidInput
from geo.params import BBox, LonLat, Radius
from geo.queries.filters import AreaById, AreaPolygon, Near, SpatialFilter
from server.gql.scalars import GeoJSON


@strawberry.input(description="A box in lon/lat (EPSG:4326).")
class BBoxInput:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@strawberry.input(description="Within radiusM metres of a point; results nearest first.")
class NearInput:
    lon: float
    lat: float
    radius_m: float


@strawberry.input(description="Exactly one of the fields.")
class AreaInput:
    admin_area_id: strawberry.ID | None = None
    grid_cell_id: strawberry.ID | None = None
    geometry: GeoJSON | None = strawberry.field(
        default=None, description="A Polygon or MultiPolygon."
    )


@strawberry.input(description="All given parts must hold.")
class SpatialFilterInput:
    bbox: BBoxInput | None = None
    near: NearInput | None = None
    within: AreaInput | None = None
    intersects: GeoJSON | None = strawberry.field(default=None, description="Any geometry.")


def _id(value: strawberry.ID, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a numeric id, got {value!r}.") from None
    if not 0 < number < 2**63:
        raise InvalidInput(f"{what} {value} is out of range.")
    return number


def to_id(value: strawberry.ID, what: str = "id") -> int:
    return _id(value, what)


def _area(area: AreaInput) -> AreaById | AreaPolygon:
    given = [v for v in (area.admin_area_id, area.grid_cell_id, area.geometry) if v is not None]
    if len(given) != 1:
        raise InvalidInput("within needs exactly one of adminAreaId, gridCellId or geometry.")
    if area.admin_area_id is not None:
        return AreaById("admin_areas", _id(area.admin_area_id, "adminAreaId"))
    if area.grid_cell_id is not None:
        return AreaById("grid_cells", _id(area.grid_cell_id, "gridCellId"))
    geometry: Any = area.geometry
    if geometry["type"] not in ("Polygon", "MultiPolygon"):
        raise InvalidInput("within.geometry must be a Polygon or MultiPolygon.")
    return AreaPolygon(json.dumps(geometry))


def spatial(value: SpatialFilterInput | None) -> SpatialFilter:
    if value is None:
        return SpatialFilter()
    b, n = value.bbox, value.near
    return SpatialFilter(
        bbox=BBox(b.min_lon, b.min_lat, b.max_lon, b.max_lat) if b else None,
        near=Near(LonLat(n.lon, n.lat), Radius(n.radius_m)) if n else None,
        within=_area(value.within) if value.within else None,
        intersects=AreaPolygon(json.dumps(value.intersects)) if value.intersects else None,
    )


def page_size(first: int | None, default: int, maximum: int) -> int:
    """The page size from Relay's ``first``, within 1..maximum."""
    limit = default if first is None else first
    if not 1 <= limit <= maximum:
        raise InvalidInput(f"first must be between 1 and {maximum}, got {limit}.")
    return limit


@strawberry.enum(description="Ascending (the default) or descending.")
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


_ORDER_NOTE = (
    "Ties are broken by id; without orderBy a page is nearest first when where.near is given, "
    "else by id. A cursor pages only the order that gave it out."
)


@strawberry.enum(description="What a case board sorts by. DUE_AT (no due time last) needs "
                 "the full record (staff).")  # fmt: skip
class CaseOrderField(Enum):
    ID = "ID"
    DISTANCE = "DISTANCE"
    REPORTED_AT = "REPORTED_AT"
    DUE_AT = "DUE_AT"
    PRIORITY = "PRIORITY"  # low → urgent
    STATUS = "STATUS"  # in workflow order
    PUBLIC_ID = "PUBLIC_ID"


@strawberry.enum(description="What facilities sort by (no capacity first).")
class FacilityOrderField(Enum):
    ID = "ID"
    DISTANCE = "DISTANCE"
    CODE = "CODE"
    NAME_ZH = "NAME_ZH"
    NAME_EN = "NAME_EN"
    CATEGORY = "CATEGORY"
    CAPACITY = "CAPACITY"


@strawberry.enum(description="What cameras sort by (never seen first).")
class CameraOrderField(Enum):
    ID = "ID"
    DISTANCE = "DISTANCE"
    CODE = "CODE"
    NAME = "NAME"
    STATUS = "STATUS"
    LAST_SEEN_AT = "LAST_SEEN_AT"


@strawberry.enum(description="What grid cells sort by.")
class GridCellOrderField(Enum):
    ID = "ID"
    DISTANCE = "DISTANCE"
    CODE = "CODE"
    NAME = "NAME"
    POPULATION = "POPULATION"


@strawberry.enum(description="What administrative areas sort by.")
class AdminAreaOrderField(Enum):
    ID = "ID"
    DISTANCE = "DISTANCE"
    CODE = "CODE"
    NAME_ZH = "NAME_ZH"
    NAME_EN = "NAME_EN"
    POPULATION = "POPULATION"


@strawberry.input(description=f"A case board's order. {_ORDER_NOTE}")
class CaseOrder:
    field: CaseOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description=f"Facilities' order. {_ORDER_NOTE}")
class FacilityOrder:
    field: FacilityOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description=f"Cameras' order. {_ORDER_NOTE}")
class CameraOrder:
    field: CameraOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description=f"Grid cells' order. {_ORDER_NOTE}")
class GridCellOrder:
    field: GridCellOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description=f"Administrative areas' order. {_ORDER_NOTE}")
class AdminAreaOrder:
    field: AdminAreaOrderField
    direction: SortDirection = SortDirection.ASC


OrderBy = CaseOrder | FacilityOrder | CameraOrder | GridCellOrder | AdminAreaOrder


def time_range(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    for value, what in ((since, "from"), (until, "to")):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{what} needs a time zone (e.g. 2026-11-01T00:00:00+08:00).")
    if since and until and since > until:
        raise InvalidInput("from is after to.")
    return since, until
