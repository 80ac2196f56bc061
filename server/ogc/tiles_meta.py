"""OGC API - Tiles documents for our vector tiles: tilesets, a tileset, the tile matrix set,
TileJSON 3, OpenAPI.

One tile matrix set, WebMercatorQuad, described at ``/tileMatrixSets/WebMercatorQuad`` (and
``/TileMatrixSets/…``, pygeoapi's spelling) in OGC TMS 2.0 JSON *with* the TMS 1.0 members
(``type``, ``identifier``, ``supportedCRS``, ``boundingBox``, ``topLeftCorner``): GDAL up to 3.6
only recognises a tile-matrix-set document by those (pygeoapi's 2.0-only document made GDAL
3.6's OGCAPI driver fail with "Invalid tiling matrix set name"); 3.7+ reads the 2.0 members.
"""

from __future__ import annotations

from typing import Any

from geo.layers import LayerView, keeps_history
from geo.queries.ogc_fields import TIME_FIELD, enum_of, type_of
from geo.queries.tiles import HALF, breakdown_column, tile_properties
from server.ogc.params import AS_OF_NOTE

TMS = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MVT = "application/vnd.mapbox-vector-tile"
REL = "http://www.opengis.net/def/rel/ogc/1.0"
TILES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
]


CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"


def tile_template(base: str, collection: str) -> str:
    return f"{base}/collections/{collection}/tiles/{TMS}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"


def xyz_template(base: str, collection: str) -> str:
    """The same tiles as ``{z}/{x}/{y}.pbf`` (column before row, as XYZ tile directories have
    it): GDAL's MVT driver opens such a URL as one tile and places it from the path; a URL
    ending in a number it takes for a directory of tiles, and fails."""
    return f"{base}/collections/{collection}/tiles/{TMS}/{{z}}/{{x}}/{{y}}.pbf"


def tile_matrix_set(base: str, max_zoom: int) -> dict[str, Any]:
    """WebMercatorQuad in OGC TMS 2.0 JSON plus the 1.0 members older GDAL looks for."""
    matrices = []
    for z in range(max_zoom + 1):
        cell = 2 * HALF / 256 / (1 << z)
        matrices.append({
            "id": str(z), "identifier": str(z), "type": "TileMatrixType",
            "scaleDenominator": cell / 0.00028, "cellSize": cell,
            "cornerOfOrigin": "topLeft", "pointOfOrigin": [-HALF, HALF],
            "topLeftCorner": [-HALF, HALF],
            "tileWidth": 256, "tileHeight": 256, "matrixWidth": 1 << z, "matrixHeight": 1 << z,
        })  # fmt: skip
    return {
        "type": "TileMatrixSetType",
        "id": TMS,
        "identifier": TMS,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": CRS_3857,
        "supportedCRS": CRS_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "boundingBox": {"type": "BoundingBoxType", "crs": CRS_3857,
                        "lowerCorner": [-HALF, -HALF], "upperCorner": [HALF, HALF]},
        "tileMatrices": matrices,
        "links": [{"rel": "self", "type": "application/json",
                   "href": f"{base}/tileMatrixSets/{TMS}"}],
    }  # fmt: skip


def collection_links(base: str, collection: str) -> list[dict[str, Any]]:
    """The collection's tile links. The tilesets link has no ``type`` (optional in OGC API
    links): Debian 12's GDAL 3.6.2 follows a ``tilesets-vector`` link only when typed
    ``application/json``, and its OGCAPI driver was built without vector tiles (its CMake
    tested OGR_ENABLE_DRIVER_GML before defining it), so following one fails without a word;
    untyped, GDAL 3.6 reads the collection through ``items`` and newer GDAL still finds the
    tiles (docs/ogc.md)."""
    return [
        {"rel": f"{REL}/tilesets-vector", "title": "Vector tilesets",
         "href": f"{base}/collections/{collection}/tiles"},
        {"rel": "alternate", "type": "application/vnd.mapbox.tile+json",
         "title": "TileJSON for MapLibre",
         "href": f"{base}/collections/{collection}/tiles/{TMS}/tilejson.json"},
    ]  # fmt: skip


def tileset(
    base: str, view: LayerView, title: str, max_zoom: int, bbox: list[float]
) -> dict[str, Any]:
    href = f"{base}/collections/{view.name}/tiles/{TMS}"
    return {
        "title": title,
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "boundingBox": {"lowerLeft": bbox[:2], "upperRight": bbox[2:],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "tileMatrixSetLimits": [],
        "layers": [{"id": view.name, "dataType": "vector",
                    "geometryDimension": DIMENSION.get(view.geometry_type, 2),
                    "minTileMatrix": "0", "maxTileMatrix": str(max_zoom)}],
        "links": [
            {"rel": "self", "type": "application/json", "href": href},
            {"rel": f"{REL}/tiling-scheme", "type": "application/json",
             "href": f"{base}/tileMatrixSets/{TMS}"},
            {"rel": "item", "type": MVT, "templated": True,
             "href": tile_template(base, view.name)},
            {"rel": "alternate", "type": "application/vnd.mapbox.tile+json",
             "href": f"{href}/tilejson.json"},
        ],
    }  # fmt: skip


#: A geometry type's dimension (0 points, 1 lines, 2 areas).
DIMENSION = {"Point": 0, "LineString": 1}


def tilesets(
    base: str, view: LayerView, title: str, max_zoom: int, bbox: list[float]
) -> dict[str, Any]:
    one = tileset(base, view, title, max_zoom, bbox)
    summary = {k: one[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI")}
    summary["links"] = one["links"]
    return {"tilesets": [summary], "links": [
        {"rel": "self", "type": "application/json", "href": f"{base}/collections/{view.name}/tiles"}
    ]}  # fmt: skip


def tilejson(
    base: str, view: LayerView, title: str, max_zoom: int, bbox: list[float]
) -> dict[str, Any]:
    kinds = {"integer": "Number", "number": "Number"}
    fields = {c: kinds.get(type_of(view, c), "String") for c in tile_properties(view)}
    by = breakdown_column(view)
    if view.geometry_type == "Point":  # the members of an aggregated tile's cells
        fields |= {"count": "Number", "aggregated": "Boolean"}
        if by is not None:
            fields |= {f"{by}_{v}": "Number" for v in enum_of(view, by) or []}
    return {
        "tilejson": "3.0.0",
        "name": view.name,
        "description": title,
        "scheme": "xyz",
        "tiles": [xyz_template(base, view.name)],
        "minzoom": 0,
        "maxzoom": max_zoom,
        "bounds": bbox,
        "center": [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, 12],
        "vector_layers": [{
            "id": view.name,
            "fields": fields,
            "minzoom": 0,
            "maxzoom": max_zoom,
        }],
    }  # fmt: skip


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}  # fmt: skip


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def _tile_filters(collection: str) -> list[dict[str, Any]]:
    """The filters a tile takes (``server.ogc.tile_params``); property filters
    (``?status=closed``) are the collection's queryables, as on ``/items``."""
    found = [
        _query("f", {"type": "string", "enum": ["mvt"]}, "Mapbox vector tile (the default)"),
        _query("filter", {"type": "string"}, "CQL2 filter, as on /items"),
        _query("filter-lang", {"type": "string", "enum": ["cql2-text", "cql2-json"],
                               "default": "cql2-text"}, "The filter's encoding"),
        _query("filter-crs", {"type": "string"}, "CRS84 only"),
    ]  # fmt: skip
    if collection in TIME_FIELD:
        found.append(_query("datetime", {"type": "string"}, "Instant or closed interval"))
    if keeps_history(collection):
        found.append(_query("asOf", {"type": "string", "format": "date-time"}, AS_OF_NOTE))
    return found


def add_tiles_to_openapi(document: dict[str, Any], collections: list[str]) -> dict[str, Any]:
    paths = document.setdefault("paths", {})
    ok_json = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
    errors = {"400": {"description": "Bad request"}, "404": {"description": "Not found"}}
    tms = _path_param("tileMatrixSetId", {"type": "string", "enum": [TMS]}, "Tile matrix set")
    paths["/TileMatrixSets"] = {
        "get": {
            "summary": "The tile matrix sets the tiles use",
            "tags": ["server"],
            "operationId": "getTileMatrixSetsList",
            "responses": ok_json | errors,
        }
    }
    paths["/TileMatrixSets/{tileMatrixSetId}"] = {
        "get": {
            "summary": "A tile matrix set's definition",
            "tags": ["server"],
            "operationId": "getTileMatrixSet",
            "parameters": [tms],
            "responses": ok_json | errors,
        }
    }
    paths["/tileMatrixSets"] = {
        "get": {
            "summary": "The tile matrix sets the tiles use (OGC API - Tiles spelling)",
            "tags": ["server"],
            "operationId": "getTileMatrixSetsListOgc",
            "responses": ok_json | errors,
        }
    }
    paths["/tileMatrixSets/{tileMatrixSetId}"] = {
        "get": {
            "summary": "A tile matrix set's definition (OGC TMS 2.0 JSON, with the 1.0 members)",
            "tags": ["server"],
            "operationId": "getTileMatrixSetOgc",
            "parameters": [tms],
            "responses": ok_json | errors,
        }
    }
    for name in collections:
        base = f"/collections/{name}/tiles"
        tag = [name]
        paths[base] = {
            "get": {
                "summary": f"Vector tilesets of {name}",
                "tags": tag,
                "operationId": f"getTileSets.{name}",
                "responses": ok_json | errors,
            }
        }
        paths[f"{base}/{{tileMatrixSetId}}"] = {
            "get": {
                "summary": f"The {TMS} tileset of {name}",
                "tags": tag,
                "operationId": f"getTileSet.{name}",
                "parameters": [tms],
                "responses": ok_json | errors,
            }
        }
        paths[f"{base}/{{tileMatrixSetId}}/tilejson.json"] = {
            "get": {
                "summary": f"TileJSON 3 of {name}",
                "tags": tag,
                "operationId": f"getTileJSON.{name}",
                "parameters": [tms],
                "responses": ok_json | errors,
            }
        }
        filters = _tile_filters(name)
        tile_ok = {
            "200": {
                "description": "A Mapbox vector tile (aggregated above the per-tile budget: "
                "features with `count`, `aggregated` and a breakdown; docs/ogc.md)",
                "headers": {
                    "ETag": {"schema": {"type": "string"}},
                    "X-Cache": {"schema": {"type": "string", "enum": ["hit", "miss", "bypass"]}},
                },
                "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
            },
            "304": {"description": "Not modified"},
        }
        paths[f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"] = {"get": {
            "summary": f"A vector tile of {name}", "tags": tag,
            "operationId": f"getTile.{name}",
            "parameters": [
                tms,
                _path_param("tileMatrix", {"type": "integer", "minimum": 0}, "Zoom level"),
                _path_param("tileRow", {"type": "integer", "minimum": 0}, "Row from the top"),
                _path_param("tileCol", {"type": "integer", "minimum": 0}, "Column from the left"),
                *filters,
            ],
            "responses": tile_ok | errors}}  # fmt: skip
        for ext in ("pbf", "mvt"):
            paths[f"{base}/{{tileMatrixSetId}}/{{z}}/{{x}}/{{y}}.{ext}"] = {"get": {
                "summary": f"The same vector tile of {name}, XYZ order (column, then row)",
                "tags": tag, "operationId": f"getTileXYZ.{ext}.{name}",
                "parameters": [
                    tms,
                    _path_param("z", {"type": "integer", "minimum": 0}, "Zoom level"),
                    _path_param("x", {"type": "integer", "minimum": 0}, "Column from the left"),
                    _path_param("y", {"type": "integer", "minimum": 0}, "Row from the top"),
                    *filters,
                ],
                "responses": tile_ok | errors}}  # fmt: skip
    return document
