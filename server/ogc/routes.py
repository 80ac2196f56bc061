"""The ``/ogc`` routes: pygeoapi's core for the documents, our own for items, writes, tiles.

Each pygeoapi call runs with the pygeoapi instance of the caller's catalogue shape and the
caller's own views (``server.ogc.access``), in a worker thread. Collection documents gain the
tile links of our tiles routes.

Every route answers database errors as the other surfaces do (``database_error``, the kernel's
one mapping): a value PostgreSQL cannot hold is a 400, a lost database a 503 with
``Retry-After``. While the service's database is known to be down, the routes that read it
answer that 503 at once rather than wait for a connection; a probe notices its return.
"""

from __future__ import annotations

import json
import logging
from functools import wraps
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from geo.errors import Unavailable
from geo.layers import keeps_history
from server.kernel.auth.principal import principal_of
from server.kernel.errors import RETRY_AFTER_S, connection_lost, database_error
from server.kernel.health import DatabaseState
from server.ogc import items, tiles
from server.ogc.access import catalogue_of, view_of
from server.ogc.config import base_url, collection_metadata
from server.ogc.core import OgcService, itemtypes, pygeoapi_api
from server.ogc.core import tiles as tiles_api
from server.ogc.errors import Endpoint, exception, ogc_errors
from server.ogc.params import AS_OF_NOTE, COMMON, check_keys, output_format, parse_as_of
from server.ogc.tiles_meta import TILES_CONFORMANCE, TMS, collection_links
from server.ogc.usage import UsageMiddleware

log = logging.getLogger("onemap.ogc")


async def _call(
    request: Request, function: Any, *args: Any, allowed: set[str] = COMMON
) -> Response:
    # asOf is checked and ignored on the documents: GDAL's OAPIF driver appends the query of
    # its connection string ("OAPIF:…/ogc?asOf=…") to every request (docs/history.md).
    check_keys(request.query_params, allowed | {"asOf"})
    parse_as_of(request.query_params)
    output_format(request.query_params)
    ogc: OgcService = request.app.state.ogc
    return await ogc.call(request, catalogue_of(principal_of(request.scope)), function, *args)


def _collection(request: Request) -> str:
    name = str(request.path_params["collection"])
    view_of(principal_of(request.scope), name)  # NotFound / Unauthorized / Forbidden
    return name


def _patch_json(response: Response, patch: Any) -> Response:
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code != 200 or media not in ("application/json", "application/schema+json"):
        return response
    doc = json.loads(bytes(response.body))
    patch(doc)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(json.dumps(doc, ensure_ascii=False), status_code=200, headers=headers)


@ogc_errors
async def landing(request: Request) -> Response:
    return await _call(request, pygeoapi_api.landing_page)


@ogc_errors
async def openapi(request: Request) -> Response:
    """The document as JSON; as HTML, the app's own reference page (``/docs/ogc``: Swagger UI
    from the app, where pygeoapi's page loads it from a CDN)."""
    fmt = request.query_params.get("f")
    browsing = fmt is None and "text/html" in request.headers.get("accept", "")
    if (fmt or "").lower() == "html" or browsing:
        check_keys(request.query_params, COMMON | {"ui"})
        settings = request.app.state.ogc.settings
        return RedirectResponse(f"{settings.server.base_url}/docs/ogc", status_code=303)
    return await _call(request, pygeoapi_api.openapi_, allowed=COMMON | {"ui"})


#: Features Part 3 and the CQL2 classes the filter compiler (geo/queries/ogc_filter.py)
#: implements in full; temporal functions are partial (instants, T_DURING), so not claimed.
FILTER_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]


@ogc_errors
async def conformance(request: Request) -> Response:
    def add(doc: dict[str, Any]) -> None:
        doc["conformsTo"] = sorted(
            set(doc["conformsTo"]) | set(TILES_CONFORMANCE) | set(FILTER_CONFORMANCE)
        )

    return _patch_json(await _call(request, pygeoapi_api.conformance), add)


@ogc_errors
async def collections(request: Request) -> Response:
    base = base_url(request.app.state.ogc.settings)
    name = request.path_params.get("collection")
    args = (_collection(request),) if name is not None else ()

    def add(doc: dict[str, Any]) -> None:
        for c in [doc] if name is not None else doc.get("collections", []):
            if isinstance(c, dict) and "id" in c:
                c.setdefault("links", []).extend(collection_links(base, c["id"]))
                metadata = collection_metadata(str(c["id"]))
                if metadata is not None:  # a catalogue layer's (docs/catalogue.md)
                    c["onemap:catalogue"] = metadata

    return _patch_json(await _call(request, pygeoapi_api.describe_collections, *args), add)


@ogc_errors
async def queryables(request: Request) -> Response:
    allowed = COMMON | {"profile", "properties"}
    name = _collection(request)
    found = await _call(request, itemtypes.get_collection_queryables, name, allowed=allowed)
    if not keeps_history(name):
        return found

    def add(doc: dict[str, Any]) -> None:
        # Not a property (no filter on it): the layer's history, told beside them.
        doc["description"] = f"{doc.get('description') or ''} asOf: {AS_OF_NOTE}".strip()
        doc["x-onemap-asOf"] = {"type": "string", "format": "date-time", "description": AS_OF_NOTE}

    return _patch_json(found, add)


@ogc_errors
async def schema(request: Request) -> Response:
    return await _call(request, pygeoapi_api.get_collection_schema, _collection(request))


@ogc_errors
async def tile_matrix_sets(request: Request) -> Response:
    tms = request.path_params.get("tms")
    if tms is None:
        return await _call(request, tiles_api.tilematrixsets)
    if tms == TMS and output_format(request.query_params) == "json":
        check_keys(request.query_params, COMMON)
        return tiles.tile_matrix_set_doc(request)  # the one GDAL 3.6 reads too
    return await _call(request, tiles_api.tilematrixset, tms)


_STATES: WeakKeyDictionary[OgcService, DatabaseState] = WeakKeyDictionary()


def _state(ogc: OgcService) -> DatabaseState:
    found = _STATES.get(ogc)
    if found is None:
        found = _STATES[ogc] = DatabaseState(str(ogc.pool.conninfo))
    return found


def guarded(endpoint: Endpoint, reads_db: bool = False) -> Endpoint:
    """The route (an ``ogc_errors`` one) with database errors mapped before they reach its
    catch-all; ``reads_db``: answer 503 at once while the database is known to be down."""
    inner: Endpoint = getattr(endpoint, "__wrapped__", endpoint)

    @ogc_errors
    @wraps(inner)
    async def wrapped(request: Request) -> Response:
        ogc: OgcService = request.app.state.ogc
        state = _state(ogc)
        if reads_db and state.down:
            raise Unavailable(
                "The database cannot be reached just now; try again shortly.",
                retry_after_s=RETRY_AFTER_S,
            )
        try:
            return await inner(request)
        except psycopg.Error as exc:
            domain = database_error(exc)
            if domain is None:
                raise
            if connection_lost(exc):
                state.mark_down(str(exc).strip().splitlines()[0] if str(exc) else "lost")
                await _check_idle(ogc)
            raise domain from exc

    return wrapped


async def _check_idle(ogc: OgcService) -> None:
    """Drop the idle connections the outage broke (they would fail the next requests)."""
    try:
        await ogc.pool.check()
    except Exception as exc:  # the pool may be closing, or the server still gone
        log.debug("OGC pool check failed: %s", exc)


def routes() -> list[BaseRoute]:
    c = "/collections/{collection}"
    t = f"{c}/tiles"
    return [
        Route("/", guarded(landing), methods=["GET"]),
        Route("/openapi", guarded(openapi), methods=["GET"]),
        Route("/conformance", guarded(conformance), methods=["GET"]),
        Route("/TileMatrixSets", guarded(tile_matrix_sets), methods=["GET"]),
        Route("/TileMatrixSets/{tms}", guarded(tile_matrix_sets), methods=["GET"]),
        # OGC API - Tiles 1.0 spells the path this way (pygeoapi the other)
        Route("/tileMatrixSets", guarded(tile_matrix_sets), methods=["GET"]),
        Route("/tileMatrixSets/{tms}", guarded(tile_matrix_sets), methods=["GET"]),
        Route("/collections", guarded(collections), methods=["GET"]),
        Route(c, guarded(collections), methods=["GET"]),
        Route(f"{c}/queryables", guarded(queryables), methods=["GET"]),
        Route(f"{c}/schema", guarded(schema), methods=["GET"]),
        Route(
            f"{c}/items",
            guarded(items.collection_items, reads_db=True),
            methods=["GET", "POST", "OPTIONS"],
        ),
        Route(
            f"{c}/items/{{item}}",
            guarded(items.collection_item, reads_db=True),
            methods=["GET", "PUT", "DELETE", "OPTIONS"],
        ),
        Route(t, guarded(tiles.tilesets_doc), methods=["GET"]),
        Route(f"{t}/{{tms}}", guarded(tiles.tileset_doc), methods=["GET"]),
        Route(f"{t}/{{tms}}/tilejson.json", guarded(tiles.tilejson_doc), methods=["GET"]),
        # XYZ order with a suffix (docs/ogc.md): what GDAL's MVT driver opens as one tile
        *[
            Route(
                f"{t}/{{tms}}/{{z}}/{{x}}/{{y}}.{ext}",
                guarded(tiles.tile, reads_db=True),
                methods=["GET"],
            )
            for ext in ("pbf", "mvt")
        ],
        Route(
            f"{t}/{{tms}}/{{z}}/{{y}}/{{x}}", guarded(tiles.tile, reads_db=True), methods=["GET"]
        ),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing misses under /ogc (no such path, method not allowed) as OGC exceptions too."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return exception(405, "InvalidParameterValue", f"{request.method} is not allowed here.")
    if exc.status_code == 404:
        return exception(404, "NotFound", f"no resource at {request.url.path}.")
    return exception(exc.status_code, "NoApplicableCode", str(exc.detail))


def ogc_app(ogc: OgcService) -> Starlette:
    """The /ogc sub-application (its own error handlers; the principal comes from the scope)."""
    app = Starlette(
        routes=routes(),
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(UsageMiddleware, ogc=ogc)],  # API keys' usage
    )
    app.state.ogc = ogc
    return app
