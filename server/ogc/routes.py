"""The ``/ogc`` routes: pygeoapi's core for the documents, our own for items, writes, tiles.

Each pygeoapi call runs with the pygeoapi instance of the caller's catalogue shape and the
caller's own views (``server.ogc.access``), in a worker thread. Collection documents gain the
tile links of our tiles routes.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.kernel.auth.principal import principal_of
from server.ogc import items, tiles
from server.ogc.access import catalogue_of, view_of
from server.ogc.config import base_url
from server.ogc.core import OgcService, itemtypes, pygeoapi_api
from server.ogc.core import tiles as tiles_api
from server.ogc.errors import exception, ogc_errors
from server.ogc.params import COMMON, check_keys, output_format
from server.ogc.tiles_meta import TILES_CONFORMANCE, collection_links


async def _call(
    request: Request, function: Any, *args: Any, allowed: set[str] = COMMON
) -> Response:
    check_keys(request.query_params, allowed)
    output_format(request.query_params)
    ogc: OgcService = request.app.state.ogc
    return await ogc.call(request, catalogue_of(principal_of(request.scope)), function, *args)


def _collection(request: Request) -> str:
    name = str(request.path_params["collection"])
    view_of(principal_of(request.scope), name)  # NotFound / Unauthorized / Forbidden
    return name


def _patch_json(response: Response, patch: Any) -> Response:
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code != 200 or media != "application/json":
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
    return await _call(request, pygeoapi_api.openapi_, allowed=COMMON | {"ui"})


@ogc_errors
async def conformance(request: Request) -> Response:
    def add(doc: dict[str, Any]) -> None:
        doc["conformsTo"] = sorted(set(doc["conformsTo"]) | set(TILES_CONFORMANCE))

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

    return _patch_json(await _call(request, pygeoapi_api.describe_collections, *args), add)


@ogc_errors
async def queryables(request: Request) -> Response:
    allowed = COMMON | {"profile", "properties"}
    return await _call(
        request, itemtypes.get_collection_queryables, _collection(request), allowed=allowed
    )


@ogc_errors
async def schema(request: Request) -> Response:
    return await _call(request, pygeoapi_api.get_collection_schema, _collection(request))


@ogc_errors
async def tile_matrix_sets(request: Request) -> Response:
    tms = request.path_params.get("tms")
    if tms is None:
        return await _call(request, tiles_api.tilematrixsets)
    return await _call(request, tiles_api.tilematrixset, tms)


def routes() -> list[BaseRoute]:
    c = "/collections/{collection}"
    t = f"{c}/tiles"
    return [
        Route("/", landing, methods=["GET"]),
        Route("/openapi", openapi, methods=["GET"]),
        Route("/conformance", conformance, methods=["GET"]),
        Route("/TileMatrixSets", tile_matrix_sets, methods=["GET"]),
        Route("/TileMatrixSets/{tms}", tile_matrix_sets, methods=["GET"]),
        Route("/collections", collections, methods=["GET"]),
        Route(c, collections, methods=["GET"]),
        Route(f"{c}/queryables", queryables, methods=["GET"]),
        Route(f"{c}/schema", schema, methods=["GET"]),
        Route(f"{c}/items", items.collection_items, methods=["GET", "POST", "OPTIONS"]),
        Route(
            f"{c}/items/{{item}}",
            items.collection_item,
            methods=["GET", "PUT", "DELETE", "OPTIONS"],
        ),
        Route(t, tiles.tilesets_doc, methods=["GET"]),
        Route(f"{t}/{{tms}}", tiles.tileset_doc, methods=["GET"]),
        Route(f"{t}/{{tms}}/tilejson.json", tiles.tilejson_doc, methods=["GET"]),
        Route(f"{t}/{{tms}}/{{z}}/{{y}}/{{x}}", tiles.tile, methods=["GET"]),
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
    app = Starlette(routes=routes(), exception_handlers={HTTPException: _http_error})
    app.state.ogc = ogc
    return app
