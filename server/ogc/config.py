"""pygeoapi's configuration, generated from OneMap's settings (its OpenAPI document is made
valid and self-contained in ``server.ogc.openapi_doc``).

One configuration per catalogue shape (``server.ogc.access``: which collections in which view,
which editable): a collection a caller may not see is simply absent from their pygeoapi, so it
appears in no listing, link or OpenAPI path.
``server.url`` is the public base URL + ``/ogc``, so every link pygeoapi writes is right behind
the mount and behind a proxy prefix.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geo import catalogue, layers
from geo.datasets import BUILT_IN
from geo.layers import LayerView
from geo.queries.ogc_fields import TIME_FIELD
from geo.queries.ogc_items import OUTPUT_CRS
from server.kernel.settings import Settings
from server.ogc import html
from server.ogc.access import Shape

PROVIDER = "server.ogc.provider.OneMapProvider"

#: Each collection's title and description, from the layers' dataset metadata (geo.datasets,
#: the one place it lives; the open-data catalogue reads the same).
TITLES: dict[str, tuple[str, str]] = {n: (m.title, m.description) for n, m in BUILT_IN.items()}
PUBLIC_NOTES = {n: m.public_note for n, m in BUILT_IN.items() if m.public_note}
TITLE_FIELD = {"admin_areas": "name_zh", "grid_cells": "name", "facilities": "name_zh",
               "cameras": "name", "cases": "public_id", "sensors": "name",
               "roads": "name_zh", "buildings": "name_zh"}  # fmt: skip


def title_of(layer: str | LayerView) -> tuple[str, str]:
    """(title, description) of a collection: a built-in layer's from :data:`TITLES`, a
    catalogue layer's from its registration (geo.catalogue)."""
    name = layer if isinstance(layer, str) else layer.name
    registered = catalogue.layer(name)
    if registered is not None:
        return registered.title, registered.description
    return TITLES[name]


def collection_metadata(name: str) -> dict[str, Any] | None:
    """The ``onemap:catalogue`` block of a collection document: a catalogue layer's metadata
    (title, description, owner, data_class, update_frequency, licence, keywords …); None for a
    built-in layer."""
    return catalogue.metadata(name)


def base_url(settings: Settings) -> str:
    return f"{settings.server.base_url}/ogc"


def _resource(
    view: LayerView, editable: bool, extent: list[float], times: dict[str, Any]
) -> dict[str, Any]:
    title, description = title_of(view)
    if not view.internal:
        description += PUBLIC_NOTES.get(view.name, "")
    registered = catalogue.layer(view.name)
    keywords = [
        "OneMap",
        view.name,
        *(BUILT_IN[view.name].keywords if view.name in BUILT_IN else ()),
    ]
    if registered is not None:
        keywords += [k for k in registered.keywords if k not in keywords]
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
        "title_field": TITLE_FIELD.get(view.name)
        or (registered.title_field if registered is not None else None)
        or "id",
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
        "keywords": keywords,
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
            # No online base map (unreachable offline): OneMap's templates draw the city's
            # districts from this API instead (server/ogc/html.py).
            "map": {"url": "", "attribution": "OneMap (一张图)"},
            "templates": {"path": str(html.TEMPLATES), "static": str(html.STATIC)},
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


def temporal(begin: datetime | None, end: datetime | None) -> dict[str, Any]:
    return {
        "begin": begin,
        "end": end,
        "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
    }
