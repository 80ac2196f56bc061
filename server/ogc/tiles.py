"""Vector tiles at ``/ogc/collections/{c}/tiles``: tilesets, a tileset, TileJSON, the tiles,
and the tile matrix set they use.

Public layers' tiles are shared-cacheable with an ETag; a staff caller's tiles (internal views,
bound to their jurisdiction) are ``private`` and vary by ``Authorization``, so no shared cache
mixes the two. The tile SQL uses the caller's own view: its row filter holds their jurisdiction.
Built tiles are kept in the service's tile cache (``server.ogc.tile_cache``) under the caller's
data class and filters; ``X-Cache`` says ``hit``, ``miss`` or ``bypass`` (no cache now).
"""

from __future__ import annotations

from typing import Any

import xxhash
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from geo.errors import InvalidInput, NotFound
from geo.layers import LayerView
from geo.queries import fetch
from geo.queries.history import checked
from geo.queries.tiles import Tile, mvt
from server.kernel.auth.principal import principal_of
from server.kernel.read_your_writes import lag_tolerant
from server.ogc.access import view_of
from server.ogc.audit import audit_read
from server.ogc.config import base_url, title_of
from server.ogc.core import OgcService
from server.ogc.errors import ogc_errors
from server.ogc.params import COMMON, check_keys
from server.ogc.tile_cache import Cached, coord_of, data_class
from server.ogc.tile_params import tile_filter
from server.ogc.tiles_meta import MVT, TMS, tile_matrix_set, tilejson, tileset, tilesets


def _view(request: Request, check: bool = True) -> tuple[OgcService, LayerView]:
    ogc: OgcService = request.app.state.ogc
    name = request.path_params["collection"]
    found = view_of(principal_of(request.scope), name)
    tms = request.path_params.get("tms")
    if tms is not None and tms != TMS:
        raise NotFound(f"no tile matrix set {tms!r}; this server offers {TMS}.")
    if check:
        check_keys(request.query_params, COMMON)
    return ogc, found


#: What a tile's answer depends on besides its URL: a token, or a department's API key.
VARY = "Authorization, X-API-Key"


def _cache_headers(view: LayerView, seconds: int) -> dict[str, str]:
    if view.internal:
        return {"Cache-Control": "private, max-age=0, must-revalidate", "Vary": VARY}
    return {"Cache-Control": f"public, max-age={seconds}", "Vary": VARY}


def _metadata(request: Request, build: Any) -> tuple[Any, LayerView, OgcService]:
    """One of the tile-metadata documents (tilesets, tileset, TileJSON) for the layer."""
    ogc, view = _view(request)
    args = (base_url(ogc.settings), view, title_of(view)[0], ogc.settings.ogc.tile_max_zoom)
    return build(*args, ogc.extent), view, ogc


@ogc_errors
async def tilesets_doc(request: Request) -> Response:
    return JSONResponse(_metadata(request, tilesets)[0])


@ogc_errors
async def tileset_doc(request: Request) -> Response:
    return JSONResponse(_metadata(request, tileset)[0])


@ogc_errors
async def tilejson_doc(request: Request) -> Response:
    doc, view, ogc = _metadata(request, tilejson)
    return JSONResponse(doc, headers=_cache_headers(view, ogc.settings.ogc.tile_cache_s))


def _number(request: Request, name: str) -> int:
    raw = str(request.path_params[name])
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise InvalidInput(f"{name} must be a non-negative integer, got {raw!r}.")
    return int(raw)


def tile_matrix_set_doc(request: Request) -> Response:
    """WebMercatorQuad as GDAL 3.6 and later read it (``tiles_meta.tile_matrix_set``)."""
    ogc: OgcService = request.app.state.ogc
    return JSONResponse(tile_matrix_set(base_url(ogc.settings), ogc.settings.ogc.tile_max_zoom))


def _tile_of(request: Request) -> Tile:
    """The tile of an OGC path (``{z}/{y}/{x}``: row, then column) or of an XYZ one
    (``{z}/{x}/{y}.pbf``: column, then row, as tile directories and TileJSON have it); the
    routes name the parts alike."""
    return Tile(_number(request, "z"), _number(request, "x"), _number(request, "y"))


@ogc_errors
async def tile(request: Request) -> Response:
    ogc, view = _view(request, check=False)
    settings = ogc.settings.ogc
    t = _tile_of(request).check(settings.tile_max_zoom)
    wanted = tile_filter(view, request.query_params)
    cache = ogc.tiles
    coord, variant = coord_of(view, t), f"{data_class(view)}:{wanted.variant}"
    state, found = "bypass", None
    if wanted.as_of is not None:  # the layer's history (docs/history.md): never cached
        live, when = view, wanted.as_of
        view = await lag_tolerant(request.scope, ogc.pool, lambda c: fetch(c, checked(live, when)))
    # A catalogue layer's table has no change notices (docs/catalogue.md): never cached here.
    elif not view.catalogue and await cache.usable():
        assert cache.store is not None
        found, token = await cache.store.lookup(coord, variant)
        state = "hit" if found is not None else "miss"
        if found is not None:
            cache.hits += 1
        else:
            cache.misses += 1
    if found is None:
        query = mvt(view, t, settings.tile_feature_cap, wanted.attributes)
        if state == "miss":
            # A tile stored in the cache is built on the primary: a replica's could predate
            # the change whose notice just emptied the cache, and stay there until the next.
            async with ogc.pool.connection() as conn:
                data = await fetch(conn, query)
        else:  # no cache: a read replica within the lag bound may answer (docs/scale.md)
            data = await lag_tolerant(request.scope, ogc.pool, lambda c: fetch(c, query))
        found = Cached(data, f'"{xxhash.xxh3_128_hexdigest(data)}"')
        if state == "miss":
            assert cache.store is not None
            await cache.store.store(coord, variant, found, token)
    await audit_read(
        request, ogc, view, "ogc.tile.read", f"{t.z}/{t.y}/{t.x}", bytes=len(found.data)
    )
    headers = _cache_headers(view, settings.tile_cache_s) | {"ETag": found.etag, "X-Cache": state}
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=MVT, headers=headers)
