"""The OGC API's OpenAPI 3.0 document, as served at ``/ogc/openapi``: pygeoapi's, made
self-contained and valid.

pygeoapi generates the document from its configuration (``pygeoapi.openapi.get_oas``). Served as
it comes, it fails openapi-spec-validator and client generators, so it is post-processed here
once per catalogue shape, before pygeoapi's ``API`` is built with it:

- every ``$ref`` to schemas.opengis.net (which clients here cannot fetch) becomes a local
  equivalent, or the parameter is dropped when OneMap does not support it;
- the paths of what OneMap does not serve (processes, jobs, STAC) go; those of our own routes
  (vector tiles, tile matrix sets) come in (``server.ogc.tiles_meta``);
- schemas become OpenAPI 3.0 Schema Objects: pygeoapi copies a provider's field definitions as
  they are (``values`` where JSON Schema says ``enum``) and the GeoJSON item schemas carry JSON
  Schema 2019-09 keywords (``$schema``, ``const``) that 3.0 does not have.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from geo.layers import keeps_history
from server.ogc.params import AS_OF_NOTE
from server.ogc.tiles_meta import add_tiles_to_openapi

_EXTERNAL = re.compile(r"^https?://")
GEOJSON = "application/geo+json"
_LOCAL_PARAMETERS: dict[str, dict[str, Any]] = {
    "datetime": {"name": "datetime", "in": "query", "required": False, "style": "form",
                 "explode": False, "schema": {"type": "string"},
                 "description": "An RFC 3339 instant or interval (a/b, ../b, a/..)."},
    "featureId": {"name": "featureId", "in": "path", "required": True,
                  "schema": {"type": "string"}, "description": "The feature's id."},
    "sortby": {"name": "sortby", "in": "query", "required": False, "style": "form",
               "explode": False, "schema": {"type": "array", "items": {"type": "string"}},
               "description": "Comma-separated properties, each optionally prefixed + or -."},
}  # fmt: skip
_UNSUPPORTED_PARAMETERS = {"q", "vendorSpecificParameters", "resulttype"}
#: Schema keys whose values are schemas, and those whose values are lists or maps of schemas.
_SUBSCHEMA = ("items", "not", "additionalProperties")
_SUBSCHEMAS = ("allOf", "anyOf", "oneOf")
#: JSON Schema keywords an OpenAPI 3.0 Schema Object does not have (dropped).
_NOT_IN_30 = ("$schema", "$id", "$defs", "$comment", "examples", "contentMediaType")
_DESCRIPTIONS = {"200": "OK", "201": "Created", "204": "No content"}


#: A feature each writable layer accepts (tests/test_openapi.py posts them): the examples of
#: the create and replace bodies.
FEATURE_EXAMPLES: dict[str, dict[str, Any]] = {
    "facilities": {"code": "F9000001", "category": "shelter", "name_zh": "人民广场应急避难场所",
                   "name_en": "People's Square emergency shelter", "address": "人民大道 200 号",
                   "capacity": 5000, "attributes": {"operator": "区应急管理局"}},
    "cameras": {"code": "CAM900001", "name": "人民广场东 People's Square east", "heading": 90,
                "fov": 60, "status": "unknown"},
}  # fmt: skip
_POINT = {"type": "Point", "coordinates": [121.4737, 31.2304]}
_ITEMS = re.compile(r"^/collections/([^/]+)/items$")
_ITEM = re.compile(r"^/collections/([^/]+)/items/\{featureId\}$")


#: Query parameters of ``/items`` OneMap serves that pygeoapi's document leaves out: CQL2
#: filters (Features Part 3) and the keyset position of next links.
_ITEMS_PARAMETERS: list[dict[str, Any]] = [
    {"name": "filter", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "A CQL2 filter (Features Part 3): basic CQL2, LIKE/BETWEEN/IN, CASEI, "
     "spatial functions, T_AFTER/T_BEFORE/T_EQUALS/T_DURING; every value is a bind parameter."},
    {"name": "filter-lang", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}},
    {"name": "filter-crs", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]}},
    {"name": "after", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 0},
     "description": "Keyset position, as next links carry it: the features after this id, in "
     "the default order (not with sortby or offset)."},
]  # fmt: skip


def _items_parameters(document: dict[str, Any]) -> None:
    for path, item in document.get("paths", {}).items():
        get = item.get("get") if _ITEMS.match(path) and isinstance(item, dict) else None
        if isinstance(get, dict):
            have = {p.get("name") for p in get.get("parameters", []) if isinstance(p, dict)}
            get.setdefault("parameters", []).extend(
                copy.deepcopy(p) for p in _ITEMS_PARAMETERS if p["name"] not in have
            )


_AS_OF = {
    "name": "asOf",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "format": "date-time"},
    "description": AS_OF_NOTE,
}


def _as_of_parameters(document: dict[str, Any]) -> None:
    """``asOf`` on the items and the item of the layers that keep their history."""
    for path, item in document.get("paths", {}).items():
        found = _ITEMS.match(path) or _ITEM.match(path)
        get = item.get("get") if found and isinstance(item, dict) else None
        if isinstance(get, dict) and found and keeps_history(found.group(1)):
            get.setdefault("parameters", []).append(copy.deepcopy(_AS_OF))


#: The files ``/items`` also answers (server/ogc/downloads.py): ``f`` value → media type.
DOWNLOADS = {"csv": "text/csv", "gpkg": "application/geopackage+sqlite3"}
_DOWNLOADS_NOTE = (
    " csv and gpkg (GeoPackage) download the whole selection (every filter applies; limit "
    "defaults to all of it, up to the server's download maximum) as an attachment."
)


def _download_formats(document: dict[str, Any]) -> None:
    """``f=csv`` and ``f=gpkg`` on every ``/items`` GET, with their media types."""
    for path, item in document.get("paths", {}).items():
        get = item.get("get") if _ITEMS.match(path) and isinstance(item, dict) else None
        if not isinstance(get, dict):
            continue
        for parameter in get.get("parameters", []):
            if isinstance(parameter, dict) and parameter.get("name") == "f":
                schema = parameter.setdefault("schema", {"type": "string"})
                formats = [v for v in schema.get("enum", ["json"]) if v not in DOWNLOADS]
                schema["enum"] = [*formats, *DOWNLOADS]
                parameter["description"] = parameter.get("description", "") + _DOWNLOADS_NOTE
        ok = get.setdefault("responses", {}).setdefault("200", {"description": "OK"})
        content = ok.setdefault("content", {})
        for media in DOWNLOADS.values():
            content[media] = {"schema": {"type": "string", "format": "binary"}}


def document(generated: dict[str, Any], collections: list[str]) -> dict[str, Any]:
    """The document served for a catalogue shape (its ``collections``), from pygeoapi's."""
    result = _drop_unserved(_localise(generated))
    _items_parameters(result)
    _as_of_parameters(result)
    _download_formats(result)
    _writes_as_served(result)
    add_tiles_to_openapi(result, collections)
    _as_oas30(result)
    return result


# --- external references ------------------------------------------------------------------


def _local(ref: str, where: str) -> dict[str, Any] | None:
    name = ref.rsplit("/", 1)[-1].removesuffix(".yaml")
    if where == "parameters":
        return copy.deepcopy(_LOCAL_PARAMETERS.get(name)) if name in _LOCAL_PARAMETERS else None
    if where == "responses":
        media = "application/geo+json" if name in ("Features", "Feature") else "application/json"
        return {"description": name, "content": {media: {"schema": {"type": "object"}}}}
    return {"type": "object"}


def _localise(node: Any, where: str = "") -> Any:
    """Replace every external ``$ref`` with a local equivalent (or drop a parameter).
    ``where`` is what the reference stands for: a parameter, a response or (below a
    ``schema`` key) a schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and _EXTERNAL.match(ref):
            return _local(ref, where)
        return {k: _localise(v, _context(k, where)) for k, v in node.items()}
    if isinstance(node, list):
        items = [_localise(v, where) for v in node]
        if where == "parameters":
            items = [p for p in items if p is not None and not _unsupported(p)]
        return items
    return node


def _context(key: str, where: str) -> str:
    if key in ("parameters", "responses"):
        return key
    if key in ("schema", "schemas"):
        return "schema"
    return where


def _unsupported(parameter: Any) -> bool:
    ref = parameter.get("$ref", "") if isinstance(parameter, dict) else ""
    name = parameter.get("name", "") if isinstance(parameter, dict) else ""
    return any(ref.endswith("/" + n) for n in _UNSUPPORTED_PARAMETERS) or (
        name in _UNSUPPORTED_PARAMETERS
    )


def _drop_unserved(document: dict[str, Any]) -> dict[str, Any]:
    for path, item in list(document.get("paths", {}).items()):
        # We serve no processes, jobs, STAC or EDR; drop what pygeoapi lists by default.
        if path.startswith(("/processes", "/jobs", "/stac")) or (
            isinstance(item, dict) and not item
        ):
            del document["paths"][path]
    return document


# --- writes -------------------------------------------------------------------------------


def _writes_as_served(document: dict[str, Any]) -> None:
    """``POST …/items`` creates a feature (where the catalogue lets the caller write); OneMap
    serves no CQL2 search by POST, which pygeoapi declares on every collection. Every feature
    body gets its example."""
    for path, item in document.get("paths", {}).items():
        items, one = _ITEMS.match(path), _ITEM.match(path)
        if items and "post" in item:
            feature = item["post"].get("requestBody", {}).get("content", {}).get(GEOJSON)
            if feature is None:
                del item["post"]
            else:
                item["post"] = _create(items.group(1), item["post"], feature)
        if one and "put" in item:
            content = item["put"].get("requestBody", {}).get("content", {})
            if GEOJSON in content:
                content[GEOJSON]["example"] = _feature(one.group(1), content[GEOJSON])


def _create(name: str, pygeoapi: dict[str, Any], feature: dict[str, Any]) -> dict[str, Any]:
    title = re.sub(r"^Get (.*?) items.*$", r"\1", pygeoapi.get("summary", name))
    problems = {k: v for k, v in pygeoapi.get("responses", {}).items() if k[0] in "45"}
    return {
        **{k: v for k, v in pygeoapi.items() if k not in ("summary", "operationId", "responses")},
        "summary": f"Add a feature to {title}",
        "operationId": f"create{name[:1].upper()}{name[1:]}Feature",
        "requestBody": {
            "description": "The new feature (GeoJSON; its grid cell is derived)",
            "required": True,
            "content": {GEOJSON: {**feature, "example": _feature(name, feature)}},
        },
        "responses": {
            "201": {
                "description": "Created: Location names the new feature",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
            },
            **problems,
        },
    }


def _feature(name: str, media: dict[str, Any]) -> dict[str, Any]:
    """An example feature: the layer's own, or one shaped by the body's schema."""
    properties = FEATURE_EXAMPLES.get(name)
    if properties is None:
        schema = media.get("schema", {}).get("properties", {}).get("properties", {})
        kinds = {"string": "…", "integer": 1, "number": 1.5, "boolean": True, "object": {}}
        properties = {
            k: kinds.get(v.get("type"))
            for k, v in schema.get("properties", {}).items()
            if k != "grid_cell_id"
        }
    return {"type": "Feature", "geometry": _POINT, "properties": properties}


# --- OpenAPI 3.0 schema objects -----------------------------------------------------------


def _as_oas30(node: Any) -> None:
    """Every schema in the document (under a ``schema`` key, and the components' schemas)
    rewritten in place as a 3.0 Schema Object; every response described (3.0 requires it;
    pygeoapi's single-feature answers have none)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "responses" and isinstance(value, dict):
                for status, response in value.items():
                    if isinstance(response, dict) and "$ref" not in response:
                        response.setdefault("description", _DESCRIPTIONS.get(status, status))
                _as_oas30(value)
            elif key == "schema" and isinstance(value, dict):
                _schema30(value)
            elif key == "schemas" and isinstance(value, dict):
                for schema in value.values():
                    if isinstance(schema, dict):
                        _schema30(schema)
            else:
                _as_oas30(value)
    elif isinstance(node, list):
        for value in node:
            _as_oas30(value)


def _schema30(schema: dict[str, Any]) -> None:
    if "values" in schema and "enum" not in schema:
        schema["enum"] = schema.pop("values")
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    for key in _NOT_IN_30:
        schema.pop(key, None)
    for key in _SUBSCHEMA:
        if isinstance(schema.get(key), dict):
            _schema30(schema[key])
    for key in _SUBSCHEMAS:
        for sub in schema.get(key) or []:
            if isinstance(sub, dict):
                _schema30(sub)
    for sub in (schema.get("properties") or {}).values():
        if isinstance(sub, dict):
            _schema30(sub)
