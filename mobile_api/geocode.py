"""``GET /api/v1/geocode?q=`` (free-text address → the best matches, each with a confidence)
and ``GET /api/v1/reverse-geocode?lon=&lat=`` (a point → the nearest address). Public: the
address base is public data. docs/geocoding.md."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from geo.address_text import parse
from geo.errors import NotFound
from geo.geocoding import MAX_TEXT, candidate_detail, checked
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.geocode import geocode, reverse_geocode
from mobile_api.contract import PUBLIC, Call, Endpoint


class GeocodeQuery(BaseModel):
    q: Annotated[str, Field(min_length=2, max_length=MAX_TEXT, examples=["新华路12号"],
                            description="An address as people write it, Chinese or English; "
                            "the district may be left out.")]  # fmt: skip
    limit: Annotated[int, Field(ge=1, le=20)] = 5


class ReverseQuery(BaseModel):
    lon: Annotated[float, Field(ge=-180, le=180, examples=[121.4737])]
    lat: Annotated[float, Field(ge=-90, le=90, examples=[31.2304])]


class AddressMatch(BaseModel):
    address_id: int
    label_zh: str = Field(description="The standard address in Chinese")
    label_en: str
    road_zh: str
    road_en: str
    number: int
    building_zh: str | None
    district_zh: str
    street_zh: str
    grid_cell_id: int
    grid_cell_code: str
    lon: float
    lat: float
    confidence: float = Field(description="0 to 1; cases are placed at ≥ the server's "
                              "threshold (0.75 by default)")  # fmt: skip
    road_similarity: float
    matched: list[str] = Field(description="Parts that agree: road, number, building, district…")


class GeocodeResults(BaseModel):
    items: list[AddressMatch]


class NearestAddressOut(BaseModel):
    address_id: int
    label_zh: str
    label_en: str
    grid_cell_code: str
    lon: float
    lat: float
    distance_m: float = Field(description="Metres from the point (spheroid)")


async def forward(call: Call) -> GeocodeResults:
    query: GeocodeQuery = call.query
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, geocode(parse(checked(query.q, "q")), query.limit))
    return GeocodeResults(items=[AddressMatch(**candidate_detail(c)) for c in found])


async def reverse(call: Call) -> NearestAddressOut:
    query: ReverseQuery = call.query
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, reverse_geocode(LonLat(query.lon, query.lat)))
    if not found:
        raise NotFound("The address base is empty.")
    n = found[0]
    return NearestAddressOut(address_id=n.id, label_zh=n.label_zh, label_en=n.label_en,
                             grid_cell_code=n.grid_cell_code, lon=n.lon, lat=n.lat,
                             distance_m=round(n.distance_m, 2))  # fmt: skip


endpoints = [
    Endpoint(
        "GET", "/geocode", forward,
        "Free-text address → the best matching addresses of the city, each with a confidence",
        "map", PUBLIC, query=GeocodeQuery, response=GeocodeResults, operation_id="geocode",
    ),
    Endpoint(
        "GET", "/reverse-geocode", reverse, "A point → the nearest address, with its distance",
        "map", PUBLIC, query=ReverseQuery, response=NearestAddressOut,
        operation_id="reverseGeocode",
    ),
]  # fmt: skip
