"""``/collections/{c}/items`` and ``/items/{id}``: GeoJSON straight from PostGIS.

The fast path. A profile of pygeoapi's own route showed its per-request work (a provider built
per request, the FeatureCollection parsed into dicts and serialised again, link building, a
thread hop) costing several times the database's ~1 ms; here PostGIS writes the features and
Python only wraps them in the envelope. The URL contract is pygeoapi's; HTML and JSON-LD still
go to pygeoapi (through our provider), and writes to ``server.ogc.transactions``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from psycopg import AsyncConnection
from psycopg.errors import QueryCanceled
from starlette.requests import Request
from starlette.responses import Response

from geo.errors import NotFound
from geo.layers import LayerView
from geo.queries import fetch
from geo.queries.history import checked
from geo.queries.ogc_items import ItemQuery, Page, count, item, items
from server.kernel.auth.principal import principal_of
from server.kernel.read_your_writes import lag_tolerant
from server.ogc import downloads, transactions
from server.ogc.access import catalogue_of, view_of
from server.ogc.audit import audit_read
from server.ogc.config import base_url, title_of
from server.ogc.core import OgcService, itemtypes
from server.ogc.errors import ogc_errors
from server.ogc.params import (
    ITEM,
    check_keys,
    crs_of,
    item_id,
    item_query,
    output_format,
    parse_as_of,
)
from server.ogc.usage import served

GEOJSON = "application/geo+json"


def _view(request: Request) -> tuple[OgcService, str, LayerView]:
    """The caller's view of the collection: its row filter holds their jurisdiction."""
    ogc: OgcService = request.app.state.ogc
    name = request.path_params["collection"]
    return ogc, name, view_of(principal_of(request.scope), name)


def _link(rel: str, href: str, type_: str = GEOJSON, title: str | None = None) -> dict[str, Any]:
    link = {"rel": rel, "type": type_, "href": href}
    if title:
        link["title"] = title
    return link


def page_links(
    base: str, name: str, request: Request, q: ItemQuery, page: Page, next_limit: int
) -> list[Any]:
    """self, alternate, collection and, when there is more, next (and prev for offsets).

    In the default order the next link pages by keyset (``after`` = the page's last id);
    with ``sortby`` or an ``offset`` it pages by offset. It asks for up to ten times the
    page's ``limit``, up to ``next_limit``: GDAL 3.6 starts with 10 and follows next links
    as given, so a layer downloads in ~50 requests instead of ~5,000."""
    uri = f"{base}/collections/{name}/items"
    paging = ("f", "offset", "after", "limit")
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in paging]

    def href(fmt: str, limit: int, **position: int) -> str:
        moved = [(k, str(v)) for k, v in position.items() if v]
        pairs = [("f", fmt), ("limit", str(limit)), *moved, *kept]
        return f"{uri}?{urlencode(pairs)}"

    here = {"offset": q.offset} if q.after_id is None else {"after": q.after_id}
    links = [
        _link("self", href("json", q.limit, **here), title="This document as GeoJSON"),
        _link("alternate", href("html", q.limit, **here), "text/html", "This document as HTML"),
        _link("collection", f"{base}/collections/{name}", "application/json", title_of(name)[0]),
    ]
    if q.as_of is not None:  # the HTML pages show today's features only
        del links[1]
    bigger = max(q.limit, min(q.limit * 10, next_limit)) if next_limit else q.limit
    known_end = page.matched is not None and q.offset + q.limit >= page.matched
    if page.returned == q.limit and not known_end:
        if q.sortby or q.offset:
            links.append(_link("next", href("json", bigger, offset=q.offset + q.limit),
                               title="Next page"))  # fmt: skip
        elif page.last_id is not None:
            links.append(_link("next", href("json", bigger, after=page.last_id),
                               title="Next page"))  # fmt: skip
    if q.offset > 0:
        links.append(_link("prev", href("json", q.limit, offset=max(0, q.offset - q.limit)),
                           title="Previous page"))  # fmt: skip
    return links


async def _matched(conn: Any, q: ItemQuery, page: Page, budget_ms: int) -> int | None:
    """numberMatched: as the page statement found it (free, or counted up to the cap), else —
    for a first page without a bbox, a whole layer as GDAL and QGIS open it (``ogrinfo -so``,
    the layer's feature count) — counted exactly within the budget. A map's viewport (a bbox)
    above the cap goes without: nobody reads it there, and counting every pan would cost."""
    first = not q.offset and q.after_id is None
    if page.matched is not None or not first or q.bbox is not None or budget_ms <= 0:
        return page.matched
    try:
        return await fetch(conn, count(q, budget_ms))
    except QueryCanceled:
        return None  # over budget: no number rather than a guess


@ogc_errors
async def collection_items(request: Request) -> Response:
    if request.method == "POST":
        return await transactions.create(request)
    if request.method == "OPTIONS":
        return transactions.options(request)
    if downloads.wanted(request):
        return await downloads.collection_download(request)
    ogc, name, view = _view(request)
    q = item_query(view, request.query_params, ogc.settings.ogc)
    fmt = output_format(request.query_params)
    if fmt != "json":
        await audit_read(request, ogc, view, "ogc.items.read", format=fmt)
        catalogue = catalogue_of(principal_of(request.scope))
        return await ogc.call(request, catalogue, itemtypes.get_collection_items, name)
    settings = ogc.settings.ogc

    async def read(conn: AsyncConnection[Any]) -> tuple[ItemQuery, Any, int | None]:
        asked = q
        if asked.as_of is not None:  # the layer's history, as of then (docs/history.md)
            asked = replace(asked, view=await fetch(conn, checked(view, asked.as_of)))
        found = await fetch(conn, items(asked))
        return asked, found, await _matched(conn, asked, found, settings.count_budget_ms)

    # Plain reads: a read replica within the lag bound may answer (docs/scale.md).
    q, page, number = await lag_tolerant(request.scope, ogc.pool, read)
    await audit_read(request, ogc, view, "ogc.items.read", format=fmt, returned=page.returned)
    served(request, view.name, page.returned)
    page = replace(page, matched=number)
    links = page_links(base_url(ogc.settings), name, request, q, page, settings.next_limit)
    matched = f'"numberMatched":{number},' if number is not None else ""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = (
        f'{{"type":"FeatureCollection","features":{page.features},{matched}'
        f'"numberReturned":{page.returned},"links":{json.dumps(links, ensure_ascii=False)},'
        f'"timeStamp":"{stamp}"}}'
    )
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{q.crs.uri}>"})


@ogc_errors
async def collection_item(request: Request) -> Response:
    if request.method in ("PUT", "DELETE"):
        return await transactions.replace_or_delete(request)
    if request.method == "OPTIONS":
        return transactions.options(request)
    ogc, name, view = _view(request)
    check_keys(request.query_params, ITEM)
    fmt = output_format(request.query_params)
    crs = crs_of(request.query_params.get("crs"))
    when = parse_as_of(request.query_params, fmt)
    raw = request.path_params["item"]
    fid = item_id(raw)
    if fid is None:
        raise NotFound(f"no feature {raw!r} in {name}.")
    if fmt != "json":
        await audit_read(request, ogc, view, "ogc.item.read", str(fid), format=fmt)
        catalogue = catalogue_of(principal_of(request.scope))
        return await ogc.call(request, catalogue, itemtypes.get_collection_item, name, str(fid))

    async def read(conn: AsyncConnection[Any]) -> str | None:
        if when is None:
            return await fetch(conn, item(view, fid, crs))
        return await fetch(conn, item(await fetch(conn, checked(view, when)), fid, crs, when))

    text = await lag_tolerant(request.scope, ogc.pool, read)
    if text is None:
        then = f" as of {request.query_params['asOf']}" if when is not None else ""
        raise NotFound(f"no feature {raw!r} in {name}{then}.")
    await audit_read(request, ogc, view, "ogc.item.read", str(fid), format=fmt)
    served(request, view.name, 1)
    base = base_url(ogc.settings)
    uri = f"{base}/collections/{name}/items/{fid}"
    links = [
        _link("self", f"{uri}?f=json", title="This document as GeoJSON"),
        _link("alternate", f"{uri}?f=html", "text/html", "This document as HTML"),
        _link("collection", f"{base}/collections/{name}", "application/json", title_of(name)[0]),
    ]
    if when is not None:  # this version; the HTML page shows today's only
        then = urlencode({"f": "json", "asOf": request.query_params["asOf"]})
        links[:2] = [_link("self", f"{uri}?{then}", title="This version as GeoJSON")]
    body = f'{text[:-1]},"links":{json.dumps(links, ensure_ascii=False)}}}'
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{crs.uri}>"})
