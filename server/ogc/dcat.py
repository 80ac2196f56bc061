"""The open-data catalogue as DCAT (W3C Data Catalog Vocabulary 3, the DCAT-AP profile's
properties) in JSON-LD: one ``dcat:Catalog`` whose ``dcat:dataset`` are the public datasets,
each with its bilingual title, description, publisher (the owner department), keywords,
licence, update frequency, bbox, time span, last change and distributions — CSV, GeoJSON and
GeoPackage files (``dcat:downloadURL`` + ``dcat:mediaType``) and the OGC API - Features
collection (``dcat:accessURL``, served by a ``dcat:DataService``).

Pure: it builds a document from :class:`Entry` values (docs/open-data.md shows one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.datasets import FREQUENCY_BASE, DatasetMeta
from geo.queries.datasets import Coverage, Department

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "locn": "http://www.w3.org/ns/locn#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
MEDIA = "https://www.iana.org/assignments/media-types/"
OGC_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0"


@dataclass(frozen=True, slots=True)
class Format:
    """A download format: the file extension of its URL, the media type, a label."""

    extension: str
    media_type: str
    label: str


#: What each public dataset is downloadable as (``/open/datasets/{name}.{extension}``).
FORMATS = (
    Format("csv", "text/csv", "CSV"),
    Format("geojson", "application/geo+json", "GeoJSON"),
    Format("gpkg", "application/geopackage+sqlite3", "GeoPackage"),
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One public dataset: what the registry says, what the data says, who owns it."""

    meta: DatasetMeta
    description: str
    coverage: Coverage | None
    owner: Department | None


def download_url(base: str, name: str, fmt: Format) -> str:
    return f"{base}/open/datasets/{name}.{fmt.extension}"


def _texts(en: str, zh: str) -> list[dict[str, str]]:
    return [{"@value": en, "@language": "en"}, {"@value": zh, "@language": "zh"}]


def _instant(value: datetime) -> dict[str, str]:
    return {"@value": value.isoformat(), "@type": "xsd:dateTime"}


def _bbox(box: tuple[float, float, float, float]) -> str:
    x0, y0, x1, y1 = box
    return f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"


def publisher(base: str, entry: Entry) -> dict[str, Any]:
    code = entry.meta.owner
    found = entry.owner
    names = _texts(found.name_en, found.name_zh) if found else [{"@value": code or "OneMap"}]
    return {"@id": f"{base}/open/departments/{code or 'onemap'}", "@type": "foaf:Organization",
            "foaf:name": names}  # fmt: skip


def dataset(base: str, entry: Entry) -> dict[str, Any]:
    m = entry.meta
    uri = f"{base}/open/datasets/{m.name}"
    doc: dict[str, Any] = {
        "@id": uri,
        "@type": "dcat:Dataset",
        "dct:identifier": m.name,
        "dct:title": _texts(m.title_en, m.title_zh),
        "dct:description": {"@value": entry.description, "@language": "en"},
        "dct:publisher": publisher(base, entry),
        "dcat:keyword": list(m.keywords),
        "dct:license": {"@id": m.licence.url},
        "dct:accrualPeriodicity": {"@id": FREQUENCY_BASE + m.frequency.value},
        "dcat:landingPage": {"@id": f"{base}/open#{m.name}"},
    }
    c = entry.coverage
    if c is not None and c.bbox is not None:
        doc["dct:spatial"] = {
            "@type": "dct:Location",
            "dcat:bbox": {"@value": _bbox(c.bbox), "@type": "gsp:wktLiteral"},
        }
    if c is not None and c.start is not None and c.end is not None:
        doc["dct:temporal"] = {"@type": "dct:PeriodOfTime", "dcat:startDate": _instant(c.start),
                               "dcat:endDate": _instant(c.end)}  # fmt: skip
    if c is not None and c.modified is not None:
        doc["dct:modified"] = _instant(c.modified)
    files = [
        {
            "@id": f"{uri}#{fmt.extension}",
            "@type": "dcat:Distribution",
            "dct:title": f"{m.title_en} ({fmt.label})",
            "dct:format": fmt.label,
            "dcat:downloadURL": {"@id": download_url(base, m.name, fmt)},
            "dcat:accessURL": {"@id": download_url(base, m.name, fmt)},
            "dcat:mediaType": {"@id": MEDIA + fmt.media_type},
            "dct:license": {"@id": m.licence.url},
        }
        for fmt in FORMATS
    ]
    api = {
        "@id": f"{uri}#ogcapi",
        "@type": "dcat:Distribution",
        "dct:title": f"{m.title_en} (OGC API - Features)",
        "dct:format": "OGC API - Features",
        "dcat:accessURL": {"@id": f"{base}/ogc/collections/{m.name}"},
        "dcat:mediaType": {"@id": MEDIA + "application/geo+json"},
        "dct:conformsTo": {"@id": OGC_FEATURES},
        "dcat:accessService": {
            "@id": f"{base}/ogc",
            "@type": "dcat:DataService",
            "dct:title": "OneMap OGC API - Features",
            "dcat:endpointURL": {"@id": f"{base}/ogc"},
            "dct:conformsTo": {"@id": OGC_FEATURES},
        },
        "dct:license": {"@id": m.licence.url},
    }
    doc["dcat:distribution"] = [*files, api]
    return doc


def catalogue(base: str, title: str, entries: Sequence[Entry]) -> dict[str, Any]:
    """The whole catalogue document."""
    return {
        "@context": CONTEXT,
        "@id": f"{base}/open/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _texts(f"{title}: open data", "一张图 开放数据"),
        "dct:description": {
            "@value": "The datasets the city publishes openly, with their downloads and API.",
            "@language": "en",
        },
        "dct:publisher": {
            "@id": f"{base}/open/departments/onemap",
            "@type": "foaf:Organization",
            "foaf:name": [{"@value": title}],
        },
        "foaf:homepage": {"@id": f"{base}/open"},
        "dcat:dataset": [dataset(base, e) for e in entries],
    }
