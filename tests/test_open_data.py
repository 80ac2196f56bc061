"""The open-data catalogue (``/open``, docs/open-data.md) read as its users read it: the DCAT
JSON-LD parsed as RDF by rdflib, every distribution of a dataset downloaded and opened with a
real reader (Python's csv module, GDAL through pyogrio for GeoJSON and GeoPackage), the HTML
page's text. Only public data is listed or downloadable without a key."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pyogrio.raw  # type: ignore[import-untyped]
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF
from starlette.testclient import TestClient

from geo import access

Conn = psycopg.Connection[Any]
#: The built-in public layers and the demo city's public department layers (seed/
#: department_layers.py, registered in the layer catalogue); its water pipes are internal.
PUBLIC = {"admin_areas", "grid_cells", "facilities", "cases", "sensors", "roads",
          "planning_zones", "ecological_red_lines"}  # fmt: skip
MEDIA = "https://www.iana.org/assignments/media-types/"
FREQ = Namespace("http://publications.europa.eu/resource/authority/frequency/")
#: The public rows of each dataset, as SQL counts them (the public views' row filters).
PUBLIC_ROWS = {
    "facilities": "SELECT count(*) FROM facilities WHERE category <> 'hazard_source'",
    "roads": "SELECT count(*) FROM roads",
    "grid_cells": "SELECT count(*) FROM grid_cells",
}


@pytest.fixture(scope="module")
def catalogue(client: TestClient) -> Graph:
    response = client.get("/open/catalog.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    with warnings.catch_warnings():
        # rdflib 7.6's JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        return Graph().parse(data=response.text, format="json-ld")


def _datasets(g: Graph) -> dict[str, URIRef]:
    found = {}
    for ds in g.subjects(RDF.type, DCAT.Dataset):
        assert isinstance(ds, URIRef)
        found[str(g.value(ds, DCTERMS.identifier))] = ds
    return found


def _path(url: str) -> str:
    """A catalogue URL (the server's public base) as a path for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_the_catalogue_lists_exactly_the_public_datasets(catalogue: Graph) -> None:
    catalogs = list(catalogue.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogs) == 1
    datasets = _datasets(catalogue)
    assert set(datasets) == PUBLIC
    assert set(catalogue.objects(catalogs[0], DCAT.dataset)) == set(datasets.values())
    # internal and restricted data never: no buildings, no cameras, anywhere in the document
    text = catalogue.serialize(format="nt")
    assert "buildings" not in text and "cameras" not in text and "water_pipes" not in text


def test_each_dataset_says_what_dcat_asks(catalogue: Graph) -> None:
    for name, ds in _datasets(catalogue).items():
        titles = {t.language: str(t) for t in catalogue.objects(ds, DCTERMS.title)
                  if isinstance(t, Literal)}  # fmt: skip
        assert titles.keys() == {"en", "zh"}, name
        assert str(catalogue.value(ds, DCTERMS.description)), name
        publisher = catalogue.value(ds, DCTERMS.publisher)
        names = {str(n) for n in catalogue.objects(publisher, FOAF.name)}
        assert names and all(n for n in names), name
        assert list(catalogue.objects(ds, DCAT.keyword)), name
        assert catalogue.value(ds, DCTERMS.license) is not None, name
        frequency = catalogue.value(ds, DCTERMS.accrualPeriodicity)
        assert frequency is not None and str(frequency).startswith(str(FREQ)), name
        spatial = catalogue.value(ds, DCTERMS.spatial)
        bbox = str(catalogue.value(spatial, DCAT.bbox))
        assert bbox.startswith("POLYGON((121."), (name, bbox)
    cases = _datasets(catalogue)["cases"]
    period = catalogue.value(cases, DCTERMS.temporal)
    start, end = catalogue.value(period, DCAT.startDate), catalogue.value(period, DCAT.endDate)
    assert start is not None and end is not None and start.toPython() <= end.toPython()
    facilities = _datasets(catalogue)["facilities"]
    assert catalogue.value(facilities, DCTERMS.modified) is not None
    # the owner departments, in both languages, from the departments table
    roads = catalogue.value(_datasets(catalogue)["roads"], DCTERMS.publisher)
    assert {str(n) for n in catalogue.objects(roads, FOAF.name)} == {
        "交通委员会", "Transport Commission"}  # fmt: skip


def _distributions(g: Graph, ds: URIRef) -> dict[str, tuple[str, str]]:
    """Each distribution's format → (URL, media type)."""
    found = {}
    for d in g.objects(ds, DCAT.distribution):
        url = g.value(d, DCAT.downloadURL) or g.value(d, DCAT.accessURL)
        found[str(g.value(d, DCTERMS.format))] = (str(url), str(g.value(d, DCAT.mediaType)))
    return found


def test_every_dataset_has_its_files_and_its_api(catalogue: Graph) -> None:
    for name, ds in _datasets(catalogue).items():
        found = _distributions(catalogue, ds)
        assert found["CSV"] == (found["CSV"][0], MEDIA + "text/csv")
        assert found["GeoJSON"][1] == MEDIA + "application/geo+json"
        assert found["GeoPackage"][1] == MEDIA + "application/geopackage+sqlite3"
        assert found["CSV"][0].endswith(f"/open/datasets/{name}.csv")
        assert found["OGC API - Features"][0].endswith(f"/ogc/collections/{name}")


@pytest.mark.parametrize("name", sorted(PUBLIC_ROWS))
def test_each_file_opens_in_a_real_reader_with_the_public_rows(
    name: str, catalogue: Graph, client: TestClient, db: Conn, tmp_path: Path
) -> None:
    files = _distributions(catalogue, _datasets(catalogue)[name])
    expected = int(db.execute(PUBLIC_ROWS[name]).fetchone()[0])  # type: ignore[index]

    csv_answer = client.get(_path(files["CSV"][0]))
    assert csv_answer.status_code == 200, csv_answer.text
    rows = list(csv.DictReader(io.StringIO(csv_answer.content.decode("utf-8-sig"), newline="")))
    assert len(rows) == expected

    for label, suffix in (("GeoJSON", "geojson"), ("GeoPackage", "gpkg")):
        answer = client.get(_path(files[label][0]))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(files[label][1].removeprefix(MEDIA))
        path = tmp_path / f"{name}.{suffix}"
        path.write_bytes(answer.content)
        meta, _fids, geometry, fields = pyogrio.raw.read(path)
        names = list(meta["fields"])
        assert len(geometry) == expected, label
        assert all(g is not None for g in geometry)
        if name == "facilities":  # the public view: no hazard source, no attributes
            assert "hazard_source" not in set(fields[names.index("category")])
            assert "attributes" not in names


def test_a_public_file_holds_the_public_view_of_cases(client: TestClient) -> None:
    answer = client.get("/open/datasets/cases.geojson", params={"limit": 50})
    assert answer.status_code == 200
    feature = answer.json()["features"][0]
    assert set(feature["properties"]) == set(access.PUBLIC_VIEWS["cases"].columns)
    assert "description" not in feature["properties"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/open/datasets/buildings.csv", 401), ("/open/datasets/cameras.gpkg", 401),
     ("/open/datasets/nothing.csv", 404), ("/open/datasets/roads.shp", 404)],
)  # fmt: skip
def test_internal_or_unknown_files_are_refused(client: TestClient, path: str, status: int) -> None:
    answer = client.get(path)
    assert answer.status_code == status
    assert answer.json()["description"]


def test_the_page_lists_each_dataset_with_its_downloads(client: TestClient) -> None:
    answer = client.get("/open")
    assert answer.status_code == 200
    page = answer.text
    assert "script" not in page.lower()  # server-rendered: nothing to run
    for name in PUBLIC:
        assert f'id="{name}"' in page
        for ext in ("csv", "geojson", "gpkg"):
            assert f"/open/datasets/{name}.{ext}" in page
    for text in (
        "道路",
        "Roads",
        "交通委员会",
        "Transport Commission",
        "CC-BY-4.0",
        "行政区划",
        "Administrative areas",
        "/open/catalog.jsonld",
    ):
        assert text in page, text
    assert "Buildings" not in page and "建筑物" not in page
    # a dataset's URI (its @id in the catalogue) leads to its entry on the page
    entry = client.get("/open/datasets/roads", follow_redirects=False)
    assert entry.status_code == 303 and entry.headers["location"].endswith("/open#roads")
