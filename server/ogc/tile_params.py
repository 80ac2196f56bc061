"""The query string of a vector tile → the caller's filters and the tile's cache variant.

Tiles take the filters ``/items`` takes, parsed by the same functions (``server.ogc.params``,
``geo.queries.ogc_filter``) and applied by the same read builder: property filters
(``?status=closed``, typed from the queryables; a property given twice keeps the last value, as
on ``/items``), ``datetime`` (on the layer's time field; closed intervals) and CQL2 ``filter``
(``filter-lang`` text or JSON, ``filter-crs`` CRS84) and ``asOf`` (the layer's history,
docs/history.md). ``f`` may be ``mvt`` (or ``pbf``). Any
other parameter is a 400, as on ``/items``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import QueryParams

from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.queries import ogc_filter
from geo.queries.filters import AttributeFilter
from geo.queries.ogc_fields import TIME_FIELD, column, parse_value
from geo.queries.ogc_items import CRS84
from server.ogc.params import COMMON, check_keys, crs_of, parse_as_of, parse_datetime

TILE = COMMON | {"datetime", "filter", "filter-lang", "filter-crs", "asOf"}
FORMATS = (None, "mvt", "pbf")


@dataclass(frozen=True, slots=True)
class TileFilter:
    attributes: AttributeFilter | None
    #: A digest of the filters as asked (empty without any): part of the cache key.
    variant: str
    #: ``asOf`` (docs/history.md): the layer as it was then, read from its history; such
    #: tiles bypass the tile cache (its change notices speak of today's rows).
    as_of: datetime | None = None


def tile_filter(view: LayerView, params: QueryParams) -> TileFilter:
    """The filters of a tile request, checked; the first problem is the error."""
    check_keys(params, TILE, view)
    fmt = params.get("f")
    if (fmt.lower() if fmt else None) not in FORMATS:
        raise InvalidInput(f"f must be mvt for a tile (or left out), got {fmt!r}.")
    time_field = TIME_FIELD.get(view.name)
    start = end = None
    if (raw_time := params.get("datetime")) is not None:
        when = parse_datetime(raw_time)
        if time_field is None:
            raise InvalidInput(f"collection {view.name} has no temporal property for datetime.")
        start, end = when.start, when.end
    lang = params.get("filter-lang", "cql2-text")
    if lang not in ("cql2-text", "cql2-json"):
        raise InvalidInput(f"filter-lang must be cql2-text or cql2-json, got {lang!r}.")
    cql = None
    if (text := params.get("filter")) is not None:
        if crs_of(params.get("filter-crs"), "filter-crs") != CRS84:
            raise InvalidInput("filter-crs must be CRS84.")
        cql = ogc_filter.to_sql(view, text, lang)
    equals = {
        key: [parse_value(column(view, key), value)]
        for key, value in params.multi_items()
        if key in view.columns
    }
    # By name (a stable sort: a repeated name keeps its order, since the last value counts).
    asked = sorted(
        ((k, v) for k, v in params.multi_items() if k not in ("f", "lang")), key=lambda kv: kv[0]
    )
    as_of = parse_as_of(params)
    if not asked:
        return TileFilter(None, "")
    attributes = AttributeFilter(
        equals=equals,
        time_column=time_field if start or end else None,
        time_from=start,
        time_to=end,
        time_to_inclusive=True,
        cql=cql,
        as_of=as_of,
    )
    digest = hashlib.blake2b(repr(asked).encode(), digest_size=12).hexdigest()
    return TileFilter(attributes, digest, as_of)
