"""A GeoJSON Feature sent by a client → a checked point and its properties (or InvalidInput).

Shared by the writers of point layers (facilities, cameras). The city check (inside a grid
cell) is the writer's, since it needs the database.

Hostile bodies are refused before anything reaches the database: more than :data:`MAX_BODY`
bytes (413), text that is not UTF-8 JSON, ``NaN``/``Infinity``, nesting deeper than
:data:`MAX_DEPTH` (pydantic-core parses without recursion and stops at 200 levels; a feature
needs a handful), numbers a float cannot hold, and a NUL character in any property name or
text (PostgreSQL text and jsonb cannot hold it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core

from geo.citizen_errors import TooLarge
from geo.errors import InvalidInput
from geo.params import LonLat

MAX_BODY = 1_000_000
#: Nesting a feature may have (a Point feature with an ``attributes`` object needs about 5).
MAX_DEPTH = 32
CRS84_NAMES = {"urn:ogc:def:crs:OGC:1.3:CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
               "EPSG:4326", "urn:ogc:def:crs:EPSG::4326"}  # fmt: skip


@dataclass(frozen=True)
class PointFeature:
    point: LonLat
    properties: dict[str, Any]


def parse_feature(body: bytes) -> PointFeature:
    if len(body) > MAX_BODY:
        raise TooLarge(f"the feature is larger than {MAX_BODY} bytes.", limit=MAX_BODY)
    try:
        doc = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise InvalidInput(f"the body is not UTF-8 JSON: {exc}.") from None
    _check_values(doc)
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
    if not all(_finite(c) for c in coords):
        raise InvalidInput("coordinates must be finite numbers.")
    properties = doc.get("properties")
    if not isinstance(properties, dict):
        raise InvalidInput("the feature needs a properties object.")
    return PointFeature(LonLat(float(coords[0]), float(coords[1])), properties)


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


def _check_values(doc: Any) -> None:
    """No NUL in any name or text, no nesting past MAX_DEPTH (iteratively: a hostile document
    cannot exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidInput(f"the feature is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidInput("the feature contains a NUL character, which text cannot hold.")
        elif isinstance(value, float | int) and not isinstance(value, bool):
            if not _finite(value):
                raise InvalidInput("numbers in the feature must be finite.")
        elif isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


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
        number = value if isinstance(value, int | float) else None  # no float(): 10**400
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
