"""A GeoPackage of a download, written by GDAL through pyogrio a batch at a time.

A GeoPackage is an SQLite file: it cannot be streamed while it is written. So the rows, read a
batch at a time from a server-side cursor, are appended to a file in a temporary folder (each
batch in a worker thread: GDAL blocks), and the finished file is then sent. Memory holds one
batch; the disk holds the file (``TMPDIR``) until it is sent.

Fields keep their types: integers as Integer64, text as String, instants as DateTime in UTC,
``attributes`` (an object) as JSON text. The layer has the CRS the request asked for (EPSG:4326
for CRS84: GeoPackage stores x = longitude either way) and the collection's geometry type. The
file says it is GeoPackage 1.3, which the GDAL 3.6 and QGIS 3.22 of Debian 12 read without a
warning (GDAL 3.12 writes 1.4 by default).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw  # type: ignore[import-untyped]
from pyproj import CRS

MEDIA_TYPE = "application/geopackage+sqlite3"
#: GDAL's marker of a UTC instant in a DateTime field (100 = GMT, then 15-minute steps).
_GMT = 100


@cache
def crs_wkt(srid: int) -> str:
    return str(CRS.from_epsg(srid).to_wkt())


@dataclass(frozen=True, slots=True)
class Layer:
    """What the file's one layer is: its name, title, fields, geometry type and CRS."""

    path: Path
    name: str
    title: str
    description: str
    properties: tuple[str, ...]
    types: tuple[str, ...]  # the JSON type of each property (geo.queries.ogc_fields.type_of)
    geometry_type: str | None  # None: no geometry (skipGeometry)
    srid: int


def _array(kind: str, values: list[Any]) -> tuple[np.ndarray[Any, Any], Any]:
    """A field's values as pyogrio wants them, with the mask of its nulls (or None)."""
    nulls = np.array([v is None for v in values], dtype=bool)
    mask = nulls if nulls.any() else None
    if kind == "integer":
        return np.array([0 if v is None else v for v in values], dtype=np.int64), mask
    if kind == "number":
        return np.array([0.0 if v is None else v for v in values], dtype=np.float64), mask
    if kind == "boolean":
        return np.array([bool(v) for v in values], dtype=bool), mask
    if kind == "datetime":
        utc = [None if v is None else v.astimezone(UTC).replace(tzinfo=None) for v in values]
        return np.array(utc, dtype="datetime64[ms]"), mask
    if kind == "object":
        text = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        return np.array(text, dtype=object), None
    return np.array(values, dtype=object), None  # strings: None is written as null


def write(layer: Layer, rows: Sequence[tuple[Any, ...]], first: bool) -> None:
    """Append ``rows`` (id, the properties, then WKB when the layer has geometry) to the file;
    ``first`` creates it. Runs GDAL: call it in a worker thread."""
    names = ("id", *layer.properties)
    kinds = ["integer", *layer.types]
    data, masks, offsets = [], [], {}
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        values, mask = _array(kind, [r[i] for r in rows])
        data.append(values)
        masks.append(mask)
        if kind == "datetime":
            offsets[name] = np.full(len(rows), _GMT, dtype=np.int32)
    geometry = None
    if layer.geometry_type is not None:
        geometry = np.array([bytes(r[len(names)]) for r in rows], dtype=object)
    options: dict[str, Any] = {}
    if first:
        options = {
            "dataset_options": {"VERSION": "1.3"},
            "layer_options": {"IDENTIFIER": layer.title, "DESCRIPTION": layer.description},
        }
    pyogrio.raw.write(
        str(layer.path),
        geometry,
        data,
        list(names),
        field_mask=masks,
        layer=layer.name,
        driver="GPKG",
        geometry_type=layer.geometry_type,
        crs=crs_wkt(layer.srid),
        append=not first,
        gdal_tz_offsets=offsets,
        **options,
    )
