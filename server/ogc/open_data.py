"""``/open``: the open-data catalogue (docs/open-data.md) — what the city publishes openly, as
an HTML page (server-rendered, no script) and as DCAT JSON-LD (``/open/catalog.jsonld``), with
each dataset's files at ``/open/datasets/{name}.csv|geojson|gpkg``.

The datasets are the layers the access policy shows an anonymous caller
(``geo.access.views_for(ANONYMOUS)``: public views only), described by the layer registry's
metadata (``geo.datasets``); so a layer registered as public appears here, and internal or
restricted data never does. The files are the OGC downloads of the whole dataset in the
*caller's* view (``server.ogc.downloads``): the public view for the public, the granted view for
a department's API key, counted in its usage report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from geo import access, catalogue
from geo.datasets import DatasetMeta, Frequency, description, meta_of, registered_meta
from geo.errors import NotFound
from geo.queries import fetch
from geo.queries.datasets import coverage, departments
from server.ogc import dcat, downloads, html
from server.ogc.core import OgcService
from server.ogc.errors import exception, ogc_errors
from server.ogc.routes import guarded
from server.ogc.usage import UsageMiddleware

JSONLD = "application/ld+json"
FREQUENCY_LABELS = {
    Frequency.CONTINUOUS: ("continuously", "持续更新"), Frequency.DAILY: ("daily", "每日"),
    Frequency.WEEKLY: ("weekly", "每周"), Frequency.MONTHLY: ("monthly", "每月"),
    Frequency.QUARTERLY: ("quarterly", "每季度"), Frequency.ANNUAL: ("yearly", "每年"),
    Frequency.IRREGULAR: ("when revised", "不定期"),
}  # fmt: skip
_PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(html.TEMPLATES / "open"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, slots=True)
class _Cached:
    at: float
    entries: list[dcat.Entry]


_CACHE: WeakKeyDictionary[OgcService, _Cached] = WeakKeyDictionary()


async def entries(
    ogc: OgcService, registered: Mapping[str, DatasetMeta] | None = None
) -> list[dcat.Entry]:
    """The public datasets with their coverage and owners, recomputed at most every
    ``ONEMAP_OGC_CATALOGUE_CACHE_S`` seconds. ``registered``: the layer catalogue's metadata."""
    found = _CACHE.get(ogc)
    if found is not None and time.monotonic() - found.at < ogc.settings.ogc.catalogue_cache_s:
        return found.entries
    views = access.views_for(access.ANONYMOUS)  # the public: public views only
    if registered is None:
        registered = {
            name: registered_meta(name, layer.title, layer.description, layer.owner,
                                  layer.update_frequency, layer.licence, layer.keywords)
            for name, layer in catalogue.current().layers.items()
        }  # fmt: skip
    metas = {name: meta_of(name, registered) for name in views}
    async with ogc.pool.connection() as conn:
        covered = await fetch(conn, coverage(list(views.values())))
        owners = await fetch(conn, departments(sorted({m.owner for m in metas.values()})))
    made = [
        dcat.Entry(m, description(m, views[name].internal), covered.get(name), owners.get(m.owner))
        for name, m in metas.items()
    ]
    _CACHE[ogc] = _Cached(time.monotonic(), made)
    return made


def _base(request: Request) -> str:
    ogc: OgcService = request.app.state.ogc
    return ogc.settings.server.base_url


async def catalogue_jsonld(request: Request) -> Response:
    ogc: OgcService = request.app.state.ogc
    doc = dcat.catalogue(_base(request), ogc.settings.ogc.title, await entries(ogc))
    return Response(json.dumps(doc, ensure_ascii=False), media_type=JSONLD,
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


async def page(request: Request) -> Response:
    ogc: OgcService = request.app.state.ogc
    base = _base(request)
    body = _PAGES.get_template("index.html").render(
        base=base, entries=await entries(ogc), formats=dcat.FORMATS,
        frequency=FREQUENCY_LABELS, download_url=dcat.download_url,
    )  # fmt: skip
    return html.secure(HTMLResponse(body, headers={"Cache-Control": "public, max-age=300"}))


@ogc_errors
async def dataset_file(request: Request) -> Response:
    """``/open/datasets/{name}.{ext}``: the dataset as a file; ``/open/datasets/{name}``: its
    entry on the page."""
    file = str(request.path_params["file"])
    name, dot, extension = file.rpartition(".")
    if not dot:
        meta = meta_of(file)
        return RedirectResponse(f"{_base(request)}/open#{meta.name}", status_code=303)
    formats = {f.extension: f for f in dcat.FORMATS}
    if extension not in formats:
        raise NotFound(f"no file {file!r}: a dataset is downloadable as "
                       f"{', '.join(formats)}.")  # fmt: skip
    return await downloads.collection_download(request, name, extension)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return exception(404, "NotFound", f"no resource at {request.url.path}.")
    return exception(exc.status_code, "NoApplicableCode", str(exc.detail))


def open_app(ogc: OgcService) -> Starlette:
    """The /open sub-application (the principal comes from the scope)."""
    app = Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/catalog.jsonld", catalogue_jsonld, methods=["GET"]),
            Route("/datasets/{file}", guarded(dataset_file, reads_db=True), methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(UsageMiddleware, ogc=ogc)],
    )
    app.state.ogc = ogc
    return app
