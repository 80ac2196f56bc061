"""Reading typed values from query strings: the HTTP edge of ``geo.params``."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from geo.errors import InvalidInput
from geo.params import LonLat


def required_float(params: QueryParams, name: str) -> float:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        raise InvalidInput(f"query parameter {name!r} is required.")
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"query parameter {name!r} must be a number, got {raw!r}.") from None


def lon_lat(params: QueryParams) -> LonLat:
    return LonLat(required_float(params, "lon"), required_float(params, "lat"))
