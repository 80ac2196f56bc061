"""The ``GeoJSON`` scalar: RFC 7946 geometries, lon/lat in EPSG:4326, validated on the way in."""

from __future__ import annotations

import json
import math
from typing import Any, NewType

import strawberry

GeoJSON = NewType("GeoJSON", object)

MAX_POSITIONS = 10_000
_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
          "MultiPolygon": 3}  # fmt: skip


class GeoJSONError(ValueError):
    """A GeoJSON value that is not a valid RFC 7946 geometry (the message says why)."""


def _position(p: Any, counter: list[int]) -> None:
    if not isinstance(p, list) or len(p) not in (2, 3):
        raise GeoJSONError("a position is a list of 2 (or 3) numbers [lon, lat].")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in p):
        raise GeoJSONError("position values must be numbers.")
    lon, lat = p[0], p[1]
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeoJSONError("position values must be finite.")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeoJSONError(f"[{lon}, {lat}] is not a lon/lat position in EPSG:4326.")
    counter[0] += 1
    if counter[0] > MAX_POSITIONS:
        raise GeoJSONError(f"a geometry may hold at most {MAX_POSITIONS} positions.")


def _walk(coords: Any, depth: int, counter: list[int], kind: str) -> None:
    if depth == 0:
        _position(coords, counter)
        return
    if not isinstance(coords, list) or not coords:
        raise GeoJSONError(f"{kind} coordinates are nested lists, none of them empty.")
    for c in coords:
        _walk(c, depth - 1, counter, kind)


def _rings(polygon: list[Any]) -> None:
    for ring in polygon:
        if len(ring) < 4:
            raise GeoJSONError("a polygon ring needs at least 4 positions.")
        if ring[0][:2] != ring[-1][:2]:
            raise GeoJSONError(
                "a polygon ring must be closed (its last position equals the first)."
            )


def parse_geojson(value: Any) -> dict[str, Any]:
    """A validated geometry dict, or GeoJSONError with the reason."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise GeoJSONError("not JSON.") from None
    if not isinstance(value, dict):
        raise GeoJSONError("a GeoJSON geometry is an object with 'type' and 'coordinates'.")
    kind = value.get("type")
    if kind not in _TYPES:
        raise GeoJSONError(f"type must be one of {', '.join(sorted(_TYPES))}, not {kind!r}.")
    coords: Any = value.get("coordinates")
    _walk(coords, _DEPTH[kind], [0], kind)
    if kind == "Polygon":
        _rings(coords)
    elif kind == "MultiPolygon":
        for polygon in coords:
            _rings(polygon)
    return {"type": kind, "coordinates": coords}


def _parse(value: Any) -> dict[str, Any]:
    try:
        return parse_geojson(value)
    except GeoJSONError as exc:
        raise GeoJSONError(f"Invalid GeoJSON: {exc}") from None


def _serialize(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


GEOJSON_SCALAR = strawberry.scalar(
    name="GeoJSON",
    description=(
        "An RFC 7946 GeoJSON geometry object. Coordinates are [longitude, latitude] in "
        "EPSG:4326 (WGS 84), in and out. Inputs are validated (type, nesting, closed rings, "
        f"coordinate ranges) and may hold at most {MAX_POSITIONS} positions."
    ),
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc7946#section-3.1",
    serialize=_serialize,
    parse_value=_parse,
)
