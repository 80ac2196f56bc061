"""A GeoJSON Feature sent by a client → a checked point and its properties (or InvalidInput).

Shared by the writers of point layers (facilities, cameras). The city check (inside a grid
cell) is the writer's, since it needs the database.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.errors import InvalidInput
from geo.params import LonLat

MAX_BODY = 1_000_000
CRS84_NAMES = {"urn:ogc:def:crs:OGC:1.3:CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
               "EPSG:4326", "urn:ogc:def:crs:EPSG::4326"}  # fmt: skip


@dataclass(frozen=True)
class PointFeature:
    point: LonLat
    properties: dict[str, Any]


def parse_feature(body: bytes) -> PointFeature:
    if len(body) > MAX_BODY:
        raise InvalidInput(f"the feature is larger than {MAX_BODY} bytes.")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the body is not JSON: {exc}.") from None
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise InvalidInput('the body must be a GeoJSON Feature ({"type": "Feature", …}).')
    crs = doc.get("crs")
    if crs is not None:
        name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
        if name not in CRS84_NAMES:
            raise InvalidInput(
                "coordinates must be lon/lat WGS 84 (CRS84); other CRSs are refused."
            )
    geometry = doc.get("geometry")
    if not isinstance(geometry, dict):
        raise InvalidInput("the feature needs a geometry.")
    if geometry.get("type") != "Point":
        raise InvalidInput(f"the geometry must be a Point, got {geometry.get('type')!r}.")
    coords = geometry.get("coordinates")
    if (
        not isinstance(coords, list)
        or len(coords) not in (2, 3)
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
    ):
        raise InvalidInput("a Point's coordinates are [longitude, latitude].")
    if not all(math.isfinite(c) for c in coords):
        raise InvalidInput("coordinates must be finite numbers.")
    properties = doc.get("properties")
    if not isinstance(properties, dict):
        raise InvalidInput("the feature needs a properties object.")
    return PointFeature(LonLat(float(coords[0]), float(coords[1])), properties)


@dataclass(frozen=True)
class Spec:
    """One writable property: its Python type, whether required, and a check."""

    kind: type | tuple[type, ...]
    required: bool = False
    low: float | None = None
    high: float | None = None
    values: frozenset[str] | None = None
    max_len: int = 1000


def checked(
    properties: dict[str, Any], specs: dict[str, Spec], derived: set[str]
) -> dict[str, Any]:
    """The properties, typed and checked; derived ones (e.g. grid_cell_id) are ignored."""
    unknown = set(properties) - set(specs) - derived
    if unknown:
        raise InvalidInput(f"unknown properties: {', '.join(sorted(unknown))}; "
                           f"writable: {', '.join(specs)}.")  # fmt: skip
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        value = properties.get(name)
        if value is None:
            if spec.required:
                raise InvalidInput(f"property {name!r} is required.")
            out[name] = None
            continue
        if spec.kind is datetime:
            value = _datetime(name, value)
        elif isinstance(value, bool) or not isinstance(value, spec.kind):
            raise InvalidInput(f"property {name!r} has the wrong type ({type(value).__name__}).")
        if isinstance(value, str) and (not value.strip() or len(value) > spec.max_len):
            raise InvalidInput(f"property {name!r} must be 1–{spec.max_len} characters.")
        if spec.values is not None and value not in spec.values:
            raise InvalidInput(
                f"property {name!r} must be one of {', '.join(sorted(spec.values))}."
            )
        number = float(value) if isinstance(value, int | float) else None
        if number is not None and (
            (spec.low is not None and number < spec.low)
            or (spec.high is not None and number > spec.high)
        ):
            raise InvalidInput(f"property {name!r} must be between {spec.low} and {spec.high}.")
        out[name] = value
    return out


def _datetime(name: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"property {name!r} must be an RFC 3339 date-time string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"property {name!r} must be an RFC 3339 date-time.") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"property {name!r} needs a time zone.")
    return parsed
