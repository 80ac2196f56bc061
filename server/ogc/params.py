"""The query string of ``/items`` → a typed :class:`ItemQuery`, or InvalidInput with the reason.

OGC API - Features Part 1 asks for a 400 on any parameter the API does not define, so every
key is either one of ours or a published property of the collection.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from functools import cache

from pyproj import Transformer
from starlette.datastructures import QueryParams

from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.params import BBox
from geo.queries import ogc_filter
from geo.queries.ogc_fields import TIME_FIELD, column, parse_value
from geo.queries.ogc_items import CRS84, OUTPUT_CRS, ItemQuery, OutputCrs, TimeRange
from server.kernel.settings import OgcSettings

FORMATS = {None: "json", "json": "json", "geojson": "json", "html": "html", "jsonld": "jsonld"}
COMMON = {"f", "lang"}
ITEMS = COMMON | {
    "bbox", "bbox-crs", "datetime", "limit", "offset", "after", "sortby", "properties",
    "skipGeometry", "filter", "filter-lang", "filter-crs", "crs", "asOf",
}  # fmt: skip
ITEM = COMMON | {"crs", "asOf"}
MAX_OFFSET = 2**31
_CRS_ALIASES = {"EPSG:4326": "http://www.opengis.net/def/crs/EPSG/0/4326",
                "EPSG:3857": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "EPSG:4490": "http://www.opengis.net/def/crs/EPSG/0/4490",
                "CRS84": CRS84.uri, "OGC:CRS84": CRS84.uri}  # fmt: skip


def output_format(params: QueryParams) -> str:
    raw = params.get("f")
    found = FORMATS.get(raw.lower() if raw else None)
    if found is None:
        raise InvalidInput(f"f must be one of json, geojson, html, jsonld; got {raw!r}.")
    return found


def crs_of(raw: str | None, what: str = "crs") -> OutputCrs:
    if raw is None:
        return CRS84
    uri = _CRS_ALIASES.get(raw, raw).strip("<>")
    found = OUTPUT_CRS.get(uri)
    if found is None:
        raise InvalidInput(f"{what} {raw!r} is not supported; use one of {', '.join(OUTPUT_CRS)}.")
    return found


def check_keys(params: QueryParams, allowed: set[str], view: LayerView | None = None) -> None:
    props = set(view.columns) if view is not None else set()
    for key, value in params.multi_items():
        if key not in allowed and key not in props:
            raise InvalidInput(f"unknown query parameter {key!r}.")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL: refuse it here, not as a 500
            raise InvalidInput(f"query parameter {key!r} contains a NUL character.")


@cache
def _from_3857() -> Transformer:
    return Transformer.from_crs(3857, 4326, always_xy=True)


def parse_bbox(raw: str, bbox_crs: str | None) -> BBox:
    crs = crs_of(bbox_crs, "bbox-crs")
    parts = raw.split(",")
    if len(parts) != 4:
        raise InvalidInput(f"bbox needs four numbers minx,miny,maxx,maxy; got {len(parts)}.")
    try:
        a, b, c, d = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"bbox values must be numbers, got {raw!r}.") from None
    if not all(math.isfinite(v) for v in (a, b, c, d)):
        raise InvalidInput("bbox values must be finite numbers.")
    if crs.srid == 3857:
        if a > c or b > d:
            raise InvalidInput("bbox minimum is above its maximum.")
        xs, ys = _from_3857().transform([a, c], [b, d])
        return BBox(max(xs[0], -180), max(ys[0], -90), min(xs[1], 180), min(ys[1], 90))
    if crs.lat_first:  # EPSG:4326 / 4490 boxes are lat,lon
        a, b, c, d = b, a, d, c
    return BBox(a, b, c, d)


def _instant(raw: str, end: bool) -> datetime:
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day, time.max if end else time.min, UTC)
        value = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"datetime {raw!r} is not an RFC 3339 date or date-time.") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_datetime(raw: str) -> TimeRange:
    if "/" not in raw:
        start, end = _instant(raw, False), _instant(raw, True)
        if len(raw) != 10:
            end = start
        return TimeRange(start, end)
    first, _, second = raw.partition("/")
    if "/" in second:
        raise InvalidInput(f"datetime {raw!r} has more than one '/'.")
    lo = None if first in ("", "..") else _instant(first, False)
    hi = None if second in ("", "..") else _instant(second, True)
    if lo is None and hi is None:
        raise InvalidInput("datetime interval needs at least one end.")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput(f"datetime interval {raw!r} ends before it starts.")
    return TimeRange(lo, hi)


#: ``asOf`` as the OpenAPI document and the queryables describe it (docs/history.md).
AS_OF_NOTE = (
    "OneMap vendor parameter: the features as they were at this instant (RFC 3339 date-time, "
    "e.g. 2026-06-01T00:00:00Z), from the layer's history. A time before the history starts or "
    "in the future is a 400. Every other parameter applies as usual."
)


def parse_as_of(params: QueryParams, fmt: str = "json") -> datetime | None:
    """``asOf`` (docs/history.md): an RFC 3339 date-time (a date is its first instant, UTC;
    without an offset, UTC). Whether the layer's history covers it is the read's check
    (``geo.queries.history``). Served as GeoJSON (and tiles) only."""
    raw = params.get("asOf")
    if raw is None:
        return None
    if fmt != "json":
        raise InvalidInput("asOf is served as GeoJSON (f=json) and vector tiles only.")
    try:
        return _instant(raw, False)
    except InvalidInput:
        raise InvalidInput(
            f"asOf {raw!r} is not an RFC 3339 date-time (e.g. 2026-06-01T00:00:00Z)."
        ) from None


def _int(params: QueryParams, name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}.") from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}, got {value}.")
    return value


def _bool(params: QueryParams, name: str) -> bool:
    raw = (params.get(name) or "false").lower()
    if raw not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false, got {raw!r}.")
    return raw == "true"


def _sortby(view: LayerView, raw: str | None) -> tuple[tuple[str, bool], ...]:
    if raw is None:
        return ()
    keys = []
    for part in raw.split(","):
        name = part.strip()
        desc = name.startswith("-")
        name = name.lstrip("+-").strip()
        col = column(view, name)
        if col.type == "object":
            raise InvalidInput(f"cannot sort by {name}: it is an object.")
        keys.append((col.name, desc))
    return tuple(keys)


def _properties(view: LayerView, raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = tuple(p.strip() for p in raw.split(",") if p.strip())
    for name in names:
        if name not in view.columns:
            raise InvalidInput(f"unknown property {name!r} in properties; known: "
                               f"{', '.join(view.columns)}.")  # fmt: skip
    return names


def item_query(view: LayerView, params: QueryParams, settings: OgcSettings) -> ItemQuery:
    """Everything ``/items`` may be asked, checked; the first problem is the error."""
    check_keys(params, ITEMS, view)
    fmt = output_format(params)
    bbox_raw, bbox_crs = params.get("bbox"), params.get("bbox-crs")
    if bbox_crs is not None and bbox_raw is None:
        raise InvalidInput("bbox-crs was given without a bbox.")
    bbox = parse_bbox(bbox_raw, bbox_crs) if bbox_raw is not None else None
    time_field = TIME_FIELD.get(view.name)
    time_range = None
    if (raw_time := params.get("datetime")) is not None:
        time_range = parse_datetime(raw_time)
        if time_field is None:
            raise InvalidInput(f"collection {view.name} has no temporal property for datetime.")
    cql = None
    lang = params.get("filter-lang", "cql2-text")
    if lang not in ("cql2-text", "cql2-json"):
        raise InvalidInput(f"filter-lang must be cql2-text or cql2-json, got {lang!r}.")
    if (text := params.get("filter")) is not None:
        if crs_of(params.get("filter-crs"), "filter-crs") != CRS84:
            raise InvalidInput("filter-crs must be CRS84.")
        cql = ogc_filter.to_sql(view, text, lang)
    equals = tuple(
        (key, parse_value(column(view, key), value))
        for key, value in params.multi_items()
        if key in view.columns
    )
    sortby = _sortby(view, params.get("sortby"))
    offset = _int(params, "offset", 0, 0, MAX_OFFSET)
    after = None
    if "after" in params:
        after = _int(params, "after", 0, 0, 2**63 - 1)
        if sortby or offset:
            raise InvalidInput("after pages the default order (by id) from a next link; with "
                               "sortby or offset, page with offset.")  # fmt: skip
    return ItemQuery(
        view=view,
        bbox=bbox,
        time_field=time_field,
        time=time_range,
        equals=equals,
        cql=cql,
        sortby=sortby,
        limit=_int(params, "limit", settings.default_limit, 1, settings.max_limit),
        offset=offset,
        after_id=after,
        skip_geometry=_bool(params, "skipGeometry"),
        properties=_properties(view, params.get("properties")),
        crs=crs_of(params.get("crs")),
        count_cap=settings.count_cap,
        as_of=parse_as_of(params, fmt),
    )


def item_id(raw: str) -> int | None:
    """A feature id as the database has it (None: no feature can have this id)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)
