"""``GET /api/v1/search?q=&lon=&lat=``: places, facilities, grid cells, cases (by public id) and
case categories by name or number, nearest first around the phone — the same search as GraphQL's
``search`` and the map view's box (``geo.queries.place_search``), through the caller's views.

Public: an anonymous citizen finds what the public map shows; a signed-in staff member's token
widens it to what their views hold (hazard sources, cases in full within their jurisdiction).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator
from starlette.datastructures import QueryParams

from geo import access
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.place_search import MAX_TEXT, Hit, HitKind, search
from mobile_api.contract import PUBLIC, Call, Endpoint
from server.kernel.edge import lon_lat

SEARCHED_LAYERS = ("facilities", "cases")


class SearchQuery(BaseModel):
    q: Annotated[str, Field(min_length=2, max_length=MAX_TEXT, examples=["人民医院"],
                            description="A name, part of one, a code or a case's public id, "
                            "in Chinese or English; typos are tolerated.")]  # fmt: skip
    lon: Annotated[float | None, Field(ge=-180, le=180, examples=[121.4737])] = None
    lat: Annotated[float | None, Field(ge=-90, le=90, examples=[31.2304])] = None
    kinds: Annotated[list[HitKind] | None, Field(
        description="Only these kinds, comma-separated (FACILITY,GRID_CELL); default: all."
    )] = None  # fmt: skip
    limit: Annotated[int, Field(ge=1, le=50)] = 10

    @model_validator(mode="before")
    @classmethod
    def _at_the_edge(cls, raw: Any) -> Any:
        """A point, when given, is read by the shared edge parser (both or neither); kinds come
        comma-separated."""
        if not isinstance(raw, dict):
            return raw
        out = dict(raw)
        if isinstance(out.get("kinds"), str):
            out["kinds"] = [k.strip() for k in out["kinds"].split(",") if k.strip()]
        if "lon" in out or "lat" in out:
            point = lon_lat(QueryParams({"lon": out.get("lon"), "lat": out.get("lat")}))
            out.update(lon=point.lon, lat=point.lat)
        return out


class SearchHitOut(BaseModel):
    kind: HitKind
    id: str
    title_zh: str
    title_en: str
    subtitle: str | None
    score: float = Field(description="1 exact, 0.95 prefix, 0.9 part of the name, below: similar")
    lon: float | None = Field(description="Where it is (a point inside an area); null for a "
                              "category")  # fmt: skip
    lat: float | None
    distance_m: float | None


class SearchResults(BaseModel):
    items: list[SearchHitOut]


def _out(hit: Hit) -> SearchHitOut:
    return SearchHitOut(kind=hit.kind, id=hit.id, title_zh=hit.title_zh, title_en=hit.title_en,
                        subtitle=hit.subtitle, score=hit.score, lon=hit.lon, lat=hit.lat,
                        distance_m=hit.distance_m)  # fmt: skip


async def find(call: Call) -> SearchResults:
    query: SearchQuery = call.query
    views = access.views_for(call.principal)
    near = LonLat(query.lon, query.lat) if query.lon is not None and query.lat is not None else None
    kinds = frozenset(query.kinds) if query.kinds else frozenset(HitKind)
    found = search(query.q, {k: views[k] for k in SEARCHED_LAYERS if k in views}, kinds,
                   near=near, limit=query.limit)  # fmt: skip
    async with call.state.pool.connection() as conn:
        hits = await fetch(conn, found)
    return SearchResults(items=[_out(h) for h in hits])


endpoints = [
    Endpoint(
        "GET", "/search", find,
        "Find facilities, places, grid cells, cases (public id) and case categories by name, "
        "nearest first when lon/lat are given", "map", PUBLIC,
        query=SearchQuery, response=SearchResults, operation_id="searchPlaces",
    ),
]  # fmt: skip
