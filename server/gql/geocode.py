"""Geocoding in GraphQL: ``geocode(q)`` (free text → the best few addresses, each with a
confidence and the parts that matched) and ``reverseGeocode(lon, lat)`` (a point → the nearest
address). Public: the address base is public data. docs/geocoding.md."""

from __future__ import annotations

from typing import Any

import strawberry

from geo import geocoding
from geo.address_text import parse
from geo.errors import InvalidInput
from geo.geocode_rank import Candidate
from geo.params import LonLat
from geo.queries.geocode import Nearest, reverse_geocode
from geo.queries.geocode import geocode as forward
from server.gql.context import Info

MAX_LIMIT = 20


@strawberry.type(description="An address of the address base matching a text.")
class AddressCandidate:
    address_id: strawberry.ID
    label_zh: str = strawberry.field(description="The standard address in Chinese.")
    label_en: str
    road_zh: str
    road_en: str
    number: int = strawberry.field(description="The house number (odd one side, even the other).")
    building_zh: str | None
    district_zh: str
    street_zh: str
    grid_cell_code: str = strawberry.field(description="The grid cell it lies in.")
    lon: float
    lat: float
    confidence: float = strawberry.field(
        description="How sure the match is, 0 to 1; cases are placed at ≥ the server's "
        "threshold (ONEMAP_GEOCODE_MIN_CONFIDENCE, 0.75 by default)."
    )
    matched: list[str] = strawberry.field(
        description="The parts of the text that agree: road, number, building, district, street."
    )

    @classmethod
    def from_detail(cls, d: dict[str, Any]) -> AddressCandidate:
        """From an ADDRESS_UNCERTAIN error's candidate (geo.geocoding.candidate_detail)."""
        return cls.of(Candidate(**{**d, "matched": tuple(d["matched"])}))

    @classmethod
    def of(cls, c: Candidate) -> AddressCandidate:
        return cls(
            address_id=strawberry.ID(str(c.address_id)), label_zh=c.label_zh, label_en=c.label_en,
            road_zh=c.road_zh, road_en=c.road_en, number=c.number, building_zh=c.building_zh,
            district_zh=c.district_zh, street_zh=c.street_zh, grid_cell_code=c.grid_cell_code,
            lon=c.lon, lat=c.lat, confidence=c.confidence, matched=list(c.matched),
        )  # fmt: skip


@strawberry.type(description="The address nearest a point.")
class NearestAddress:
    address_id: strawberry.ID
    label_zh: str
    label_en: str
    road_zh: str
    road_en: str
    number: int
    building_zh: str | None
    district_zh: str
    street_zh: str
    grid_cell_code: str
    lon: float
    lat: float
    distance_m: float = strawberry.field(description="Metres from the point (spheroid).")

    @classmethod
    def of(cls, n: Nearest) -> NearestAddress:
        return cls(
            address_id=strawberry.ID(str(n.id)), label_zh=n.label_zh, label_en=n.label_en,
            road_zh=n.road_zh, road_en=n.road_en, number=n.number, building_zh=n.building_zh,
            district_zh=n.district_zh, street_zh=n.street_zh, grid_cell_code=n.grid_cell_code,
            lon=n.lon, lat=n.lat, distance_m=round(n.distance_m, 2),
        )  # fmt: skip


@strawberry.type
class GeocodeQuery:
    @strawberry.field(description="Free-text address (Chinese or English; district optional; "
                      "typos, 号/號, full-width digits and abbreviations tolerated) → the best "
                      "matches of the address base, most likely first.")  # fmt: skip
    async def geocode(self, info: Info, q: str, first: int = 5) -> list[AddressCandidate]:
        text = geocoding.checked(q, "q")
        if not 1 <= first <= MAX_LIMIT:
            raise InvalidInput(f"first is 1 to {MAX_LIMIT}.", field="first")
        found = await info.context.fetch(forward(parse(text), first))
        return [AddressCandidate.of(c) for c in found]

    @strawberry.field(description="The address nearest a point (WGS84), with its distance.")
    async def reverse_geocode(self, info: Info, lon: float, lat: float) -> NearestAddress | None:
        found = await info.context.fetch(reverse_geocode(LonLat(lon, lat)))
        return NearestAddress.of(found[0]) if found else None
