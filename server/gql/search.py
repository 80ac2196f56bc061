"""``search``: find places, facilities, grid cells, cases and case categories by name or number
(``geo.queries.place_search``), through the caller's views of the map."""

from __future__ import annotations

from typing import Any

import strawberry

from geo import access
from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.params import LonLat
from geo.queries.place_search import Hit, HitKind, search
from server.gql.context import Info
from server.gql.scalars import GeoJSON

SearchKind = strawberry.enum(
    HitKind,
    name="SearchKind",
    description="What a hit is. COMMUNITY, STREET and DISTRICT are administrative areas; "
    "CATEGORY is a case category (its id is the category code, for the cases filters).",
)
MAX_HITS = 50


@strawberry.input(description="A point: hits nearest to it first.")
class PointInput:
    lon: float
    lat: float


@strawberry.type(description="One search hit: enough to list it and fly to it; fetch the "
                 "object itself by kind and id (facility, case, gridCell, adminArea).")  # fmt: skip
class SearchHit:
    kind: HitKind
    id: strawberry.ID
    title_zh: str
    title_en: str
    subtitle: str | None = strawberry.field(
        description="Category (facilities, cases), or the code (cells, areas)."
    )
    score: float = strawberry.field(
        description="1 exact, 0.95 prefix, 0.9 substring, below: similar (typos)."
    )
    point: GeoJSON | None = strawberry.field(
        description="Where to fly to: the point, or a point inside the area; null for a "
        "category. A case's is its position in the caller's record (generalised for the "
        "public)."
    )
    distance_m: float | None

    @classmethod
    def of(cls, hit: Hit) -> SearchHit:
        point: Any = None
        if hit.lon is not None and hit.lat is not None:
            point = {"type": "Point", "coordinates": [hit.lon, hit.lat]}
        return cls(kind=hit.kind, id=strawberry.ID(hit.id), title_zh=hit.title_zh,
                   title_en=hit.title_en, subtitle=hit.subtitle, score=hit.score, point=point,
                   distance_m=hit.distance_m)  # fmt: skip


def _views(info: Info) -> dict[str, LayerView]:
    """The caller's views of the layers search reads (geo.access); a layer closed to the
    caller is left out (its hits are not the caller's to find)."""
    views = access.views_for(info.context.principal)
    return {name: views[name] for name in ("facilities", "cases") if name in views}


async def resolve(
    info: Info, text: str, near: PointInput | None, kinds: list[HitKind] | None, first: int
) -> list[SearchHit]:
    if not 1 <= first <= MAX_HITS:
        raise InvalidInput(f"first must be between 1 and {MAX_HITS}, got {first}.")
    point = LonLat(near.lon, near.lat) if near is not None else None
    wanted = frozenset(kinds) if kinds else frozenset(HitKind)
    hits = await info.context.fetch(search(text, _views(info), wanted, near=point, limit=first))
    return [SearchHit.of(h) for h in hits]
