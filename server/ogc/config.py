"""pygeoapi's configuration and OpenAPI document, generated from OneMap's settings.

One configuration per catalogue shape (``server.ogc.access``: which collections in which view,
which editable): a collection a caller may not see is simply absent from their pygeoapi, so it
appears in no listing, link or OpenAPI path.
``server.url`` is the public base URL + ``/ogc``, so every link pygeoapi writes is right behind
the mount and behind a proxy prefix.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

from geo import layers
from geo.layers import LayerView
from geo.queries.ogc_fields import TIME_FIELD
from geo.queries.ogc_items import OUTPUT_CRS
from server.kernel.settings import Settings
from server.ogc.access import Shape

PROVIDER = "server.ogc.provider.OneMapProvider"

TITLES: dict[str, tuple[str, str]] = {
    "admin_areas": ("Administrative areas (行政区划)",
                    "Districts (区), streets (街道) and communities (社区) of the city."),
    "grid_cells": ("Management grid (网格)",
                   "Grid cells: every point of the city lies in exactly one, with a responsible "
                   "grid worker."),
    "facilities": ("Facilities (设施)", "Hospitals, schools, shelters, stations, parks and more."),
    "cameras": ("Cameras (视频监控)",
                "Camera positions, heading, field of view and status (never their stream)."),
    "cases": ("Cases (城市管理案件)", "City-management cases: discover → dispatch → close."),
}  # fmt: skip
PUBLIC_NOTES = {
    "facilities": " Internal categories (hazard sources) are not published.",
    "cases": " Anonymised: category, status, priority, times, grid cell and location only.",
}
TITLE_FIELD = {"admin_areas": "name_zh", "grid_cells": "name", "facilities": "name_zh",
               "cameras": "name", "cases": "public_id"}  # fmt: skip


def base_url(settings: Settings) -> str:
    return f"{settings.server.base_url}/ogc"


def _resource(
    view: LayerView, editable: bool, extent: list[float], times: dict[str, Any]
) -> dict[str, Any]:
    title, description = TITLES[view.name]
    if not view.internal:
        description += PUBLIC_NOTES.get(view.name, "")
    extents: dict[str, Any] = {
        "spatial": {"bbox": extent, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    }
    time_field = TIME_FIELD.get(view.name)
    if time_field is not None and view.table in times:
        extents["temporal"] = times[view.table]
    provider: dict[str, Any] = {
        "type": "feature",
        "name": PROVIDER,
        "data": {"layer": view.name, "internal": view.internal},
        "id_field": "id",
        "title_field": TITLE_FIELD[view.name],
        "crs": list(OUTPUT_CRS),
        "storage_crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "editable": editable,
    }
    if time_field is not None:
        provider["time_field"] = time_field
    return {
        "type": "collection",
        "title": title,
        "description": description,
        "keywords": ["OneMap", view.name],
        "links": [],
        "extents": extents,
        "providers": [provider],
    }


def _views(shape: Shape) -> dict[str, LayerView]:
    """The shape's views without any caller's jurisdiction: the provider swaps in the caller's
    own view (server.ogc.access) at query time; these give columns and titles only."""
    found = {name: layers.view(name, internal=internal) for name, internal in shape.collections}
    return {name: v for name, v in found.items() if v is not None}


def pygeoapi_config(
    settings: Settings, shape: Shape, extent: list[float], times: dict[str, Any]
) -> dict[str, Any]:
    ogc = settings.ogc
    return {
        "server": {
            "bind": {"host": settings.server.host, "port": settings.server.port},
            "url": base_url(settings),
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US", "zh-CN"],
            "limits": {
                "default_items": ogc.default_limit,
                "max_items": ogc.max_limit,
                "on_exceed": "error",
            },
            "map": {
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "© OpenStreetMap contributors",
            },
            "pretty_print": False,
            "admin": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": ogc.title,
                "description": ogc.description,
                "keywords": ["OneMap", "一张图", "city", "grid"],
                "keywords_type": "theme",
                "terms_of_service": "https://www.apache.org/licenses/LICENSE-2.0",
                "url": settings.server.base_url,
            },
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "provider": {"name": "OneMap", "url": settings.server.base_url},
            "contact": {
                "name": "OneMap operators",
                "position": "Operator",
                "address": "",
                "city": "",
                "stateorprovince": "",
                "postalcode": "",
                "country": "",
                "phone": "",
                "fax": "",
                "email": "",
                "url": settings.server.base_url,
                "hours": "",
                "instructions": "",
                "role": "pointOfContact",
            },
        },
        "resources": {
            name: _resource(v, name in shape.editable, extent, times)
            for name, v in _views(shape).items()
        },
    }


# --- OpenAPI: pygeoapi refers to schemas.opengis.net; clients here cannot fetch those -------

_EXTERNAL = re.compile(r"^https?://")
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


def _local(ref: str, where: str) -> dict[str, Any] | None:
    name = ref.rsplit("/", 1)[-1].removesuffix(".yaml")
    if where == "parameters":
        return copy.deepcopy(_LOCAL_PARAMETERS.get(name)) if name in _LOCAL_PARAMETERS else None
    if where == "responses":
        media = "application/geo+json" if name in ("Features", "Feature") else "application/json"
        return {"description": name, "content": {media: {"schema": {"type": "object"}}}}
    return {"type": "object"}


def _localise(node: Any, where: str = "") -> Any:
    """Replace every external ``$ref`` with a local equivalent (or drop a parameter)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and _EXTERNAL.match(ref):
            return _local(ref, where)
        return {k: _localise(v, k if k in ("parameters", "responses") else where)
                for k, v in node.items()}  # fmt: skip
    if isinstance(node, list):
        items = [_localise(v, where) for v in node]
        if where == "parameters":
            items = [p for p in items if p is not None and not _unsupported(p)]
        return items
    return node


def _unsupported(parameter: Any) -> bool:
    ref = parameter.get("$ref", "") if isinstance(parameter, dict) else ""
    name = parameter.get("name", "") if isinstance(parameter, dict) else ""
    return any(ref.endswith("/" + n) for n in _UNSUPPORTED_PARAMETERS) or (
        name in _UNSUPPORTED_PARAMETERS
    )


def localise_openapi(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _localise(document)
    for path, item in list(result.get("paths", {}).items()):
        # We serve no processes, jobs, STAC or EDR; drop what pygeoapi lists by default.
        if path.startswith(("/processes", "/jobs", "/stac")) or (
            isinstance(item, dict) and not item
        ):
            del result["paths"][path]
    return result


def temporal(begin: datetime | None, end: datetime | None) -> dict[str, Any]:
    return {
        "begin": begin,
        "end": end,
        "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
    }
