"""``/collections/{c}/items?f=csv`` and ``?f=gpkg``: a whole selection as a file (docs/ogc.md,
"Downloads"); the open-data portal's files (``/open/datasets/{name}.csv|geojson|gpkg``,
docs/open-data.md) are the same downloads of the whole dataset, GeoJSON streamed as one
FeatureCollection.

Every ``/items`` parameter means what it means for a page (``item_query``, the one parser, and
the one read builder behind ``geo.queries.ogc_download``), except that ``limit`` defaults to
the whole selection, up to ``ONEMAP_OGC_DOWNLOAD_MAX`` features: a larger selection without a
``limit`` is a 400 before any byte is sent, as is every bad parameter. The caller's view decides
the rows (their jurisdiction) and the columns (a public caller never gets ``attributes`` or
hazard sources); a download of an internal view is audited (``ogc.items.download``, with the
format and the number of features) before its first byte leaves.

CSV is streamed from a server-side cursor; a GeoPackage is written to a temporary file first
(``server.ogc.gpkg``) and then sent. Both read under the export class's statement time-out.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from weakref import WeakKeyDictionary

import anyio.to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from geo.errors import InvalidInput, Unavailable
from geo.layers import LayerView
from geo.queries import fetch
from geo.queries import ogc_download as q_download
from geo.queries.history import checked
from geo.queries.ogc_fields import type_of
from geo.queries.ogc_items import ItemQuery
from server.kernel import request_class
from server.kernel.auth.principal import principal_of
from server.ogc import gpkg
from server.ogc.access import view_of
from server.ogc.audit import audit_read
from server.ogc.config import title_of
from server.ogc.core import OgcService
from server.ogc.params import item_query
from server.ogc.usage import served

CSV = "text/csv; charset=utf-8"
GEOJSON = "application/geo+json"
FORMATS = ("csv", "gpkg")
BOM = "\ufeff".encode()
CHUNK = 256 * 1024
#: Rows fetched from the cursor at a time: the most a download holds in memory.
BATCH = 5000
RETRY_AFTER_S = 10


def wanted(request: Request) -> bool:
    """Whether the request asks for a download (``f=csv`` or ``f=gpkg``)."""
    return (request.query_params.get("f") or "").lower() in FORMATS


@dataclass(frozen=True, slots=True)
class Selection:
    ogc: OgcService
    view: LayerView
    query: ItemQuery
    limit: int  # the features the download holds (counted when it was asked for)
    fmt: str


async def collection_download(
    request: Request, name: str | None = None, fmt: str | None = None
) -> StreamingResponse:
    """The download, or a 4xx (bad parameters, too big, closed collection) before any byte.
    ``name`` and ``fmt`` (csv, gpkg, geojson) for the open-data portal's file URLs
    (``/open/datasets/{name}.{fmt}``); otherwise the path's collection and ``f``."""
    ogc: OgcService = request.app.state.ogc
    name = name or request.path_params["collection"]
    view, query, limited = _parse(request, ogc, name)
    release = await _slot(ogc)
    try:
        fmt = fmt or (request.query_params.get("f") or "").lower()
        selection = await _count(ogc, view, query, limited, fmt)
        served(request, view.name, selection.limit)
        if selection.fmt == "csv":
            return await _csv(request, selection, release)
        if selection.fmt == "geojson":
            return await _geojson(request, selection, release)
        return await _gpkg(request, selection, release)
    except BaseException:
        release()
        raise


def _parse(request: Request, ogc: OgcService, name: str) -> tuple[LayerView, ItemQuery, bool]:
    """The caller's view (401/403/404) and the checked query (400); whether it has a limit."""
    view = view_of(principal_of(request.scope), name)
    params = QueryParams([(k, v) for k, v in request.query_params.multi_items() if k != "f"])
    most = ogc.settings.ogc.download_max
    limits = ogc.settings.ogc.model_copy(update={"default_limit": most, "max_limit": most})
    return view, item_query(view, params, limits), "limit" in params


async def _count(
    ogc: OgcService, view: LayerView, query: ItemQuery, limited: bool, fmt: str
) -> Selection:
    """The selection counted: a 400 when it is over the maximum and no limit was asked for."""
    with request_class.export():
        async with ogc.pool.connection() as conn:
            if query.as_of is not None:  # the layer as it was then (docs/history.md)
                query = replace(query, view=await fetch(conn, checked(view, query.as_of)))
            matched = await fetch(conn, q_download.count(query))
    selected = max(0, matched - query.offset)
    most = ogc.settings.ogc.download_max
    if not limited and selected > most:
        raise InvalidInput(
            f"The selection holds {selected} features; a download holds at most {most} "
            "(ONEMAP_OGC_DOWNLOAD_MAX). Narrow it (bbox, datetime, a property or filter) or "
            f"ask for the first ones with limit (at most {most})."
        )
    return Selection(ogc, view, query, min(selected, query.limit), fmt)


_SLOTS: WeakKeyDictionary[OgcService, asyncio.Semaphore] = WeakKeyDictionary()


async def _slot(ogc: OgcService) -> Callable[[], None]:
    """One of the process's download slots (each download holds a database connection while
    it streams), or 503; the function returned gives it back (once)."""
    slots = _SLOTS.get(ogc)
    if slots is None:
        slots = _SLOTS[ogc] = asyncio.Semaphore(ogc.settings.ogc.download_slots)
    if slots.locked():
        raise Unavailable(
            "Too many downloads are being served just now; try again shortly.",
            retry_after_s=RETRY_AFTER_S,
        )
    await slots.acquire()
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            slots.release()

    return release


class Download(StreamingResponse):
    """A streamed file whose ``cleanup`` runs once the response is over, however it ends (sent,
    the client gone, an error), even when its body was never started."""

    def __init__(
        self, body: AsyncIterator[bytes], cleanup: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(body, **kwargs)
        self._body = body
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._body, "aclose", None)
            if aclose is not None:
                await aclose()
            self._cleanup()


def _headers(selection: Selection, extension: str) -> dict[str, str]:
    name = selection.view.name
    day = datetime.now(UTC).strftime("%Y%m%d")
    return {
        "Content-Disposition": f'attachment; filename="{name}-{day}.{extension}"',
        "Content-Crs": f"<{selection.query.crs.uri}>",
        "Cache-Control": "private, no-store" if selection.view.internal else "no-cache",
        "Vary": "Authorization, X-API-Key",
        "X-Content-Type-Options": "nosniff",
    }


# --- CSV ----------------------------------------------------------------------------------


def csv_header(selection: Selection, columns: q_download.Columns) -> list[str]:
    """Points get ``lon``/``lat`` columns (``x``/``y`` in EPSG:3857), areas a ``wkt`` column,
    which GDAL's CSV driver reads as the geometry without options."""
    metres = selection.query.crs.srid == 3857
    names = {"x": "x" if metres else "lon", "y": "y" if metres else "lat", "wkt": "wkt"}
    return [names.get(c, c) for c in columns.names]


def _cell(value: Any, digits: int) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return repr(round(value, digits))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def csv_text(rows: Sequence[tuple[Any, ...]], digits: int) -> bytes:
    """A batch of rows as CSV (CRLF line ends, RFC 4180 quoting), UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([_cell(v, digits) for v in row] for row in rows)
    return buffer.getvalue().encode()


async def _csv(request: Request, selection: Selection, release: Callable[[], None]) -> Download:
    columns = q_download.columns(selection.query, "text")
    statement = q_download.rows(selection.query, columns, selection.limit)
    header = csv_header(selection, columns)
    bom = selection.ogc.settings.ogc.csv_bom
    digits = selection.query.crs.digits
    pool = selection.ogc.pool

    async def body() -> AsyncIterator[bytes]:
        yield (BOM if bom else b"") + csv_text([tuple(header)], digits)
        with request_class.export():
            async with pool.connection() as conn:
                async for rows in q_download.stream(conn, statement, BATCH):
                    # thousands of rows take milliseconds to write: not on the event loop
                    yield await anyio.to_thread.run_sync(csv_text, rows, digits)

    await audit_read(
        request,
        selection.ogc,
        selection.view,
        "ogc.items.download",
        format="csv",
        features=selection.limit,
    )
    return Download(body(), release, media_type=CSV, headers=_headers(selection, "csv"))


# --- GeoJSON ------------------------------------------------------------------------------


async def _geojson(request: Request, selection: Selection, release: Callable[[], None]) -> Download:
    """One FeatureCollection, streamed: the features as PostGIS writes them for ``/items``."""
    statement = q_download.features(selection.query, selection.limit)
    pool = selection.ogc.pool
    head = json.dumps({"type": "FeatureCollection", "name": selection.view.name})[:-1]

    async def body() -> AsyncIterator[bytes]:
        yield f'{head}, "features": ['.encode()
        first = True
        with request_class.export():
            async with pool.connection() as conn:
                async for rows in q_download.stream(conn, statement, BATCH):
                    text = ",\n".join(r[0] for r in rows)
                    yield (("" if first else ",\n") + text).encode()
                    first = False
        yield b"]}\n"

    await audit_read(request, selection.ogc, selection.view, "ogc.items.download",
                     format="geojson", features=selection.limit)  # fmt: skip
    return Download(body(), release, media_type=GEOJSON, headers=_headers(selection, "geojson"))


# --- GeoPackage ---------------------------------------------------------------------------


async def _gpkg(request: Request, selection: Selection, release: Callable[[], None]) -> Download:
    file, written = await _build_gpkg(selection)
    try:
        await audit_read(
            request,
            selection.ogc,
            selection.view,
            "ogc.items.download",
            format="gpkg",
            features=written,
        )
        size = os.fstat(file.fileno()).st_size
    except BaseException:
        file.close()
        raise

    async def body() -> AsyncIterator[bytes]:
        while chunk := await anyio.to_thread.run_sync(file.read, CHUNK):
            yield chunk

    def cleanup() -> None:
        file.close()
        release()

    headers = {**_headers(selection, "gpkg"), "Content-Length": str(size)}
    return Download(body(), cleanup, media_type=gpkg.MEDIA_TYPE, headers=headers)


async def _build_gpkg(selection: Selection) -> tuple[IO[bytes], int]:
    """The finished file, open for reading (its folder is already gone), and its features."""
    query = selection.query
    columns = q_download.columns(query, "wkb")
    statement = q_download.rows(query, columns, selection.limit)
    folder = tempfile.mkdtemp(prefix="onemap-download-")
    try:
        layer = gpkg.Layer(
            path=Path(folder) / f"{selection.view.name}.gpkg",
            name=selection.view.name,
            title=title_of(selection.view)[0],
            description=title_of(selection.view)[1],
            properties=columns.properties,
            types=tuple(type_of(selection.view, p) for p in columns.properties),
            geometry_type=selection.view.geometry_type if columns.geometry else None,
            srid=query.crs.srid,
        )
        written = 0
        with request_class.export():
            async with selection.ogc.pool.connection() as conn:
                async for rows in q_download.stream(conn, statement, BATCH):
                    await anyio.to_thread.run_sync(gpkg.write, layer, rows, written == 0)
                    written += len(rows)
        if written == 0:  # an empty selection is still a layer with its fields
            await anyio.to_thread.run_sync(gpkg.write, layer, [], True)
        return layer.path.open("rb"), written
    finally:
        shutil.rmtree(folder, ignore_errors=True)
