"""Typed, validated request values shared by every surface (REST, OGC, GraphQL).

Parsing happens once, at the edge; each failure is an :class:`InvalidInput` whose message a
person can act on. Coordinates are lon/lat in EPSG:4326 (CRS84 axis order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo.errors import InvalidInput

MAX_RADIUS_M = 50_000.0


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number, got {value!r}.")
    return value


def _lon(value: float) -> float:
    if not -180.0 <= _finite(value, "longitude") <= 180.0:
        raise InvalidInput(f"longitude must be between -180 and 180, got {value}.")
    return value


def _lat(value: float) -> float:
    if not -90.0 <= _finite(value, "latitude") <= 90.0:
        raise InvalidInput(f"latitude must be between -90 and 90, got {value}.")
    return value


@dataclass(frozen=True, slots=True)
class LonLat:
    lon: float
    lat: float

    def __post_init__(self) -> None:
        _lon(self.lon)
        _lat(self.lat)


@dataclass(frozen=True, slots=True)
class BBox:
    """minx, miny, maxx, maxy in lon/lat. A box crossing the antimeridian is refused."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def __post_init__(self) -> None:
        _lon(self.minx), _lon(self.maxx), _lat(self.miny), _lat(self.maxy)
        if self.minx > self.maxx:
            raise InvalidInput(
                f"bbox minimum longitude {self.minx} is east of the maximum {self.maxx}."
            )
        if self.miny > self.maxy:
            raise InvalidInput(
                f"bbox minimum latitude {self.miny} is north of the maximum {self.maxy}."
            )

    @classmethod
    def parse(cls, text: str) -> BBox:
        """``minx,miny,maxx,maxy`` as in OGC API and most map clients."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise InvalidInput(
                f"bbox needs four comma-separated numbers minx,miny,maxx,maxy; got {len(parts)}."
            )
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InvalidInput(f"bbox values must be numbers, got {text!r}.") from None
        return cls(*values)


@dataclass(frozen=True, slots=True)
class Radius:
    metres: float

    def __post_init__(self) -> None:
        if not 0 < _finite(self.metres, "radius") <= MAX_RADIUS_M:
            raise InvalidInput(
                f"radius must be more than 0 and at most {MAX_RADIUS_M:g} m, got {self.metres}."
            )

    def degree_margins(self, lat: float) -> tuple[float, float]:
        """Half-widths in degrees (lon, lat) of a box that surely holds the circle at ``lat``."""
        dlat = self.metres / 110_540.0 * 1.01
        cos = max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
        return self.metres / (111_320.0 * cos) * 1.01, dlat


def limit(value: int | None, default: int, maximum: int) -> int:
    """A page size: ``default`` when absent, refused when out of 1..maximum."""
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise InvalidInput(f"limit must be between 1 and {maximum}, got {value}.")
    return value
