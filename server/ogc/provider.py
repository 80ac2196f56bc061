"""OneMap's pygeoapi feature provider: psycopg 3, the same SQL as the fast path.

pygeoapi instantiates a provider per request from its configuration (a plain dict), so the
provider finds its connection pool by a key in ``data`` — registered by the OGC service at
start-up — rather than holding a pool in the configuration (pygeoapi deep-copies that).
pygeoapi calls it for HTML and JSON-LD pages; GeoJSON requests take the fast path
(``server.ogc.items``), which shares every query function used here.

The configuration names a layer and a view kind only; the rows come from the *caller's* view
(``server.ogc.access.REQUEST_VIEWS``, with their jurisdiction in its row filter). Outside a
request there is none, and the provider reads nothing (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg import Connection
from psycopg.errors import QueryCanceled, SerializationFailure
from psycopg_pool import ConnectionPool
from pygeoapi.provider.base import (  # type: ignore[import-untyped]
    BaseProvider,
    ProviderGenericError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    SchemaType,
)

from geo.errors import InvalidInput
from geo.layers import LayerView, view
from geo.params import BBox
from geo.queries import fetch_sync, ogc_filter
from geo.queries.ogc_fields import TIME_FIELD, column, columns, enum_of, parse_value
from geo.queries.ogc_items import CRS84, OUTPUT_CRS, ItemQuery, count, item, items
from server.kernel.errors import connection_lost
from server.ogc.access import REQUEST_VIEWS
from server.ogc.params import item_id, parse_datetime

POOLS: dict[str, ConnectionPool[Connection[Any]]] = {}
#: The pool key of this request's lag-tolerant reads (a read replica's, set by the OGC service
#: in the worker thread; None: the provider's own, the primary's). docs/scale.md.
REQUEST_POOL: ContextVar[str | None] = ContextVar("onemap_ogc_read_pool", default=None)
_JSON_TYPES = {"datetime": ("string", "date-time")}


def field_schema(type_: str, values: list[str] | None = None) -> dict[str, Any]:
    json_type, fmt = _JSON_TYPES.get(type_, (type_, None))
    schema: dict[str, Any] = {"type": json_type}
    if fmt:
        schema["format"] = fmt
    if values:
        schema["values"] = values
    return schema


class OneMapProvider(BaseProvider):  # type: ignore[misc]
    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        data = provider_def["data"]
        found = view(data["layer"], internal=data["internal"])
        assert found is not None, data
        self.view = found
        self.pool_key = str(data.get("pool", ""))
        self.count_budget_ms = int(data.get("count_budget_ms", 2_000))
        self.count_cap = int(data.get("count_cap", 10_000))
        self._fields = {
            name: field_schema(col.type, enum_of(found, name))
            for name, col in columns(found).items()
            if name != "id"
        }

    def get_fields(self) -> dict[str, Any]:
        return self._fields

    def get_schema(self, schema_type: SchemaType = SchemaType.item) -> tuple[str, dict[str, Any]]:
        props = {
            k: {kk: vv for kk, vv in v.items() if kk != "values"} for k, v in self._fields.items()
        }
        return "application/geo+json", {
            "$schema": "http://json-schema.org/draft/2019-09/schema",
            "type": "object",
            "properties": {
                "type": {"const": "Feature"},
                "geometry": {"type": "object"},
                "properties": {"type": "object", "properties": props},
            },
            "required": ["type", "geometry", "properties"],
        }

    def _pool(self) -> ConnectionPool[Connection[Any]]:
        return POOLS[self.pool_key]

    def _read[T](self, work: Callable[[Connection[Any]], T]) -> T:
        """``work`` on the request's read replica when it has one, else (or when the replica
        cannot be reached, or replay cancelled the read) on the primary."""
        replica = POOLS.get(REQUEST_POOL.get() or "")
        if replica is not None:
            try:
                with replica.connection() as conn:
                    return work(conn)
            except psycopg.OperationalError as exc:
                if not (connection_lost(exc) or isinstance(exc, SerializationFailure)):
                    raise
        with self._pool().connection() as conn:
            return work(conn)

    def _rows(self) -> LayerView:
        """The caller's view of this layer: same columns as ``self.view``, their row filter."""
        found = REQUEST_VIEWS.get({}).get(self.view.name)
        if found is None or found.internal != self.view.internal:
            raise ProviderGenericError(user_msg=f"{self.view.name} is not readable here.")
        return found

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list[float] | None = None,
        datetime_: str | None = None,
        properties: list[tuple[str, str]] | None = None,
        sortby: list[dict[str, str]] | None = None,
        select_properties: list[str] | None = None,
        skip_geometry: bool = False,
        crs_transform_spec: Any = None,
        filterq: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        rows = self._rows()
        try:
            q = ItemQuery(
                view=rows,
                bbox=BBox(*bbox[:2], *bbox[-2:]) if bbox else None,
                time_field=TIME_FIELD.get(self.view.name),
                time=parse_datetime(datetime_) if datetime_ else None,
                equals=tuple(
                    (k, parse_value(column(self.view, k), v)) for k, v in properties or []
                ),
                cql=ogc_filter.tree_to_sql(self.view, filterq) if filterq is not None else None,
                sortby=tuple((s["property"], s["order"] == "-") for s in sortby or []),
                limit=limit,
                offset=offset,
                skip_geometry=skip_geometry,
                properties=tuple(select_properties) if select_properties else None,
                crs=self._crs(crs_transform_spec),
                count_cap=self.count_cap,
            )
        except InvalidInput as exc:
            raise ProviderInvalidQueryError(user_msg=exc.message) from None

        def read(conn: Connection[Any]) -> tuple[Any, int | None]:
            page = fetch_sync(conn, items(q))
            matched = page.matched
            if matched is None and q.offset == 0 and q.bbox is None and self.count_budget_ms > 0:
                try:
                    matched = fetch_sync(conn, count(q, self.count_budget_ms))
                except QueryCanceled:
                    matched = None  # over budget: no number rather than a guess
            return page, matched

        page, matched = self._read(read)
        result: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": json.loads(page.features),
            "numberReturned": page.returned,
        }
        if matched is not None:
            result["numberMatched"] = matched
        return result

    def get(self, identifier: Any, crs_transform_spec: Any = None, **kwargs: Any) -> Any:
        fid = item_id(str(identifier))
        text = None
        if fid is not None:
            rows, crs = self._rows(), self._crs(crs_transform_spec)
            text = self._read(lambda conn: fetch_sync(conn, item(rows, fid, crs)))
        if text is None:
            raise ProviderItemNotFoundError(user_msg=f"no feature {identifier!r}")
        return json.loads(text)

    @staticmethod
    def _crs(spec: Any) -> Any:
        uri = getattr(spec, "target_crs_uri", None)
        return OUTPUT_CRS.get(uri, CRS84) if uri else CRS84
